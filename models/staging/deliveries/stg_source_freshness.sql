/* The newest delivery file of each source in the landing root, read at every daily run, with
   the freshness thresholds in force (BENEFITS_FRESHNESS_HOURS[_<SOURCE>], default 12:24 hours).
   No signal and no parent: it runs every day even when no file arrives, which is exactly when
   its freshness audits must speak. Age = execution time - end of the newest delivery day.
   source_freshness is attached once, at the warn level: it lists every stale source, each row
   with its level (warn or error); a second attachment at level 'error' repeated the same sources
   in a second, identically worded warning ('source_freshness' audit error: N rows failed). */
MODEL (
  name staging.stg_source_freshness,
  kind FULL,
  grain (
    source
  ),
  audits (
    unique_values(columns := (
      source
    )),
    not_null(columns := (source, warn_after_hours, error_after_hours)),
    accepted_values("column" := source, is_in := ('employees', 'plans', 'claims')),
    source_freshness(level := 'warn')
  )
);

SELECT
  f.source::TEXT AS source, /* employees | plans | claims */
  f.newest_delivery_date::DATE AS newest_delivery_date, /* NULL: the source has no file yet */
  f.newest_file::TEXT AS newest_file,
  f.warn_after_hours::INT AS warn_after_hours,
  f.error_after_hours::INT AS error_after_hours
FROM @landing_freshness() AS f
