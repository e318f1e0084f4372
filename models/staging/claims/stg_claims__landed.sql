/* Raw claims records of the interval's delivery files, all VARCHAR (SPEC §1). EMBEDDED: inlined
   into its consumer, so the files are read once per run and unit tests can feed it rows. */
MODEL (
  name staging.stg_claims__landed,
  kind EMBEDDED
);

SELECT
  l._source_file,
  l._delivery_date,
  l._row_number,
  l.claim_id,
  l.person_id,
  l.company_ein,
  l.claim_type,
  l.service_date,
  l.amount
FROM @landing_rows('claims', @start_ds, @end_ds) AS l
