/* Every company the platform knows: the reference file's companies plus every EIN seen on a
   current employee record, a current plan or a current claim, joined with the reference data. */
MODEL (
  name intermediate.int_companies,
  kind VIEW,
  grain (
    company_ein
  ),
  audits (
    unique_values(columns := (
      company_ein
    )),
    not_null(columns := (company_ein, is_in_lookup))
  )
);

WITH stg_companies AS (
  SELECT
    c.company_ein,
    c.company_name,
    c.industry,
    c.state,
    c.expected_headcount
  FROM staging.stg_companies AS c
), stg_company_domains AS (
  SELECT
    d.company_ein,
    ARRAY_TO_STRING(LIST_SORT(ARRAY_AGG(d.email_domain)), ', ') AS email_domains /* sorted list, not an ordered STRING_AGG: portable to Spark 3.5 (DESIGN.md, Engines) */
  FROM staging.stg_company_domains AS d
  GROUP BY
    d.company_ein
), current_employee_eins AS (
  SELECT
    v.company_ein
  FROM intermediate.int_employee_versions AS v
  WHERE
    NOT v.company_ein IS NULL
  QUALIFY
    ROW_NUMBER() OVER (PARTITION BY v.person_id ORDER BY v._delivery_date DESC) = 1
), seen_eins AS (
  SELECT
    c.company_ein
  FROM stg_companies AS c
  UNION
  SELECT
    e.company_ein
  FROM current_employee_eins AS e
  UNION
  SELECT
    p.company_ein
  FROM intermediate.int_plans_current AS p
  UNION
  SELECT
    d.company_ein
  FROM intermediate.int_company_daily_claim_cost_v2 AS d
)
/* EINs x reference data: one-to-one on company_ein (both unique). */
SELECT
  s.company_ein::TEXT AS company_ein,
  c.company_name::TEXT AS company_name,
  c.industry::TEXT AS industry,
  c.state::TEXT AS state,
  d.email_domains::TEXT AS email_domains, /* the lookup's domains, sorted, comma-separated */
  c.expected_headcount::BIGINT AS expected_headcount,
  (
    NOT c.company_ein IS NULL
  )::BOOLEAN AS is_in_lookup
FROM seen_eins AS s
LEFT JOIN stg_companies AS c
  ON c.company_ein = s.company_ein
LEFT JOIN stg_company_domains AS d
  ON d.company_ein = s.company_ein
