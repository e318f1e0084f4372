/* No date after the run's execution date (issue 6). Generic: takes the column.
   Returns the offending rows; blocking unless attached with blocking := false. */
AUDIT (
  name no_future_dates
);

SELECT
  *
FROM @this_model
WHERE
  @column > CAST(@execution_ds AS DATE)
