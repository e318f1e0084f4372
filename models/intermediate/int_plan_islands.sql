/* Coverage islands per (company_ein, plan_type): current plans stitched in start order; a plan
   joins the current island when start_date <= island_end + 1 day (overlapping or adjacent), and
   an open-ended plan makes the island open-ended (SPEC §3 fct_plan_gaps). */
MODEL (
  name intermediate.int_plan_islands,
  kind FULL,
  signals (
    delivery_ready(source := 'plans')
  ),
  grain (company_ein, plan_type, island_number),
  audits (
    unique_combination_of_columns(columns := (company_ein, plan_type, island_number)),
    not_null(columns := (company_ein, plan_type, island_number, island_start))
  )
);

WITH int_plans_current AS (
  SELECT
    p.plan_id,
    p.company_ein,
    p.plan_type,
    p.carrier_name,
    p.start_date,
    p.end_date,
    COALESCE(p.end_date, '9999-12-31'::DATE) AS end_key /* open end sorts as the latest end */
  FROM intermediate.int_plans_current AS p
), reach_measured AS (
  SELECT
    p.*,
    MAX(p.end_key) OVER (
      PARTITION BY p.company_ein, p.plan_type
      ORDER BY p.start_date, p.end_key, p.plan_id
      ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
    ) AS reach_before /* furthest end of the plans sorted before this one */
  FROM int_plans_current AS p
), islands_numbered AS (
  SELECT
    r.*,
    SUM(
      CASE
        WHEN r.reach_before IS NULL OR DATE_DIFF('DAY', r.reach_before, r.start_date) > 1
        THEN 1
        ELSE 0
      END
    ) OVER (
      PARTITION BY r.company_ein, r.plan_type
      ORDER BY r.start_date, r.end_key, r.plan_id
      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    ) AS island_number
  FROM reach_measured AS r
), edge_plans_ranked AS (
  SELECT
    i.*,
    ROW_NUMBER() OVER (
      PARTITION BY i.company_ein, i.plan_type, i.island_number
      ORDER BY i.start_date, i.end_key DESC, i.carrier_name
    ) AS first_rank, /* earliest start; ties: latest end, then carrier name (NULLs last: DuckDB's default) */
    ROW_NUMBER() OVER (
      PARTITION BY i.company_ein, i.plan_type, i.island_number
      ORDER BY i.end_key DESC, i.start_date DESC, i.carrier_name
    ) AS last_rank /* latest end; ties: latest start, then carrier name (NULLs last) */
  FROM islands_numbered AS i
)
SELECT
  e.company_ein::TEXT AS company_ein,
  e.plan_type::TEXT AS plan_type,
  MAX(CASE WHEN e.first_rank = 1 THEN e.carrier_name END)::TEXT AS first_carrier_name,
  MAX(CASE WHEN e.last_rank = 1 THEN e.carrier_name END)::TEXT AS last_carrier_name,
  e.island_number::BIGINT AS island_number, /* 1, 2, ... in start order */
  COUNT(*)::BIGINT AS plan_count,
  MIN(e.start_date)::DATE AS island_start,
  NULLIF(MAX(e.end_key), '9999-12-31'::DATE)::DATE AS island_end /* NULL = open-ended */
FROM edge_plans_ranked AS e
GROUP BY
  e.company_ein,
  e.plan_type,
  e.island_number
