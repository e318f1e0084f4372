AUDIT (
  name rounded_half_away,
  defaults (
    condition = TRUE
  )
);

/* Exact rounding guard (issue 18): @column holds @exact rounded half away from zero to the unit
   2 x @half_unit (half_unit := 0.005 for cents). Stated without rounding: the stored value is
   within half a unit of the exact one, and on a tie it is the one farther from zero. Returns
   the rows where that fails, with the exact value. @exact must be an exact DECIMAL expression
   (cast wide enough: DuckDB types DECIMAL(18,2) x DECIMAL(6,4) as DECIMAL(18,6)); the column's
   DECIMAL scale keeps it on the unit grid. */
SELECT
  @exact AS exact_value,
  *
FROM @this_model
WHERE
  @condition
  AND (
    ABS(@exact - @column) > @half_unit
    OR (
      ABS(@exact - @column) = @half_unit AND ABS(@column) < ABS(@exact)
    )
  )
