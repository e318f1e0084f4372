/* Explains marts.fct_plan_gaps (issue 21): for every gap row, the current plans of the two
   coverage islands around it (side = before: the island ending the day before gap_start; after:
   the island starting the day after gap_end), with the delivery line of each plan's current
   version. A plan belongs to an island when its start_date lies in [island_start, island_end]
   (an open end: every later start): islands are disjoint and a plan never starts after it ends,
   so this is the stitching of intermediate.int_plan_islands without repeating it. The latest
   end_date of the before side + 1 day = gap_start, the earliest start_date of the after side
   - 1 day = gap_end. `benefits-mesh trace fct_plan_gaps --key company_ein=… --key plan_type=…
   --key gap_start=…` filters this view by the keys. A VIEW: no copy, always in step with the
   mart. */
MODEL (
  name marts.trace_plan_gaps,
  kind VIEW,
  grain (company_ein, plan_type, gap_start, plan_id),
  description 'One row per (gap row of marts.fct_plan_gaps, current plan of one of the two islands around the gap): the plan''s current version (latest delivery) and the delivery file line it comes from.',
  column_descriptions (
    company_ein = 'Company EIN of the gap row (key of marts.fct_plan_gaps)',
    plan_type = 'medical | dental | vision (key of marts.fct_plan_gaps)',
    gap_start = 'First day of the gap (key of marts.fct_plan_gaps)',
    gap_end = 'Last day of the gap (marts.fct_plan_gaps)',
    side = 'before: a plan of the island ending on gap_start - 1; after: of the island starting on gap_end + 1',
    island_start = 'First day of the plan''s island (earliest start_date of its plans)',
    island_end = 'Last day of the plan''s island (latest end_date of its plans); NULL = open-ended',
    island_plan_count = 'Number of plans in the plan''s island (intermediate.int_plan_islands.plan_count)',
    plan_id = 'Plan identifier',
    start_date = 'Start date of the current version',
    end_date = 'End date of the current version; NULL = open-ended',
    carrier_name = 'Canonical carrier of the current version; NULL when delivered empty',
    delivery_date = 'Delivery date of the current version',
    source_file = 'Delivery file of the current version (landing/plans/<source_file>)',
    row_number = 'Data record of that line in source_file, 1-based, header excluded'
  )
);

WITH gap_islands AS (
  /* gaps x islands: each gap row has exactly one island on either side (islands are disjoint,
     so island_end and island_start are unique per company and plan type) */
  SELECT
    g.company_ein,
    g.plan_type,
    g.gap_start,
    g.gap_end,
    CASE WHEN i.island_start > g.gap_end THEN 'after' ELSE 'before' END AS side,
    i.island_start,
    i.island_end,
    i.plan_count
  FROM marts.fct_plan_gaps AS g
  JOIN intermediate.int_plan_islands AS i
    ON i.company_ein = g.company_ein
    AND i.plan_type = g.plan_type
    AND (
      i.island_end = CAST(g.gap_start - INTERVAL '1' DAY AS DATE)
      OR i.island_start = CAST(g.gap_end + INTERVAL '1' DAY AS DATE)
    )
)
SELECT
  s.company_ein::TEXT AS company_ein,
  s.plan_type::TEXT AS plan_type,
  s.gap_start::DATE AS gap_start,
  s.gap_end::DATE AS gap_end,
  s.side::TEXT AS side,
  s.island_start::DATE AS island_start,
  s.island_end::DATE AS island_end,
  s.plan_count::BIGINT AS island_plan_count,
  p.plan_id::TEXT AS plan_id,
  p.start_date::DATE AS start_date,
  p.end_date::DATE AS end_date,
  p.carrier_name::TEXT AS carrier_name,
  p.delivery_date::DATE AS delivery_date,
  p.source_file::TEXT AS source_file,
  p.source_row_number::BIGINT AS row_number
FROM gap_islands AS s
JOIN intermediate.int_plans_current AS p
  ON p.company_ein = s.company_ein
  AND p.plan_type = s.plan_type
  AND p.start_date >= s.island_start
  AND (
    s.island_end IS NULL OR p.start_date <= s.island_end
  )
