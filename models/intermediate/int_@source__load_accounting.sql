/* Load accounting of one daily source (a blueprint: intermediate.int_employees__load_accounting,
   int_plans__load_accounting, int_claims__load_accounting), one row per delivery file proving that
   no raw row is lost (SPEC §2, §3). Incremental per source with that source's signal, so a late
   file is counted when it is loaded; marts.fct_load_accounting is the union of every source's.
   The query (files x outcome counts, one-to-one on source_file) is @load_accounting,
   macros/accounting.py, shared with the lending snapshots (int_@lending__load_accounting.sql). */
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

@load_accounting(@source, @start_date, @end_date)
