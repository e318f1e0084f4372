AUDIT (
  name join_cardinality,
  defaults (relation = 'many_to_one', condition = TRUE, driving_condition = TRUE)
);

/* Join cardinality / fan-out guard (issue 6): a model built by joining lookups onto a driving
   input must have exactly one output row per driving key.
     relation := 'one_to_one'   output rows = distinct driving keys, and no output key repeats
     relation := 'many_to_one'  output rows = distinct driving keys (lookups never fan out)
     relation := 'filtering'    output rows <= distinct driving keys (rows may be dropped)
   Parameters: driving_model (a model name), driving_key / key (a column or a tuple of columns:
   the same business key on both sides), condition / driving_condition (default TRUE: rows of
   the audited / driving model to count, e.g. the batch's rows of an incremental model).
   Returns one row with both counts when the relation does not hold.
   The model named in a parameter must be a parent of the audited model. */
WITH output_rows AS (
  /* distinct output keys only where the relation reads them (one_to_one); otherwise a NULL typed
     BIGINT, since PostgreSQL type-checks the comparison below even where it is not taken */
  SELECT
    COUNT(*) AS output_rows,
    @IF(@relation = 'one_to_one', COUNT(DISTINCT @key), NULL::BIGINT) AS output_keys
  FROM @this_model
  WHERE
    @condition
), driving_keys AS (
  SELECT
    COUNT(DISTINCT @driving_key) AS driving_keys
  FROM @driving_model
  WHERE
    @driving_condition
)
SELECT
  @relation AS relation,
  o.output_rows,
  o.output_keys,
  d.driving_keys
FROM output_rows AS o
CROSS JOIN driving_keys AS d
WHERE
  CASE
    WHEN @relation = 'one_to_one'
    THEN o.output_rows <> d.driving_keys OR o.output_keys <> o.output_rows
    WHEN @relation = 'many_to_one'
    THEN o.output_rows <> d.driving_keys
    ELSE o.output_rows > d.driving_keys
  END
