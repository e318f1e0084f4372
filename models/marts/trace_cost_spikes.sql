/* Explains marts.fct_claims_cost_spikes (issue 21): for every spike row, the current version of
   every valid claim of the company in either 90-day window, with the delivery line it comes from.
   The amounts of each window re-add exactly to the spike's current_90d_cost / prior_90d_cost.
   `benefits-mesh trace fct_claims_cost_spikes --key company_ein=… --key window_end=…` filters this
   view by the keys and by service_date (the 180 days of the windows), so zone maps on
   int_claims_current.service_date skip most of the claims history. A VIEW: no copy, always in
   step with the mart. */
MODEL (
  name marts.trace_cost_spikes,
  kind VIEW,
  grain (company_ein, window_end, source_file, row_number),
  description 'One row per (spike row of marts.fct_claims_cost_spikes, claim in one of its two 90-day windows): the current version of the claim (latest delivery; an exact duplicate traces to the copy kept) and the delivery file line it comes from. Sum of amount per window = current_90d_cost / prior_90d_cost of the spike row.',
  column_descriptions (
    company_ein = 'Company EIN of the spike row (key of marts.fct_claims_cost_spikes)',
    window_end = 'Last day of the spike row''s current window (key of marts.fct_claims_cost_spikes)',
    "window" = 'current: service_date in [window_end - 89, window_end]; prior: in [window_end - 179, window_end - 90]',
    claim_id = 'Claim identifier',
    service_date = 'Date of service of the current version',
    amount = 'Claim amount of the current version, DECIMAL(18,2)',
    person_id = 'Person the claim is for, as delivered',
    claim_type = 'medical | dental | vision | pharmacy',
    delivery_date = 'Delivery date of the current version',
    source_file = 'Delivery file of the current version (landing/claims/<source_file>)',
    row_number = 'Data record of that line in source_file, 1-based, header excluded',
    current_90d_cost = 'The spike row''s current_90d_cost (sum of amount over window = current)',
    prior_90d_cost = 'The spike row''s prior_90d_cost (sum of amount over window = prior)'
  )
);

SELECT
  s.company_ein,
  s.window_end,
  CASE
    WHEN c.service_date >= CAST(s.window_end - INTERVAL '89' DAY AS DATE)
    THEN 'current'
    ELSE 'prior'
  END AS "window",
  c.claim_id,
  c.service_date,
  c.amount,
  c.person_id,
  c.claim_type,
  c.delivery_date,
  c.source_file,
  c.source_row_number AS row_number,
  s.current_90d_cost,
  s.prior_90d_cost
FROM marts.fct_claims_cost_spikes AS s
JOIN intermediate.int_claims_current AS c
  ON c.company_ein = s.company_ein
  AND c.service_date BETWEEN CAST(s.window_end - INTERVAL '179' DAY AS DATE) AND s.window_end
