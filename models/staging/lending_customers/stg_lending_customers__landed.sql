/* Raw records of the current landing/lending/customers.csv, all VARCHAR (SPEC §5, §1);
   _delivery_date is the day the run read it. EMBEDDED: inlined into its consumer, so the file is
   read once per build and unit tests can feed it rows. */
MODEL (
  name staging.stg_lending_customers__landed,
  kind EMBEDDED,
  tags (
    lending
  )
);

SELECT
  l._source_file,
  l._delivery_date,
  l._row_number,
  l.customer_id,
  l.name,
  l.has_loan
FROM @snapshot_rows('lending_customers', @execution_ds) AS l
