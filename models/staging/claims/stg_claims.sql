/* Staged claims: one row per valid claim record per delivery (SPEC §2 claims). A claim_id
   re-sent in a later delivery is a correction; the latest delivery wins downstream.
   A VIEW over the classifier's staged rows, not a table: a table only re-copied them (1.1 s of a
   2 M-row day, DESIGN.md, Performance). Readers filter on _delivery_date, which zone maps apply
   to on the classified table (appended in delivery order). No audits here: over a view they
   would scan the whole history on every evaluation, and what they proved (a unique key per
   delivery, no NULL or unknown value, amounts in range, no future service date) holds by
   construction, rule by rule, in staging.stg_claims__classified (its YAML tests), and is
   guarded again where it matters downstream (intermediate.int_claims_current's audits). */
MODEL (
  name staging.stg_claims,
  kind VIEW,
  grain (claim_id, _delivery_date)
);

SELECT
  c.claim_id,
  c.person_id,
  c.company_ein,
  c.claim_type,
  c.amount,
  c.service_date,
  c._source_file,
  c._delivery_date,
  c._row_number,
  c._loaded_at
FROM staging.stg_claims__classified AS c
WHERE
  c._row_status = 'staged'
