/* Rejected plans records with their raw values, source file, row number and reason. */
MODEL (
  name staging.stg_plans__quarantine,
  kind VIEW,
  grain (_source_file, _row_number)
);

SELECT
  q.raw_plan_id AS plan_id,
  q.raw_company_ein AS company_ein,
  q.raw_plan_type AS plan_type,
  q.raw_carrier_name AS carrier_name,
  q.raw_start_date AS start_date,
  q.raw_end_date AS end_date,
  q._reject_reason,
  q._source_file,
  q._delivery_date,
  q._row_number,
  q._loaded_at
FROM staging.stg_plans__classified AS q
WHERE
  q._row_status = 'quarantined'
