/* One row per delivery file of one source (a blueprint: staging.stg_employees__files,
   staging.stg_plans__files, staging.stg_claims__files): its data-record count from a scan of its
   own (the raw side of the load accounting identity) and the extra, ignored header columns.
   Per source, so each source's days wait for that source's own late files (signal). */
MODEL (
  name staging.stg_@{source}__files,
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
    source_file
  ),
  audits (
    unique_values(columns := (
      source_file
    )),
    not_null(columns := (source, source_file, delivery_date, raw_rows)),
    no_future_dates("column" := delivery_date)
  )
);

SELECT
  f.source::TEXT AS source, /* employees | plans | claims */
  f.source_file::TEXT AS source_file, /* file name */
  f.extra_columns::TEXT AS extra_columns, /* header columns outside the contract, ignored */
  f.raw_rows::BIGINT AS raw_rows, /* data records (header and empty lines excluded) */
  f.file_size_bytes::BIGINT AS file_size_bytes, /* size when loaded */
  f.file_mtime_ns::BIGINT AS file_mtime_ns, /* modification time when loaded (ns since 1970):
     with the size, how a later change of the file is noticed (benefits_mesh/inventory.py) */
  f.content_digest::TEXT AS content_digest, /* BLAKE2b of the bytes: a file delivered twice */
  f.delivery_date::DATE AS delivery_date, /* date in the file name */
  CURRENT_TIMESTAMP::TIMESTAMP AS _loaded_at
FROM @landing_files(@start_ds, @end_ds, @source) AS f
