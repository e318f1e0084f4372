/* The current version of every valid claim: the staged row of the latest delivery per claim_id
   (a correction replaces every column; a rejected re-send never replaces it).
   INCREMENTAL_BY_UNIQUE_KEY: each batch re-picks, from all staged history, the latest version of
   every claim delivered in the batch, so the result does not depend on the order batches run. */
MODEL (
  name intermediate.int_claims_current,
  kind INCREMENTAL_BY_UNIQUE_KEY (
    unique_key claim_id
  ),
  signals (delivery_ready(source := 'claims')),
  grain (claim_id),
  audits (
    unique_values(columns := (claim_id)),
    not_null(columns := (claim_id, company_ein, claim_type, service_date, amount, delivery_date)),
    no_future_dates(column := service_date),
    join_cardinality(relation := 'filtering', key := claim_id, driving_model := staging.stg_claims, driving_key := claim_id)
  )
);

WITH stg_claims AS (
  SELECT
    s.claim_id,
    s.person_id,
    s.company_ein,
    s.claim_type,
    s.amount,
    s.service_date,
    s._source_file,
    s._delivery_date
  FROM staging.stg_claims AS s
), batch_claims AS (
  SELECT DISTINCT
    b.claim_id
  FROM staging.stg_claims AS b
  WHERE
    b._delivery_date BETWEEN @start_date AND @end_date
)
SELECT
  s.claim_id::TEXT AS claim_id,
  s.person_id::TEXT AS person_id,
  s.company_ein::TEXT AS company_ein,
  s.claim_type::TEXT AS claim_type,
  s.amount::DECIMAL(18, 2) AS amount,
  s.service_date::DATE AS service_date,
  s._delivery_date::DATE AS delivery_date, /* delivery of the current version */
  s._source_file::TEXT AS source_file
FROM stg_claims AS s
WHERE
  s.claim_id IN (
    SELECT
      b.claim_id
    FROM batch_claims AS b
  )
QUALIFY
  ROW_NUMBER() OVER (PARTITION BY s.claim_id ORDER BY s._delivery_date DESC) = 1
