/* Staged plan records: one row per valid plan record per delivery (SPEC §2 plans). The same
   plan_id in a later delivery replaces the earlier version (resolved in intermediate). */
MODEL (
  name staging.stg_plans,
  kind INCREMENTAL_BY_TIME_RANGE (
    time_column _delivery_date
  ),
  signals (
    delivery_ready(source := 'plans')
  ),
  grain (plan_id, _delivery_date),
  audits (
    unique_combination_of_columns(columns := (plan_id, _delivery_date)),
    not_null(columns := (plan_id, company_ein, plan_type, start_date)),
    accepted_values("column" := plan_type, is_in := ('medical', 'dental', 'vision'))
  )
);

SELECT
  p.plan_id,
  p.company_ein,
  p.plan_type,
  p.carrier_name,
  p.start_date,
  p.end_date,
  p._source_file,
  p._delivery_date,
  p._row_number,
  p._loaded_at
FROM staging.stg_plans__classified AS p
WHERE
  p._row_status = 'staged' AND p._delivery_date BETWEEN @start_date AND @end_date
