AUDIT (
  name source_freshness,
  defaults (
    level = 'warn'
  ),
  blocking FALSE
);

/* Freshness (issue 6): sources whose newest delivery is older than the threshold of @level
   ('warn' or 'error' -> warn_after_hours / error_after_hours of staging.stg_source_freshness),
   measured from the end of the newest delivery day to the run's execution time. Non-blocking
   at both levels: a late feed must not stop the other sources' loads (see DESIGN.md).
   stg_source_freshness attaches it once, at level 'warn' (every stale source, one row each
   with its own level), so a source past both thresholds is not warned about twice;
   `benefits-mesh freshness` turns the same figures into exit codes 0/1/2 for schedulers. */
SELECT
  f.source,
  f.newest_file,
  CASE
    WHEN f.newest_delivery_date IS NULL
    OR DATE_DIFF(
      'HOUR',
      f.newest_delivery_date::TIMESTAMP + INTERVAL '1' DAY,
      @execution_ts::TIMESTAMP
    ) > f.error_after_hours
    THEN 'error'
    ELSE 'warn'
  END AS level, /* this source's level, whatever the @level asked (one audit reports both) */
  DATE_DIFF(
    'HOUR',
    f.newest_delivery_date::TIMESTAMP + INTERVAL '1' DAY,
    @execution_ts::TIMESTAMP
  ) AS age_hours,
  CASE WHEN @level = 'error' THEN f.error_after_hours ELSE f.warn_after_hours END AS threshold_hours
FROM @this_model AS f
WHERE
  f.newest_delivery_date IS NULL
  OR DATE_DIFF(
    'HOUR',
    f.newest_delivery_date::TIMESTAMP + INTERVAL '1' DAY,
    @execution_ts::TIMESTAMP
  ) > CASE WHEN @level = 'error' THEN f.error_after_hours ELSE f.warn_after_hours END
