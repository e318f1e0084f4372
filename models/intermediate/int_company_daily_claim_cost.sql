/* DEPRECATED compatibility view (DESIGN.md, Safe change): claim cost per company and service
   day, now the per-claim-type rows of intermediate.int_company_daily_claim_cost_v2 summed over
   claim_type (same columns, grain and content as the FULL table it replaces). Kept under the old
   name for the grace period; delete this file on or after the removal date. */
MODEL (
  name intermediate.int_company_daily_claim_cost,
  kind VIEW,
  tags (
    deprecated
  ),
  grain (company_ein, service_date),
  audits (
    unique_combination_of_columns(columns := (company_ein, service_date)),
    not_null(columns := (company_ein, service_date, claim_cost, claim_count)),
    metric_anomaly()
  ),
  description 'DEPRECATED (replaced_by: intermediate.int_company_daily_claim_cost_v2, removal_date: 2027-03-01): claim cost per company and service day; read intermediate.int_company_daily_claim_cost_v2 (grain company x day x claim_type) and sum over claim_type instead.'
);

SELECT
  v.company_ein::TEXT AS company_ein,
  SUM(v.claim_cost)::DECIMAL(18, 2) AS claim_cost,
  SUM(v.claim_count)::BIGINT AS claim_count,
  v.service_date::DATE AS service_date
FROM intermediate.int_company_daily_claim_cost_v2 AS v
GROUP BY
  v.company_ein,
  v.service_date
