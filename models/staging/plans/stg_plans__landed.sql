/* Raw plans records of the interval's delivery files, all VARCHAR (SPEC §1). EMBEDDED: inlined
   into its consumer, so the files are read once per run and unit tests can feed it rows. */
MODEL (
  name staging.stg_plans__landed,
  kind EMBEDDED
);

SELECT
  l._source_file,
  l._delivery_date,
  l._row_number,
  l.plan_id,
  l.company_ein,
  l.plan_type,
  l.carrier_name,
  l.start_date,
  l.end_date
FROM @landing_rows('plans', @start_ds, @end_ds) AS l
