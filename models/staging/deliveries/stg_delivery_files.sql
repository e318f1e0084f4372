/* Every delivery file of every source: the union of the per-source file tables. */
MODEL (
  name staging.stg_delivery_files,
  kind VIEW,
  grain (
    source_file
  ),
  audits (
    unique_values(columns := (
      source_file
    ))
  )
);

SELECT
  e.source,
  e.source_file,
  e.extra_columns,
  e.raw_rows,
  e.file_size_bytes,
  e.content_digest,
  e.delivery_date,
  e._loaded_at
FROM staging.stg_employees__files AS e
UNION ALL
SELECT
  p.source,
  p.source_file,
  p.extra_columns,
  p.raw_rows,
  p.file_size_bytes,
  p.content_digest,
  p.delivery_date,
  p._loaded_at
FROM staging.stg_plans__files AS p
UNION ALL
SELECT
  c.source,
  c.source_file,
  c.extra_columns,
  c.raw_rows,
  c.file_size_bytes,
  c.content_digest,
  c.delivery_date,
  c._loaded_at
FROM staging.stg_claims__files AS c
