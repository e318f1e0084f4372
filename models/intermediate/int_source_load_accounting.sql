/* Load accounting of one source (a blueprint: intermediate.int_employees__load_accounting,
   int_plans__load_accounting, int_claims__load_accounting), one row per delivery file proving that
   no raw row is lost (SPEC §2, §3). Incremental per source with that source's signal, so a late
   file is counted when it is loaded; marts.fct_load_accounting is the union of the three. */
MODEL (
  name intermediate.int_@{source}__load_accounting,
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
  grain (
    source_file
  ),
  audits (
    unique_values(columns := (
      source_file
    )),
    not_null(columns := (source, source_file, delivery_date, raw_rows)),
    load_conservation(),
    volume_anomaly(history := staging.stg_@{source}__files),
    duplicate_delivery(history := staging.stg_@{source}__files)
  )
);

WITH delivery_files AS (
  SELECT
    f.source,
    f.source_file,
    f.delivery_date,
    f.raw_rows
  FROM staging.stg_@{source}__files AS f
  WHERE
    f.delivery_date BETWEEN @start_date AND @end_date
), classified_rows AS (
  SELECT
    @source AS source,
    c._source_file AS source_file,
    c._delivery_date AS delivery_date,
    c._row_status AS row_status,
    c._reject_reason AS reject_reason
  FROM staging.stg_@{source}__classified AS c
  WHERE
    c._delivery_date BETWEEN @start_date AND @end_date
), counted_rows AS (
  SELECT
    r.source,
    r.source_file,
    r.delivery_date,
    COUNT(*) AS classified_rows,
    SUM(CASE WHEN r.row_status = 'staged' THEN 1 ELSE 0 END) AS staged_rows,
    SUM(CASE WHEN r.row_status = 'duplicate' THEN 1 ELSE 0 END) AS duplicate_rows,
    SUM(CASE WHEN r.row_status = 'quarantined' THEN 1 ELSE 0 END) AS quarantined_rows,
    @reason_counts(r.reject_reason)
  FROM classified_rows AS r
  GROUP BY
    r.source,
    r.source_file,
    r.delivery_date
)
/* Files x counts: one-to-one on source_file. raw_rows comes from the file scan in
   stg_<source>__files, the outcomes from the classified rows, so the identity audit compares two
   independent counts. A header-only file has no classified rows (zeros). */
SELECT
  COALESCE(f.source, c.source)::TEXT AS source,
  COALESCE(f.source_file, c.source_file)::TEXT AS source_file,
  COALESCE(f.delivery_date, c.delivery_date)::DATE AS delivery_date,
  COALESCE(f.raw_rows, c.classified_rows, 0)::BIGINT AS raw_rows,
  COALESCE(c.staged_rows, 0)::BIGINT AS staged_rows,
  COALESCE(c.duplicate_rows, 0)::BIGINT AS duplicate_rows,
  COALESCE(c.quarantined_rows, 0)::BIGINT AS quarantined_rows,
  @reason_columns(c)
FROM delivery_files AS f
FULL OUTER JOIN counted_rows AS c
  ON f.source_file = c.source_file
