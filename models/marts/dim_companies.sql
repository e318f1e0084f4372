MODEL (
  name marts.dim_companies,
  kind VIEW,
  grain (
    company_ein
  ),
  audits (
    unique_values(columns := (
      company_ein
    )),
    not_null(columns := (company_ein, is_in_lookup, enrichment_status))
  ),
  description 'Every company known to the platform: the reference file''s companies plus any EIN seen on current employees, plans or claims (is_in_lookup = FALSE for those).',
  column_descriptions (
    company_ein = 'Company EIN (NN-NNNNNNN)',
    company_name = 'Display name from company_lookup.json',
    industry = 'Industry from the enrichment provider (BENEFITS_ENRICHMENT: company_lookup.json by default)',
    state = 'Two-letter US state, from the enrichment provider',
    email_domains = 'E-mail domains owned by the company, sorted, comma-separated',
    expected_headcount = 'Headcount the company reports (enrichment provider); NULL = no expectation',
    is_in_lookup = 'TRUE when the EIN is in company_lookup.json',
    annual_revenue_usd = 'Annual revenue in USD where the provider has it (http provider only)',
    enrichment_status = 'ok | stale (expired answer used: the refresh failed) | not_found | failed (no answer and nothing cached: attributes NULL)',
    enriched_at = 'UTC fetch time of the values used (http provider); NULL when none',
    enrichment_error = 'Latest enrichment failure for the company; NULL when none'
  )
);

SELECT
  c.company_ein,
  c.company_name,
  c.industry,
  c.state,
  c.email_domains,
  c.expected_headcount,
  c.is_in_lookup,
  c.annual_revenue_usd,
  c.enrichment_status,
  c.enriched_at,
  c.enrichment_error
FROM intermediate.int_company_enrichment AS c
