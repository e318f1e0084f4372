/* The current version of every valid plan: the staged row of the latest delivery per plan_id
   (a later rejected re-send never replaces it), with the carrier name normalised.
   source_file and source_row_number locate the current version's line in its delivery file (the
   staged copy: for exact duplicates the first, which the classifier keeps), so
   marts.trace_plan_gaps needs no join back to the staged history. */
MODEL (
  name intermediate.int_plans_current,
  kind FULL,
  signals (
    delivery_ready(source := 'plans')
  ),
  depends_on (
    staging.stg_companies
  ), /* for the referential audit (plans -> known companies);
    the lookup has no signal, so this adds no pending days */
  grain (
    plan_id
  ),
  audits (
    unique_values(columns := (
      plan_id
    )),
    not_null(columns := (plan_id, company_ein, plan_type, start_date)),
    accepted_values("column" := plan_type, is_in := ('medical', 'dental', 'vision')),
    join_cardinality(
      relation := 'one_to_one',
      key := plan_id,
      driving_model := staging.stg_plans,
      driving_key := plan_id
    ),
    no_future_dates("column" := start_date, blocking := FALSE),
    known_reference(
      "column" := company_ein,
      reference_model := staging.stg_companies,
      reference_column := company_ein
    )
  )
);

WITH stg_plans AS (
  SELECT
    p.plan_id,
    p.company_ein,
    p.plan_type,
    p.carrier_name,
    p.start_date,
    p.end_date,
    p._source_file,
    p._row_number,
    p._delivery_date
  FROM staging.stg_plans AS p
), int_carrier_names AS (
  SELECT
    c.delivered_carrier_name,
    c.carrier_name
  FROM intermediate.int_carrier_names AS c
), latest_versions AS (
  SELECT
    p.*
  FROM stg_plans AS p
  QUALIFY
    ROW_NUMBER() OVER (PARTITION BY p.plan_id ORDER BY p._delivery_date DESC) = 1
)
/* Plans x carrier names: many-to-one on the delivered name (unique in int_carrier_names). */
SELECT
  l.plan_id::TEXT AS plan_id,
  l.company_ein::TEXT AS company_ein,
  l.plan_type::TEXT AS plan_type,
  c.carrier_name::TEXT AS carrier_name, /* canonical carrier; NULL when delivered NULL */
  l.carrier_name::TEXT AS delivered_carrier_name,
  l.start_date::DATE AS start_date,
  l.end_date::DATE AS end_date, /* NULL = open-ended */
  l._delivery_date::DATE AS delivery_date, /* delivery of the current version */
  l._source_file::TEXT AS source_file,
  l._row_number::BIGINT AS source_row_number /* its data record in source_file (1-based): marts.trace_plan_gaps */
FROM latest_versions AS l
LEFT JOIN int_carrier_names AS c
  ON c.delivered_carrier_name = l.carrier_name
