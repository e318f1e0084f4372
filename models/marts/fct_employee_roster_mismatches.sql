MODEL (
  name marts.fct_employee_roster_mismatches,
  kind VIEW,
  grain (
    company_ein
  ),
  audits (
    unique_values(columns := (
      company_ein
    )),
    not_null(
      columns := (company_ein, observed_headcount, mismatch_type, severity, enrichment_status)
    ),
    accepted_values(
      "column" := mismatch_type,
      is_in := (
        'unknown_company',
        'enrichment_unavailable',
        'no_expectation',
        'ok',
        'headcount_mismatch',
        'missing_roster'
      )
    ),
    accepted_values("column" := severity, is_in := ('none', 'low', 'medium', 'high', 'critical'))
  ),
  description 'Expected vs observed headcount per company as of date D (SPEC §3): one row per company in company_lookup.json or resolved on a current employee record. D is the latest employees delivery date, or BENEFITS_ROSTER_AS_OF (then only records delivered on or before D count).',
  column_descriptions (
    company_ein = 'Company EIN',
    expected_headcount = 'From the enrichment provider (company_lookup.json by default); NULL when it has none',
    observed_headcount = 'Distinct persons active on D (current state) resolved to the company',
    diff = 'observed - expected; NULL when expected is NULL',
    pct_diff = 'diff / expected x 100 rounded half away from zero to 4 decimals; NULL when expected is NULL or 0',
    mismatch_type = 'unknown_company | enrichment_unavailable | no_expectation | ok | headcount_mismatch | missing_roster',
    severity = 'none | low | medium | high | critical',
    as_of_date = 'D',
    enrichment_status = 'ok | stale | not_found | failed: the company enrichment status (SPEC §6)'
  )
);

WITH as_of AS (
  SELECT
    COALESCE(@VAR('roster_as_of')::DATE, MAX(f.delivery_date)) AS as_of_date
  FROM staging.stg_delivery_files AS f
  WHERE
    f.source = 'employees'
), current_records AS (
  /* The person's current state as of D: the latest version delivered on or before D. */
  SELECT
    v.person_id,
    v.company_ein,
    v.start_date,
    v.term_date,
    a.as_of_date
  FROM intermediate.int_employee_versions AS v
  CROSS JOIN as_of AS a
  WHERE
    v._delivery_date <= a.as_of_date
  QUALIFY
    @is_latest_version(v.person_id, v._delivery_date)
), observed AS (
  SELECT
    r.company_ein,
    COUNT(
      DISTINCT CASE WHEN @active_on(r.start_date, r.term_date, r.as_of_date) THEN r.person_id END
    ) AS observed_headcount
  FROM current_records AS r
  WHERE
    NOT r.company_ein IS NULL
  GROUP BY
    r.company_ein
), enrichment AS (
  /* every known company with its expected headcount and enrichment status (SPEC §6) */
  SELECT
    e.company_ein,
    e.is_in_lookup,
    e.expected_headcount,
    e.enrichment_status
  FROM intermediate.int_company_enrichment AS e
), companies AS (
  SELECT
    e.company_ein
  FROM enrichment AS e
  WHERE
    e.is_in_lookup
  UNION
  SELECT
    o.company_ein
  FROM observed AS o
), compared AS (
  /* Companies x enrichment and x observed: one-to-one on company_ein (all three unique). */
  SELECT
    c.company_ein,
    NOT COALESCE(l.is_in_lookup, FALSE) AS is_unknown,
    COALESCE(l.enrichment_status, 'not_found') AS enrichment_status,
    l.enrichment_status = 'failed' AS is_unavailable,
    l.expected_headcount,
    COALESCE(o.observed_headcount, 0) AS observed_headcount,
    COALESCE(o.observed_headcount, 0) - l.expected_headcount AS diff
  FROM companies AS c
  LEFT JOIN enrichment AS l
    ON l.company_ein = c.company_ein
  LEFT JOIN observed AS o
    ON o.company_ein = c.company_ein
), classified AS (
  /* Thresholds on exact integers: |pct| >= 50 <=> 2|diff| >= expected, etc. */
  SELECT
    c.*,
    CASE
      WHEN c.is_unknown
      THEN 'unknown_company'
      WHEN c.is_unavailable
      THEN 'enrichment_unavailable'
      WHEN c.expected_headcount IS NULL
      THEN 'no_expectation'
      WHEN c.expected_headcount = 0
      THEN CASE WHEN c.observed_headcount = 0 THEN 'ok' ELSE 'headcount_mismatch' END
      WHEN c.observed_headcount = 0
      THEN 'missing_roster'
      WHEN 10 * ABS(c.diff) >= c.expected_headcount
      THEN 'headcount_mismatch'
      ELSE 'ok'
    END AS mismatch_type,
    CASE
      WHEN c.is_unknown
      THEN 'high'
      WHEN c.is_unavailable
      THEN 'medium'
      WHEN c.expected_headcount IS NULL
      THEN 'low'
      WHEN c.expected_headcount = 0
      THEN CASE WHEN c.observed_headcount = 0 THEN 'none' ELSE 'critical' END
      WHEN c.observed_headcount = 0
      THEN 'critical'
      WHEN 2 * ABS(c.diff) >= c.expected_headcount
      THEN 'critical'
      WHEN 4 * ABS(c.diff) >= c.expected_headcount
      THEN 'high'
      WHEN 10 * ABS(c.diff) >= c.expected_headcount
      THEN 'medium'
      ELSE 'none'
    END AS severity
  FROM compared AS c
)
SELECT
  c.company_ein::TEXT AS company_ein,
  c.mismatch_type::TEXT AS mismatch_type,
  c.severity::TEXT AS severity,
  c.expected_headcount::BIGINT AS expected_headcount,
  c.observed_headcount::BIGINT AS observed_headcount,
  (
    CASE WHEN c.mismatch_type <> 'enrichment_unavailable' THEN c.diff END
  )::BIGINT AS diff,
  CASE
    WHEN c.mismatch_type <> 'enrichment_unavailable'
    THEN @percent_half_away(c.diff, c.expected_headcount)
  END AS pct_diff,
  a.as_of_date::DATE AS as_of_date,
  c.enrichment_status::TEXT AS enrichment_status /* ok | stale | not_found | failed (SPEC §6) */
FROM classified AS c
CROSS JOIN as_of AS a
