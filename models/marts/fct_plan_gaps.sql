MODEL (
  name marts.fct_plan_gaps,
  kind FULL,
  signals (
    delivery_ready(source := 'plans')
  ),
  grain (company_ein, plan_type, gap_start),
  audits (
    unique_combination_of_columns(columns := (company_ein, plan_type, gap_start)),
    not_null(columns := (company_ein, plan_type, gap_start, gap_end, gap_length_days)),
    forall(criteria := (gap_length_days >= 1, gap_end >= gap_start))
  ),
  description 'Coverage gaps between consecutive plan islands per company and plan type (SPEC §3). No gap before the first island or after the last.',
  column_descriptions (
    company_ein = 'Company EIN (NN-NNNNNNN)',
    plan_type = 'medical | dental | vision',
    gap_start = 'Previous island end + 1 day',
    gap_end = 'Next island start - 1 day',
    gap_length_days = 'gap_end - gap_start + 1 (>= 1)',
    carrier_before = 'Carrier of the plan in the previous island with the latest end (ties: latest start, then carrier name ascending, NULL last)',
    carrier_after = 'Carrier of the plan in the next island with the earliest start (ties: latest end, then carrier name ascending, NULL last)'
  )
);

WITH int_plan_islands AS (
  SELECT
    i.company_ein,
    i.plan_type,
    i.island_number,
    i.island_start,
    i.island_end,
    i.first_carrier_name,
    i.last_carrier_name
  FROM intermediate.int_plan_islands AS i
), island_pairs AS (
  SELECT
    i.company_ein,
    i.plan_type,
    i.island_end AS previous_end,
    i.last_carrier_name AS carrier_before,
    LEAD(i.island_start) OVER (PARTITION BY i.company_ein, i.plan_type ORDER BY i.island_number) AS next_start,
    LEAD(i.first_carrier_name) OVER (PARTITION BY i.company_ein, i.plan_type ORDER BY i.island_number) AS carrier_after
  FROM int_plan_islands AS i
)
SELECT
  p.company_ein::TEXT AS company_ein,
  p.plan_type::TEXT AS plan_type,
  p.carrier_before::TEXT AS carrier_before,
  p.carrier_after::TEXT AS carrier_after,
  (
    DATE_DIFF('DAY', p.previous_end, p.next_start) - 1
  )::BIGINT AS gap_length_days,
  CAST(p.previous_end + INTERVAL '1' DAY AS DATE) AS gap_start,
  CAST(p.next_start - INTERVAL '1' DAY AS DATE) AS gap_end
FROM island_pairs AS p
WHERE
  NOT p.next_start IS NULL
