MODEL (
  name marts.dim_companies,
  kind VIEW,
  grain (company_ein),
  audits (
    unique_values(columns := (company_ein)),
    not_null(columns := (company_ein, is_in_lookup))
  ),
  description 'Every company known to the platform: the reference file''s companies plus any EIN seen on current employees, plans or claims (is_in_lookup = FALSE for those).',
  column_descriptions (
    company_ein = 'Company EIN (NN-NNNNNNN)',
    company_name = 'Display name from company_lookup.json',
    industry = 'Industry from company_lookup.json',
    state = 'Two-letter US state',
    email_domains = 'E-mail domains owned by the company, sorted, comma-separated',
    expected_headcount = 'Headcount the company reports; NULL = no expectation',
    is_in_lookup = 'TRUE when the EIN is in company_lookup.json'
  )
);

SELECT
  c.company_ein,
  c.company_name,
  c.industry,
  c.state,
  c.email_domains,
  c.expected_headcount,
  c.is_in_lookup
FROM intermediate.int_companies AS c
