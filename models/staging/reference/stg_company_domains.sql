/* E-mail domains owned by each company (company_lookup.json `domains`), lower-cased. */
MODEL (
  name staging.stg_company_domains,
  kind FULL,
  grain (company_ein, email_domain),
  audits (
    not_null(columns := (company_ein, email_domain)),
    unique_combination_of_columns(columns := (company_ein, email_domain)),
    unique_values_non_blocking(columns := (
      email_domain
    )) /* a domain listed by two companies: its employees resolve to the first (DESIGN) */
  )
);

SELECT DISTINCT
  @parse_ein(d.ein)::TEXT AS company_ein,
  LOWER(TRIM(d.domain))::TEXT AS email_domain
FROM @company_domains() AS d
WHERE
  NOT NULLIF(TRIM(d.domain), '') IS NULL
