-- The claims pipeline written by hand in DuckDB SQL: the ceiling `benefits-mesh bench` compares
-- SQLMesh against. One execution processes one batch of delivery days [{{start}}, {{end}}]
-- (the whole history for the backfill, one day for a daily load) into its own DuckDB file.
--
-- {{landed}} is the batch's raw records, read exactly as the project reads them
-- (benefits_mesh.landing.rows_sql: header checked in Python, body read by position,
-- all VARCHAR, WITH ORDINALITY) so both sides pay the same CSV parse.
--
-- Work per batch (SPEC §2 claims, §3 spikes):
--   1. classify every raw row: exact duplicates within a file, conflicting duplicates, the first
--      failing rule; keep raw values (claims_classified) and per-file accounting;
--   2. merge the batch's latest valid version of each claim into claims_current keyed by
--      claim_id (a version replaces the current one when its delivery is not older: order-free);
--   3. maintain company x service-day cost by delta (new versions minus replaced versions);
--   4. recompute 90-day spike windows only from the earliest affected day of each affected
--      company (every company when the latest service date moves).
-- Rules are computed once per row in CTE columns (no repeated regexes), and the two windows of
-- steps 1-2 run only over rows whose key repeats within their file (a few per cent).

CREATE TABLE IF NOT EXISTS claims_classified (
  _source_file VARCHAR, _delivery_date DATE, _row_number BIGINT,
  raw_claim_id VARCHAR, raw_person_id VARCHAR, raw_company_ein VARCHAR,
  raw_claim_type VARCHAR, raw_service_date VARCHAR, raw_amount VARCHAR,
  claim_id VARCHAR, person_id VARCHAR, company_ein VARCHAR, claim_type VARCHAR,
  service_date DATE, amount DECIMAL(18, 2),
  _row_status VARCHAR, _reject_reason VARCHAR, _loaded_at TIMESTAMP
);
CREATE TABLE IF NOT EXISTS load_accounting (
  source_file VARCHAR, delivery_date DATE, raw_rows BIGINT, staged_rows BIGINT,
  duplicate_rows BIGINT, quarantined_rows BIGINT
);
CREATE TABLE IF NOT EXISTS claims_current (
  claim_id VARCHAR, person_id VARCHAR, company_ein VARCHAR, claim_type VARCHAR,
  amount DECIMAL(18, 2), service_date DATE, delivery_date DATE, source_file VARCHAR
);
CREATE TABLE IF NOT EXISTS company_daily_cost (
  company_ein VARCHAR, service_date DATE, claim_cost DECIMAL(18, 2), claim_count BIGINT
);
CREATE TABLE IF NOT EXISTS cost_spikes (
  company_ein VARCHAR, window_end DATE, current_90d_cost DECIMAL(18, 2),
  prior_90d_cost DECIMAL(18, 2), pct_change DECIMAL(18, 4)
);

BEGIN TRANSACTION;

