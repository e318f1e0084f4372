AUDIT (
  name unique_written_keys
);

/* Uniqueness of a merge key where a batch can break it (issue 6): every key written by the
   audited interval (rows whose @time_column lies in it) occurs exactly once in the whole table.
   For a table maintained by key (INCREMENTAL_BY_UNIQUE_KEY) this is the guarantee of
   unique_values at the cost of the batch: unique_values sorts the whole history every run.
   Returns each repeated key with its number of rows. */
WITH written AS (
  SELECT DISTINCT
    @key AS written_key
  FROM @this_model
  WHERE
    @time_column BETWEEN @start_date AND @end_date
), counted AS (
  SELECT
    @key AS repeated_key,
    COUNT(*) AS copies
  FROM @this_model
  WHERE
    @key IN (
      SELECT
        written_key
      FROM written
    )
  GROUP BY
    @key
)
SELECT
  repeated_key,
  copies
FROM counted
WHERE
  copies > 1
