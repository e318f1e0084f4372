/* One row per processed day of one source (a blueprint: staging.stg_employees__delivery_days,
   staging.stg_plans__delivery_days, staging.stg_claims__delivery_days): whether the day had a
   delivery file when it was processed. A day is processed when its file lands or, without a file,
   once BENEFITS_FILE_WAIT_DAYS have passed (signal delivery_ready); a day recorded with
   has_file = FALSE whose file lands later is a file beyond the wait: `benefits-mesh late-files`
   lists them with the restatement command that loads them. */
MODEL (
  name staging.stg_@{source}__delivery_days,
  blueprints ((
      source := 'employees'
    ), (
      source := 'plans'
    ), (
      source := 'claims'
  )),
  kind INCREMENTAL_BY_TIME_RANGE (
    time_column delivery_date
  ),
  signals (
    delivery_ready(source := @source)
  ),
  tags (
    landing
  ),
  grain (
    delivery_date
  ),
  audits (
    unique_values(columns := (
      delivery_date
    )),
    not_null(columns := (source, delivery_date, has_file))
  )
);

WITH days AS (
  @DATE_SPINE('day', @start_ds, @end_ds)
), files AS (
  SELECT
    f.delivery_date,
    f.source_file
  FROM staging.stg_@{source}__files AS f
  WHERE
    f.delivery_date BETWEEN @start_date AND @end_date
)
/* days x files: one-to-one (at most one file per source and day, by its name) */
SELECT
  @source::TEXT AS source,
  d.date_day::DATE AS delivery_date,
  (
    NOT f.source_file IS NULL
  )::BOOLEAN AS has_file,
  f.source_file::TEXT AS source_file,
  CURRENT_TIMESTAMP::TIMESTAMP AS _loaded_at
FROM days AS d
LEFT JOIN files AS f
  ON f.delivery_date = d.date_day
