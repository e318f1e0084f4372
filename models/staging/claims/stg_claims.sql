/* Staged claims: one row per valid claim record per delivery (SPEC §2 claims). A claim_id
   re-sent in a later delivery is a correction; the latest delivery wins downstream. */
MODEL (
  name staging.stg_claims,
  kind INCREMENTAL_BY_TIME_RANGE (
    time_column _delivery_date
  ),
  signals (
    delivery_ready(source := 'claims')
  ),
  grain (claim_id, _delivery_date),
  audits (
    unique_combination_of_columns(columns := (claim_id, _delivery_date)),
    not_null(columns := (claim_id, company_ein, claim_type, service_date, amount)),
    accepted_values("column" := claim_type, is_in := ('medical', 'dental', 'vision', 'pharmacy')),
    accepted_range("column" := amount, min_v := 0, max_v := 1000000),
    no_future_dates("column" := service_date)
  )
);

SELECT
  c.claim_id,
  c.person_id,
  c.company_ein,
  c.claim_type,
  c.amount,
  c.service_date,
  c._source_file,
  c._delivery_date,
  c._row_number,
  c._loaded_at
FROM staging.stg_claims__classified AS c
WHERE
  c._row_status = 'staged' AND c._delivery_date BETWEEN @start_date AND @end_date
