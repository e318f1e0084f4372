/* Claim cost per company and service day over the current version of every valid claim.
   FULL: at most companies x days rows, recomputed so corrections and late claims always apply. */
MODEL (
  name intermediate.int_company_daily_claim_cost,
  kind FULL,
  signals (delivery_ready(source := 'claims')),
  grain (company_ein, service_date),
  audits (
    unique_combination_of_columns(columns := (company_ein, service_date)),
    not_null(columns := (company_ein, service_date, claim_cost, claim_count))
  )
);

SELECT
  c.company_ein::TEXT AS company_ein,
  SUM(c.amount)::DECIMAL(18, 2) AS claim_cost,
  COUNT(*)::BIGINT AS claim_count,
  c.service_date::DATE AS service_date
FROM intermediate.int_claims_current AS c
GROUP BY
  c.company_ein,
  c.service_date
