/* Rejected claims records with their raw values, source file, row number and reason. */
MODEL (
  name staging.stg_claims__quarantine,
  kind VIEW,
  grain (_source_file, _row_number)
);

SELECT
  q.raw_claim_id AS claim_id,
  q.raw_person_id AS person_id,
  q.raw_company_ein AS company_ein,
  q.raw_claim_type AS claim_type,
  q.raw_service_date AS service_date,
  q.raw_amount AS amount,
  q._reject_reason,
  q._source_file,
  q._delivery_date,
  q._row_number,
  q._loaded_at
FROM staging.stg_claims__classified AS q
WHERE
  q._row_status = 'quarantined'
