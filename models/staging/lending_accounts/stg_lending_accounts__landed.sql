/* Raw records of the current landing/lending/accounts.csv, all VARCHAR (SPEC §5, §1);
   _delivery_date is the day the run read it. EMBEDDED: inlined into its consumer, so the file is
   read once per build and unit tests can feed it rows. */
MODEL (
  name staging.stg_lending_accounts__landed,
  kind EMBEDDED,
  tags (
    lending
  )
);

SELECT
  l._source_file,
  l._delivery_date,
  l._row_number,
  l.account_id,
  l.customer_id,
  l.balance,
  l.account_type
FROM @snapshot_rows('lending_accounts', @execution_ds) AS l
