/* Rejected employees records with their raw values, source file, row number and reason. */
MODEL (
  name staging.stg_employees__quarantine,
  kind VIEW,
  grain (_source_file, _row_number)
);

SELECT
  q.raw_person_id AS person_id,
  q.raw_full_name AS full_name,
  q.raw_email AS email,
  q.raw_title AS title,
  q.raw_company_ein AS company_ein,
  q.raw_start_date AS start_date,
  q.raw_notes AS notes,
  q._reject_reason,
  q._source_file,
  q._delivery_date,
  q._row_number,
  q._loaded_at
FROM staging.stg_employees__classified AS q
WHERE
  q._row_status = 'quarantined'
