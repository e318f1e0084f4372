/* No date after the run's execution date (issue 6). Generic: takes the column (and an optional row `condition`).
   Returns the offending rows; blocking unless attached with blocking := false. */
AUDIT (
  name no_future_dates,
  defaults (condition = TRUE)
);

SELECT
  *
FROM @this_model
WHERE
  @column > CAST(@execution_ds AS DATE) AND @condition