-- 1. classify ---------------------------------------------------------------------------------
INSERT INTO claims_classified
WITH keyed AS MATERIALIZED (
  SELECT l.*, NULLIF(trim(regexp_replace(l.claim_id, '\s+', ' ', 'g')), '') AS t_claim_id
  FROM {{landed}} AS l
), shared AS (
  -- exact copies and conflicts share (file, key): only those groups need the window work
  SELECT _source_file, t_claim_id FROM keyed WHERE t_claim_id IS NOT NULL
  GROUP BY ALL HAVING count(*) > 1
), flagged AS (
  SELECT k.*, (s.t_claim_id IS NOT NULL OR k.t_claim_id IS NULL) AS in_group
  FROM keyed AS k
  LEFT JOIN shared AS s ON s._source_file = k._source_file AND s.t_claim_id = k.t_claim_id
), copies AS (
  -- step 1: identical raw rows (a blank or whitespace-only field is NULL) collapse to the first
  SELECT
    g.*,
    ROW_NUMBER() OVER (
      PARTITION BY g._source_file,
        CASE WHEN NOT regexp_full_match(g.claim_id, '\s*') THEN g.claim_id END,
        CASE WHEN NOT regexp_full_match(g.person_id, '\s*') THEN g.person_id END,
        CASE WHEN NOT regexp_full_match(g.company_ein, '\s*') THEN g.company_ein END,
        CASE WHEN NOT regexp_full_match(g.claim_type, '\s*') THEN g.claim_type END,
        CASE WHEN NOT regexp_full_match(g.service_date, '\s*') THEN g.service_date END,
        CASE WHEN NOT regexp_full_match(g.amount, '\s*') THEN g.amount END
      ORDER BY g._row_number
    ) AS copy_number
  FROM flagged AS g
  WHERE g.in_group
), numbered AS (
  SELECT f.*, 1 AS copy_number, FALSE AS conflict FROM flagged AS f WHERE NOT f.in_group
  UNION ALL
  -- step 2: distinct rows sharing a key in one file
  SELECT c.*, c.t_claim_id IS NOT NULL AND count(*) FILTER (WHERE c.copy_number = 1)
    OVER (PARTITION BY c._source_file, c.t_claim_id) > 1
  FROM copies AS c
), texts AS (
  SELECT
    n.*,
    NULLIF(trim(regexp_replace(n.person_id, '\s+', ' ', 'g')), '') AS t_person_id,
    regexp_replace(coalesce(n.company_ein, ''), '[^0-9]', '', 'g') AS ein_digits,
    lower(NULLIF(trim(regexp_replace(n.claim_type, '\s+', ' ', 'g')), '')) AS t_claim_type,
    NULLIF(trim(regexp_replace(n.service_date, '\s+', ' ', 'g')), '') AS t_service_date,
    replace(NULLIF(trim(regexp_replace(n.amount, '\s+', ' ', 'g')), ''), ',', '') AS t_amount
  FROM numbered AS n
), parsed AS (
  SELECT
    t.*,
    CASE WHEN length(t.ein_digits) = 9
      THEN substr(t.ein_digits, 1, 2) || '-' || substr(t.ein_digits, 3) END AS ein,
    CASE
      WHEN regexp_full_match(t.t_service_date, '[0-9]{4}-[0-9]{2}-[0-9]{2}')
      THEN TRY_CAST(t.t_service_date AS DATE)
      WHEN regexp_full_match(t.t_service_date, '[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}')
      THEN try_strptime(t.t_service_date, '%m/%d/%Y')::DATE
    END AS sdate,
    coalesce(regexp_full_match(t.t_amount, '[-$]?[0-9]+([.][0-9]+)?'), FALSE) AS amount_ok,
    ltrim(regexp_extract(t.t_amount, '^[-$]?([0-9]+)', 1), '0') AS amount_int,
    rtrim(regexp_extract(t.t_amount, '[.]([0-9]+)$', 1), '0') AS amount_frac
  FROM texts AS t
), judged AS (
  SELECT
    p.*,
    CASE
      WHEN p.copy_number > 1 THEN NULL
      WHEN p.conflict THEN 'conflicting_duplicate'
      WHEN p.t_claim_id IS NULL THEN 'missing_claim_id'
      WHEN p.ein IS NULL THEN 'invalid_ein'
      WHEN p.t_claim_type IS NULL
        OR p.t_claim_type NOT IN ('medical', 'dental', 'vision', 'pharmacy')
        THEN 'unknown_claim_type'
      WHEN p.t_service_date IS NULL THEN 'missing_service_date'
      WHEN p.sdate IS NULL THEN 'invalid_service_date'
      WHEN p.sdate > p._delivery_date THEN 'future_service_date'
      WHEN p.t_amount IS NULL THEN 'missing_amount'
      WHEN NOT p.amount_ok THEN 'invalid_amount'
      WHEN starts_with(p.t_amount, '-') AND (p.amount_int <> '' OR p.amount_frac <> '')
        THEN 'negative_amount'
      WHEN length(p.amount_int) > 7
        OR (length(p.amount_int) = 7 AND (p.amount_int > '1000000' OR p.amount_frac <> ''))
        THEN 'amount_too_large'
    END AS reason
  FROM parsed AS p
)
SELECT
  j._source_file, j._delivery_date, j._row_number,
  j.claim_id AS raw_claim_id, j.person_id AS raw_person_id, j.company_ein AS raw_company_ein,
  j.claim_type AS raw_claim_type, j.service_date AS raw_service_date, j.amount AS raw_amount,
  j.t_claim_id AS claim_id, j.t_person_id AS person_id, j.ein AS company_ein,
  j.t_claim_type AS claim_type, j.sdate AS service_date,
  CASE WHEN j.copy_number = 1 AND j.reason IS NULL THEN
    (CASE WHEN starts_with(j.t_amount, '-') THEN -1 ELSE 1 END) * round(
      (coalesce(NULLIF(j.amount_int, ''), '0') || '.'
       || substr(regexp_extract(j.t_amount, '[.]([0-9]+)$', 1) || '000', 1, 3))::DECIMAL(18, 3),
      2)::DECIMAL(18, 2)
  END AS amount,
  CASE WHEN j.copy_number > 1 THEN 'duplicate' WHEN j.reason IS NULL THEN 'staged'
    ELSE 'quarantined' END AS _row_status,
  j.reason AS _reject_reason,
  current_timestamp::TIMESTAMP AS _loaded_at
FROM judged AS j;

CREATE OR REPLACE TEMP VIEW batch AS
SELECT * FROM claims_classified WHERE _delivery_date BETWEEN '{{start}}' AND '{{end}}';

INSERT INTO load_accounting
SELECT _source_file, _delivery_date, count(*),
  count(*) FILTER (WHERE _row_status = 'staged'),
  count(*) FILTER (WHERE _row_status = 'duplicate'),
  count(*) FILTER (WHERE _row_status = 'quarantined')
FROM batch
GROUP BY ALL;

