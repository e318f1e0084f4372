/* Every raw record of the carrier plan deliveries in the interval, classified per SPEC §2:
   staged, duplicate (an exact copy of an earlier row in the same file) or quarantined with the
   first failing rule as its reason. Raw values are kept beside the parsed ones. */
MODEL (
  name staging.stg_plans__classified,
  kind INCREMENTAL_BY_TIME_RANGE (
    time_column _delivery_date
  ),
  signals (
    delivery_ready(source := 'plans')
  ),
  tags (
    landing
  ),
  grain (_source_file, _row_number),
  audits (
    unique_combination_of_columns(columns := (_source_file, _row_number)),
    not_null(columns := (_source_file, _delivery_date, _row_number, _row_status)),
    accepted_values("column" := _row_status, is_in := ('staged', 'duplicate', 'quarantined')),
    accepted_values(
      "column" := _reject_reason,
      is_in := (
        'conflicting_duplicate',
        'missing_plan_id',
        'invalid_ein',
        'unknown_plan_type',
        'missing_start_date',
        'invalid_start_date',
        'invalid_end_date',
        'end_before_start'
      )
    ),
    no_future_dates("column" := _delivery_date)
  )
);

WITH landed AS (
  SELECT
    l._source_file,
    l._delivery_date,
    l._row_number,
    l.plan_id,
    l.company_ein,
    l.plan_type,
    l.carrier_name,
    l.start_date,
    l.end_date
  FROM staging.stg_plans__landed AS l
), numbered_copies AS (
  /* Order of work, step 1: rows identical in every contract column (raw values) collapse;
     an empty and a whitespace-only field are the same raw value, NULL (SPEC §1). */
  SELECT
    l._source_file,
    l._delivery_date,
    l._row_number,
    l.plan_id,
    l.company_ein,
    l.plan_type,
    l.carrier_name,
    l.start_date,
    l.end_date,
    ROW_NUMBER() OVER (
      PARTITION BY l._source_file, @blank_as_null(l.plan_id), @blank_as_null(l.company_ein), @blank_as_null(l.plan_type), @blank_as_null(l.carrier_name), @blank_as_null(l.start_date), @blank_as_null(l.end_date)
      ORDER BY l._row_number
    ) AS copy_number
  FROM landed AS l
), parsed AS (
  SELECT
    n._source_file,
    n._delivery_date,
    n._row_number,
    n.copy_number,
    n.plan_id AS raw_plan_id,
    n.company_ein AS raw_company_ein,
    n.plan_type AS raw_plan_type,
    n.carrier_name AS raw_carrier_name,
    n.start_date AS raw_start_date,
    n.end_date AS raw_end_date,
    @normalize_text(n.plan_id) AS plan_id,
    @parse_ein(n.company_ein) AS company_ein,
    @normalize_enum(n.plan_type) AS plan_type,
    @normalize_text(n.carrier_name) AS carrier_name,
    @normalize_text(n.start_date) AS start_date_text,
    @parse_date(n.start_date) AS start_date,
    @normalize_text(n.end_date) AS end_date_text,
    @parse_date(n.end_date) AS end_date
  FROM numbered_copies AS n
), judged AS (
  /* Step 2: distinct rows sharing a business key in one file; step 3: first failing rule. */
  SELECT
    p.*,
    CASE
      WHEN p.copy_number > 1
      THEN NULL
      WHEN NOT p.plan_id IS NULL
      AND SUM(CASE WHEN p.copy_number = 1 THEN 1 ELSE 0 END) OVER (PARTITION BY p._source_file, p.plan_id) > 1
      THEN 'conflicting_duplicate'
      WHEN p.plan_id IS NULL
      THEN 'missing_plan_id'
      WHEN p.company_ein IS NULL
      THEN 'invalid_ein'
      WHEN p.plan_type IS NULL OR NOT p.plan_type IN ('medical', 'dental', 'vision')
      THEN 'unknown_plan_type'
      WHEN p.start_date_text IS NULL
      THEN 'missing_start_date'
      WHEN p.start_date IS NULL
      THEN 'invalid_start_date'
      WHEN NOT p.end_date_text IS NULL AND p.end_date IS NULL
      THEN 'invalid_end_date'
      WHEN p.end_date < p.start_date
      THEN 'end_before_start'
    END AS reject_reason
  FROM parsed AS p
)
SELECT
  j.plan_id::TEXT AS plan_id, /* text-normalised business key (NULL when missing) */
  j.company_ein::TEXT AS company_ein, /* canonical NN-NNNNNNN, NULL when invalid */
  j.plan_type::TEXT AS plan_type,
  j.carrier_name::TEXT AS carrier_name, /* text-normalised; aliases resolved in intermediate */
  j.raw_plan_id::TEXT AS raw_plan_id, /* raw values as delivered */
  j.raw_company_ein::TEXT AS raw_company_ein,
  j.raw_plan_type::TEXT AS raw_plan_type,
  j.raw_carrier_name::TEXT AS raw_carrier_name,
  j.raw_start_date::TEXT AS raw_start_date,
  j.raw_end_date::TEXT AS raw_end_date,
  j.start_date::DATE AS start_date,
  j.end_date::DATE AS end_date, /* NULL = open-ended */
  CASE
    WHEN j.copy_number > 1
    THEN 'duplicate'
    WHEN j.reject_reason IS NULL
    THEN 'staged'
    ELSE 'quarantined'
  END::TEXT AS _row_status, /* staged | duplicate | quarantined */
  j.reject_reason::TEXT AS _reject_reason, /* SPEC §2 reason code for quarantined rows */
  j._source_file::TEXT AS _source_file,
  j._delivery_date::DATE AS _delivery_date,
  j._row_number::BIGINT AS _row_number,
  CURRENT_TIMESTAMP::TIMESTAMP AS _loaded_at
FROM judged AS j
