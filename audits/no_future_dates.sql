AUDIT (
  name no_future_dates,
  defaults (
    condition = TRUE
  )
);

/* No date after the run's execution date (issue 6). Generic: takes the column (and an optional row `condition`).
   Returns the offending rows; blocking unless attached with blocking := false. */
SELECT
  *
FROM @this_model
WHERE
  @column > @execution_ds::DATE AND @condition
