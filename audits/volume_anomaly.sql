AUDIT (
  name volume_anomaly,
  defaults ("window" = 28, sigmas = 3, min_history = 5, min_relative_change = 0.25),
  blocking FALSE
);

/* Volume anomaly (issue 6, non-blocking by default): a delivery whose raw row count lies outside
   the mean ± @sigmas standard deviations of the same source's previous @window deliveries
   (judged once at least @min_history came before it), and at least @min_relative_change away
   from that mean (a floor: a feed of constant size has a standard deviation of 0). `history` names the model holding every
   delivery of the source with `source_file`, `delivery_date` and `raw_rows`
   (staging.stg_<source>__files); the audited model supplies the deliveries of the interval.
   The model named in a parameter must be a parent of the audited model. */
WITH history AS (
  SELECT
    h.source_file,
    h.delivery_date,
    h.raw_rows,
    AVG(h.raw_rows) OVER (
      ORDER BY h.delivery_date, h.source_file
      ROWS BETWEEN @window PRECEDING AND 1 PRECEDING
    ) AS trailing_mean,
    STDDEV_POP(h.raw_rows) OVER (
      ORDER BY h.delivery_date, h.source_file
      ROWS BETWEEN @window PRECEDING AND 1 PRECEDING
    ) AS trailing_stddev,
    COUNT(*) OVER (
      ORDER BY h.delivery_date, h.source_file
      ROWS BETWEEN @window PRECEDING AND 1 PRECEDING
    ) AS prior_deliveries
  FROM @history AS h
)
SELECT
  s.source_file,
  s.delivery_date,
  s.raw_rows,
  ROUND(s.trailing_mean, 1) AS trailing_mean,
  ROUND(s.trailing_stddev, 1) AS trailing_stddev,
  s.prior_deliveries
FROM history AS s
WHERE
  s.source_file IN (
    SELECT
      t.source_file
    FROM @this_model AS t
  )
  AND s.prior_deliveries >= @min_history
  AND ABS(s.raw_rows - s.trailing_mean) > @sigmas * s.trailing_stddev
  AND ABS(s.raw_rows - s.trailing_mean) > @min_relative_change * s.trailing_mean
