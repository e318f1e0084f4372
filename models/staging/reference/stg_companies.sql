/* The company reference file (reference/company_lookup.json), one row per company object.
   FULL: a small file re-read on every run, so an updated lookup applies at once. */
MODEL (
  name staging.stg_companies,
  kind FULL,
  grain (
    company_ein
  ),
  audits (
    not_null(columns := (
      company_ein
    )),
    unique_values(columns := (
      company_ein
    ))
  )
);

SELECT
  @parse_ein(c.ein)::TEXT AS company_ein, /* canonical NN-NNNNNNN */
  @normalize_text(c.company_name)::TEXT AS company_name,
  @normalize_text(c.industry)::TEXT AS industry,
  UPPER(@normalize_text(c.state))::TEXT AS state,
  c.ein::TEXT AS raw_ein, /* as written in the file */
  c.expected_headcount::BIGINT AS expected_headcount, /* NULL = no expectation */
  c.lookup_position::BIGINT AS lookup_position /* 1-based position in the file */
FROM @company_lookup() AS c
