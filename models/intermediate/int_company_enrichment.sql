/* Company attributes from the enrichment provider (SPEC §6), one row per company the platform
   knows (intermediate.int_companies). BENEFITS_ENRICHMENT (variable `enrichment`):
   - file: the lookup's attributes; status ok for a lookup company, not_found for an EIN seen only
     in the data; no fetch time, no error.
   - http: the cache ops.company_enrichment written by the @enrich_companies() before_all step;
     a company with no cache entry yet (first seen in this run's data: requested by the next
     run) is failed, with that reason.
   A VIEW: the cache changes at the start of every plan and run, and a view always shows it. */
MODEL (
  name intermediate.int_company_enrichment,
  kind VIEW,
  grain (
    company_ein
  ),
  audits (
    unique_values(columns := (
      company_ein
    )),
    not_null(columns := (company_ein, is_in_lookup, enrichment_status)),
    accepted_values("column" := enrichment_status, is_in := ('ok', 'stale', 'not_found', 'failed'))
  )
);

WITH companies AS (
  SELECT
    c.company_ein,
    c.company_name,
    c.email_domains,
    c.is_in_lookup,
    c.industry,
    c.state,
    c.expected_headcount
  FROM intermediate.int_companies AS c
), cache AS (
  SELECT
    e.company_ein,
    e.status,
    e.industry,
    e.expected_headcount,
    e.state,
    e.annual_revenue_usd,
    e.fetched_at,
    e.last_error
  FROM ops.company_enrichment AS e
)
/* companies x cache: one-to-one on company_ein (both unique) */
SELECT
  c.company_ein::TEXT AS company_ein,
  c.company_name::TEXT AS company_name, /* from the lookup, whatever the provider */
  c.email_domains::TEXT AS email_domains,
  c.is_in_lookup::BOOLEAN AS is_in_lookup,
  (
    CASE WHEN @VAR('enrichment') = 'http' THEN e.industry ELSE c.industry END
  )::TEXT AS industry,
  (
    CASE WHEN @VAR('enrichment') = 'http' THEN e.state ELSE c.state END
  )::TEXT AS state,
  (
    CASE
      WHEN @VAR('enrichment') = 'http'
      THEN e.expected_headcount
      ELSE c.expected_headcount
    END
  )::BIGINT AS expected_headcount,
  (
    CASE WHEN @VAR('enrichment') = 'http' THEN e.annual_revenue_usd END
  )::DECIMAL(18, 2) AS annual_revenue_usd,
  (
    CASE
      WHEN @VAR('enrichment') = 'http'
      THEN COALESCE(e.status, 'failed')
      WHEN c.is_in_lookup
      THEN 'ok'
      ELSE 'not_found'
    END
  )::TEXT AS enrichment_status,
  (
    CASE WHEN @VAR('enrichment') = 'http' THEN e.fetched_at END
  )::TIMESTAMP AS enriched_at, /* fetch time of the values used (UTC) */
  (
    CASE
      WHEN @VAR('enrichment') = 'http'
      THEN COALESCE(
        e.last_error,
        CASE
          WHEN e.company_ein IS NULL
          THEN 'not requested yet: first seen in this run''s data, requested by the next run'
        END
      )
    END /* one http branch: sqlglot 30.8's simplifier dropped a first `WHEN 'http' = 'http' AND …`
       branch followed by `WHEN 'http' = 'http'` */
  )::TEXT AS enrichment_error /* the latest failure; NULL when none */
FROM companies AS c
LEFT JOIN cache AS e
  ON e.company_ein = c.company_ein
