AUDIT (
  name load_conservation
);

/* Conservation per delivery file (SPEC §2 "nothing is lost"): raw = staged + duplicates +
   quarantined, and every quarantined row is counted under exactly one reason. Returns the files
   where either identity fails. Use on a load accounting model. */
SELECT
  *
FROM @this_model
WHERE
  raw_rows <> staged_rows + duplicate_rows + quarantined_rows
  OR quarantined_rows <> @reason_sum()
