AUDIT (
  name duplicate_delivery,
  blocking FALSE
);

/* The same file delivered twice under two names (issue 6, non-blocking by default): a delivery
   of the interval whose bytes (content_digest) equal an earlier delivery of the same source
   (`history`: staging.stg_<source>__files). Its rows are loaded as re-sends (corrections that
   change nothing); the warning names both files. Header-only files are ignored.
   The model named in a parameter must be a parent of the audited model. */
SELECT
  t.source_file,
  e.source_file AS same_as_file,
  t.raw_rows,
  h.file_size_bytes
FROM @this_model AS t
JOIN @history AS h
  ON h.source_file = t.source_file
JOIN @history AS e
  ON e.content_digest = h.content_digest AND e.delivery_date < h.delivery_date
WHERE
  h.raw_rows > 0
