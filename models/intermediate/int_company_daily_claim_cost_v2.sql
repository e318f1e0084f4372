/* Claim cost per company, service day and claim type over the current version of every valid
   claim: the project's one company x day cost model (sum over claim_type for the company's daily
   total). It replaced intermediate.int_company_daily_claim_cost (grain company x day), a
   deprecated compatibility view over this model until its removal on 2026-12-06 (DESIGN.md,
   Retiring a model); the _v2 name stays, since a rename would be another deprecation walk.
   metric_anomaly moved here from the view: it sums claim_cost per company and day itself. FULL:
   at most companies x days x 4 types rows, recomputed so corrections and late claims always
   apply. */
MODEL (
  name intermediate.int_company_daily_claim_cost_v2,
  kind FULL,
  signals (
    delivery_ready(source := 'claims')
  ),
  grain (company_ein, service_date, claim_type),
  audits (
    unique_combination_of_columns(columns := (company_ein, service_date, claim_type)),
    not_null(columns := (company_ein, service_date, claim_type, claim_cost, claim_count)),
    metric_anomaly()
  )
);

SELECT
  c.company_ein::TEXT AS company_ein,
  c.claim_type::TEXT AS claim_type, /* medical | dental | vision | pharmacy */
  SUM(c.amount)::DECIMAL(18, 2) AS claim_cost,
  COUNT(*)::BIGINT AS claim_count,
  c.service_date::DATE AS service_date
FROM intermediate.int_claims_current AS c
GROUP BY
  c.company_ein,
  c.claim_type,
  c.service_date
