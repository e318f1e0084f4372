MODEL (
  name marts.fct_claims_cost_spikes,
  kind FULL,
  signals (
    delivery_ready(source := 'claims')
  ),
  grain (company_ein, window_end),
  audits (
    unique_combination_of_columns(columns := (company_ein, window_end)),
    not_null(
      columns := (company_ein, window_end, current_90d_cost, prior_90d_cost, pct_change)
    ),
    forall(criteria := (prior_90d_cost > 0, current_90d_cost > 3 * prior_90d_cost)),
    no_future_dates("column" := window_end)
  ),
  description '90-day claim cost spikes per company (SPEC §3): days where the cost of the 90 days ending on window_end is more than 3x the cost of the 90 days before (exactly +200 % is not a spike).',
  column_descriptions (
    company_ein = 'Company EIN of the claims',
    window_end = 'Last day of the current 90-day window',
    current_90d_cost = 'Sum of amounts with service_date in [window_end - 89, window_end]',
    prior_90d_cost = 'Sum of amounts with service_date in [window_end - 179, window_end - 90]',
    pct_change = '(current - prior) / prior x 100, rounded half away from zero to 4 decimals'
  )
);

WITH int_company_daily_claim_cost AS (
  /* Cost per company and service day: the v2 rows (one per claim type) summed over claim_type. */
  SELECT
    d.company_ein,
    d.service_date,
    SUM(d.claim_cost) AS claim_cost
  FROM intermediate.int_company_daily_claim_cost_v2 AS d
  GROUP BY
    d.company_ein,
    d.service_date
), company_first_days AS (
  SELECT
    d.company_ein,
    MIN(d.service_date) AS first_service_date
  FROM int_company_daily_claim_cost AS d
  GROUP BY
    d.company_ein
), last_day AS (
  SELECT
    MAX(d.service_date) AS last_service_date
  FROM int_company_daily_claim_cost AS d
), company_calendar AS (
  /* Every day from the company's first service date to the latest service date of any company. */
  SELECT
    f.company_ein,
    f.first_service_date,
    t.day::DATE AS day
  FROM company_first_days AS f
  CROSS JOIN last_day AS l
  CROSS JOIN UNNEST(GENERATE_SERIES(f.first_service_date, l.last_service_date, INTERVAL '1' DAY)) AS t(day)
), daily_costs AS (
  /* Calendar x daily cost: one-to-one on (company_ein, day); days without claims cost zero. */
  SELECT
    c.company_ein,
    c.first_service_date,
    c.day,
    COALESCE(d.claim_cost, 0) AS claim_cost
  FROM company_calendar AS c
  LEFT JOIN int_company_daily_claim_cost AS d
    ON d.company_ein = c.company_ein AND d.service_date = c.day
), windows AS (
  SELECT
    d.company_ein,
    d.first_service_date,
    d.day AS window_end,
    SUM(d.claim_cost) OVER (
      PARTITION BY d.company_ein
      ORDER BY d.day
      ROWS BETWEEN 89 PRECEDING AND CURRENT ROW
    ) AS current_90d_cost,
    SUM(d.claim_cost) OVER (
      PARTITION BY d.company_ein
      ORDER BY d.day
      ROWS BETWEEN 179 PRECEDING AND 90 PRECEDING
    ) AS prior_90d_cost
  FROM daily_costs AS d
)
SELECT
  w.company_ein::TEXT AS company_ein,
  w.current_90d_cost::DECIMAL(18, 2) AS current_90d_cost,
  w.prior_90d_cost::DECIMAL(18, 2) AS prior_90d_cost,
  @percent_half_away(w.current_90d_cost - w.prior_90d_cost, w.prior_90d_cost) AS pct_change,
  w.window_end::DATE AS window_end
FROM windows AS w
WHERE
  DATE_DIFF('DAY', w.first_service_date, w.window_end) >= 179
  AND w.prior_90d_cost > 0
  AND w.current_90d_cost > 3 * w.prior_90d_cost