-- 2. merge the latest valid version of each claim ---------------------------------------------
CREATE OR REPLACE TEMP TABLE winners AS
WITH incoming AS (
  SELECT claim_id, person_id, company_ein, claim_type, amount, service_date,
    _delivery_date AS delivery_date, _source_file AS source_file
  FROM batch
  WHERE _row_status = 'staged'
  QUALIFY row_number() OVER (PARTITION BY claim_id ORDER BY _delivery_date DESC) = 1
)
SELECT i.*, c.company_ein AS old_ein, c.service_date AS old_date, c.amount AS old_amount
FROM incoming AS i
LEFT JOIN claims_current AS c ON c.claim_id = i.claim_id
WHERE c.claim_id IS NULL OR i.delivery_date >= c.delivery_date;

-- 3. company x day cost by delta (read before the merge overwrites the old versions) -----------
CREATE OR REPLACE TEMP TABLE cost_delta AS
SELECT company_ein, service_date, sum(amount) AS claim_cost, sum(n)::BIGINT AS claim_count
FROM (
  SELECT company_ein, service_date, amount, 1 AS n FROM winners
  UNION ALL
  SELECT old_ein, old_date, -old_amount, -1 FROM winners WHERE old_ein IS NOT NULL
)
GROUP BY ALL;

CREATE OR REPLACE TEMP TABLE old_last AS
SELECT max(service_date) AS last_day FROM company_daily_cost;

MERGE INTO claims_current AS c
USING winners AS w ON c.claim_id = w.claim_id
WHEN MATCHED THEN UPDATE SET
  person_id = w.person_id, company_ein = w.company_ein, claim_type = w.claim_type,
  amount = w.amount, service_date = w.service_date, delivery_date = w.delivery_date,
  source_file = w.source_file
WHEN NOT MATCHED THEN INSERT VALUES (
  w.claim_id, w.person_id, w.company_ein, w.claim_type, w.amount, w.service_date,
  w.delivery_date, w.source_file);

MERGE INTO company_daily_cost AS d
USING cost_delta AS x ON d.company_ein = x.company_ein AND d.service_date = x.service_date
WHEN MATCHED THEN UPDATE SET
  claim_cost = d.claim_cost + x.claim_cost, claim_count = d.claim_count + x.claim_count
WHEN NOT MATCHED THEN INSERT VALUES (x.company_ein, x.service_date, x.claim_cost, x.claim_count);

DELETE FROM company_daily_cost WHERE claim_count = 0;

-- 4. spike windows from the earliest affected day on -------------------------------------------
CREATE OR REPLACE TEMP TABLE affected AS
WITH bounds AS (
  SELECT (SELECT max(service_date) FROM company_daily_cost) AS new_last,
    (SELECT last_day FROM old_last) AS old_last
), changed AS (
  SELECT company_ein, min(service_date) AS from_day FROM cost_delta GROUP BY ALL
  UNION ALL  -- a later latest service date adds window days for every company
  SELECT DISTINCT d.company_ein, b.old_last + 1
  FROM company_daily_cost AS d, bounds AS b
  WHERE b.old_last IS NOT NULL AND b.new_last > b.old_last
)
SELECT c.company_ein, min(c.from_day) AS from_day, any_value(b.new_last) AS last_day
FROM changed AS c, bounds AS b
GROUP BY ALL;

DELETE FROM cost_spikes AS s
WHERE s.window_end > (SELECT max(service_date) FROM company_daily_cost)
  OR EXISTS (SELECT 1 FROM affected AS a
             WHERE a.company_ein = s.company_ein AND s.window_end >= a.from_day);

INSERT INTO cost_spikes
WITH firsts AS (
  SELECT company_ein, min(service_date) AS first_day FROM company_daily_cost GROUP BY ALL
), calendar AS (
  SELECT a.company_ein, a.from_day, f.first_day, g.day::DATE AS day
  FROM affected AS a
  JOIN firsts AS f ON f.company_ein = a.company_ein
  CROSS JOIN LATERAL unnest(generate_series(
    greatest(f.first_day, a.from_day - 179)::TIMESTAMP, a.last_day::TIMESTAMP,
    INTERVAL 1 DAY)) AS g(day)
), windows AS (
  SELECT c.company_ein, c.from_day, c.first_day, c.day AS window_end,
    sum(coalesce(d.claim_cost, 0)) OVER w90 AS cur,
    sum(coalesce(d.claim_cost, 0)) OVER w180 AS prior
  FROM calendar AS c
  LEFT JOIN company_daily_cost AS d
    ON d.company_ein = c.company_ein AND d.service_date = c.day
  WINDOW
    w90 AS (PARTITION BY c.company_ein ORDER BY c.day ROWS BETWEEN 89 PRECEDING AND CURRENT ROW),
    w180 AS (PARTITION BY c.company_ein ORDER BY c.day
             ROWS BETWEEN 179 PRECEDING AND 90 PRECEDING)
)
SELECT company_ein, window_end, cur::DECIMAL(18, 2), prior::DECIMAL(18, 2),
  round((cur - prior)::DECIMAL(38, 10) * 100 / prior, 4)::DECIMAL(18, 4)
FROM windows
WHERE window_end >= from_day AND window_end >= first_day + 179
  AND prior > 0 AND cur > 3 * prior;

COMMIT;
