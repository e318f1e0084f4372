AUDIT (
  name metric_anomaly,
  defaults ("window" = 90, sigmas = 3, min_history = 14, recent_days = 7),
  blocking FALSE
);

/* Metric anomaly (issue 6, non-blocking by default): a company's daily claim cost beyond
   @sigmas standard deviations of its own trailing @window days with claims (judged once
   @min_history such days came before it), on the last @recent_days days of service (older days
   were judged by earlier runs). Attached to intermediate.int_company_daily_claim_cost_v2
   (company x service day x claim type): the audit first sums @this_model's claim_cost per company
   and service day, so it judges the company's daily total, as it did on the former company x day
   model (DESIGN.md, Retiring a model); on a model already at that grain the sum changes nothing.
   One failing row per company and day. */
WITH daily AS (
  SELECT
    m.company_ein,
    m.service_date,
    SUM(m.claim_cost)::DECIMAL(18, 2) AS claim_cost
  FROM @this_model AS m
  GROUP BY
    m.company_ein,
    m.service_date
), "trailing" AS (
  SELECT
    d.company_ein,
    d.service_date,
    d.claim_cost,
    AVG(d.claim_cost) OVER (
      PARTITION BY d.company_ein
      ORDER BY d.service_date
      ROWS BETWEEN @window PRECEDING AND 1 PRECEDING
    ) AS trailing_mean,
    STDDEV_POP(d.claim_cost) OVER (
      PARTITION BY d.company_ein
      ORDER BY d.service_date
      ROWS BETWEEN @window PRECEDING AND 1 PRECEDING
    ) AS trailing_stddev,
    COUNT(*) OVER (
      PARTITION BY d.company_ein
      ORDER BY d.service_date
      ROWS BETWEEN @window PRECEDING AND 1 PRECEDING
    ) AS prior_days
  FROM daily AS d
), latest AS (
  SELECT
    MAX(t.service_date) AS last_service_date
  FROM "trailing" AS t
)
SELECT
  t.company_ein,
  t.service_date,
  t.claim_cost,
  ROUND(t.trailing_mean, 2) AS trailing_mean,
  ROUND(t.trailing_stddev, 2) AS trailing_stddev
FROM "trailing" AS t
CROSS JOIN latest AS l
WHERE
  t.service_date > l.last_service_date - @recent_days
  AND t.prior_days >= @min_history
  AND t.trailing_stddev > 0
  AND ABS(t.claim_cost - t.trailing_mean) > @sigmas * t.trailing_stddev
