AUDIT (
  name known_reference,
  defaults (
    reference_condition = TRUE
  ),
  blocking FALSE
);

/* Referential check (issue 6, non-blocking by default): values of @column with no match in
   @reference_column of @reference_model, counted per value (NULLs are not checked).
   @reference_model must be a parent of the audited model (in its query or `depends_on`):
   SQLMesh resolves only parents to their physical tables. */
SELECT
  t.@column AS unknown_value,
  COUNT(*) AS rows_with_it
FROM @this_model AS t
WHERE
  NOT t.@column IS NULL
  AND NOT t.@column IN (
    SELECT
      r.@reference_column
    FROM @reference_model AS r
    WHERE
      NOT r.@reference_column IS NULL AND @reference_condition
  )
GROUP BY
  t.@column
