/* The current file of one lending snapshot (a blueprint: staging.stg_lending_customers__files,
   staging.stg_lending_accounts__files; SPEC §5): its data-record count from a scan of its own (the
   raw side of the load accounting), size, modification time and digest, and delivery_date = the
   day the run read it (a snapshot's name carries no date). No file: no row, and the build warns. */
MODEL (
  name staging.stg_@{lending}__files,
  blueprints ((
      lending := 'lending_customers'
    ), (
      lending := 'lending_accounts'
  )),
  kind FULL,
  tags (
    lending
  ),
  grain (
    source_file
  ),
  audits (
    unique_values(columns := (
      source_file
    )),
    not_null(columns := (source, source_file, delivery_date, raw_rows))
  )
);

SELECT
  f.source::TEXT AS source, /* lending_customers | lending_accounts */
  f.source_file::TEXT AS source_file, /* customers.csv | accounts.csv */
  f.extra_columns::TEXT AS extra_columns, /* header columns outside the contract, ignored */
  f.raw_rows::BIGINT AS raw_rows, /* data records (header and empty lines excluded) */
  f.file_size_bytes::BIGINT AS file_size_bytes, /* size when read */
  f.file_mtime_ns::BIGINT AS file_mtime_ns, /* modification time when read (ns since 1970) */
  f.content_digest::TEXT AS content_digest, /* BLAKE2b of the bytes */
  f.delivery_date::DATE AS delivery_date, /* the day the run read the snapshot */
  CURRENT_TIMESTAMP::TIMESTAMP AS _loaded_at
FROM @snapshot_files(@lending, @execution_ds) AS f
