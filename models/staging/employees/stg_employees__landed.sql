/* Raw employees records of the interval's delivery files, all VARCHAR (SPEC §1). EMBEDDED: inlined
   into its consumer, so the files are read once per run and unit tests can feed it rows. */
MODEL (
  name staging.stg_employees__landed,
  kind EMBEDDED
);

SELECT
  l._source_file,
  l._delivery_date,
  l._row_number,
  l.person_id,
  l.full_name,
  l.email,
  l.title,
  l.company_ein,
  l.start_date,
  l.notes
FROM @landing_rows('employees', @start_ds, @end_ds) AS l
