/* Every raw record of the claims deliveries in the interval, classified per SPEC §2:
   staged, duplicate (an exact copy of an earlier row in the same file) or quarantined with the
   first failing rule as its reason. Raw values are kept beside the parsed ones. */
MODEL (
  name staging.stg_claims__classified,
  kind INCREMENTAL_BY_TIME_RANGE (
    time_column _delivery_date
  ),
  signals (delivery_ready(source := 'claims')),
  tags (landing),
  grain (_source_file, _row_number),
  audits (
    unique_combination_of_columns(columns := (_source_file, _row_number)),
    not_null(columns := (_source_file, _delivery_date, _row_number, _row_status)),
    accepted_values(column := _row_status, is_in := ('staged', 'duplicate', 'quarantined')),
    accepted_values(column := _reject_reason, is_in := ('conflicting_duplicate', 'missing_claim_id', 'invalid_ein', 'unknown_claim_type', 'missing_service_date', 'invalid_service_date', 'future_service_date', 'missing_amount', 'invalid_amount', 'negative_amount', 'amount_too_large')),
    no_future_dates(column := _delivery_date)
  )
);

WITH landed AS (
  SELECT
    l._source_file,
    l._delivery_date,
    l._row_number,
    l.claim_id,
    l.person_id,
    l.company_ein,
    l.claim_type,
    l.service_date,
    l.amount
  FROM staging.stg_claims__landed AS l
), numbered_copies AS (
  /* Order of work, step 1: rows identical in every contract column (raw values) collapse;
     an empty and a whitespace-only field are the same raw value, NULL (SPEC §1). */
  SELECT
    l._source_file,
    l._delivery_date,
    l._row_number,
    l.claim_id,
    l.person_id,
    l.company_ein,
    l.claim_type,
    l.service_date,
    l.amount,
    ROW_NUMBER() OVER (
      PARTITION BY
        l._source_file,
        @blank_as_null(l.claim_id),
        @blank_as_null(l.person_id),
        @blank_as_null(l.company_ein),
        @blank_as_null(l.claim_type),
        @blank_as_null(l.service_date),
        @blank_as_null(l.amount)
      ORDER BY l._row_number
    ) AS copy_number
  FROM landed AS l
), parsed AS (
  SELECT
    n._source_file,
    n._delivery_date,
    n._row_number,
    n.copy_number,
    n.claim_id AS raw_claim_id,
    n.person_id AS raw_person_id,
    n.company_ein AS raw_company_ein,
    n.claim_type AS raw_claim_type,
    n.service_date AS raw_service_date,
    n.amount AS raw_amount,
    @normalize_text(n.claim_id) AS claim_id,
    @normalize_text(n.person_id) AS person_id,
    @parse_ein(n.company_ein) AS company_ein,
    @normalize_enum(n.claim_type) AS claim_type,
    @normalize_text(n.service_date) AS service_date_text,
    @parse_date(n.service_date) AS service_date,
    @normalize_text(n.amount) AS amount_text,
    @amount_is_parseable(n.amount) AS is_amount_parseable,
    @amount_is_negative(n.amount) AS is_amount_negative,
    @amount_is_too_large(n.amount) AS is_amount_too_large,
    @parse_amount(n.amount) AS amount
  FROM numbered_copies AS n
), judged AS (
  /* Step 2: distinct rows sharing a business key in one file; step 3: first failing rule. */
  SELECT
    p.*,
    CASE
      WHEN p.copy_number > 1
      THEN NULL
      WHEN p.claim_id IS NOT NULL
      AND SUM(CASE WHEN p.copy_number = 1 THEN 1 ELSE 0 END) OVER (PARTITION BY p._source_file, p.claim_id) > 1
      THEN 'conflicting_duplicate'
      WHEN p.claim_id IS NULL
      THEN 'missing_claim_id'
      WHEN p.company_ein IS NULL
      THEN 'invalid_ein'
      WHEN p.claim_type IS NULL OR NOT p.claim_type IN ('medical', 'dental', 'vision', 'pharmacy')
      THEN 'unknown_claim_type'
      WHEN p.service_date_text IS NULL
      THEN 'missing_service_date'
      WHEN p.service_date IS NULL
      THEN 'invalid_service_date'
      WHEN p.service_date > p._delivery_date
      THEN 'future_service_date'
      WHEN p.amount_text IS NULL
      THEN 'missing_amount'
      WHEN NOT p.is_amount_parseable
      THEN 'invalid_amount'
      WHEN p.is_amount_negative
      THEN 'negative_amount'
      WHEN p.is_amount_too_large
      THEN 'amount_too_large'
    END AS reject_reason
  FROM parsed AS p
)
SELECT
  j.claim_id::TEXT AS claim_id, /* text-normalised business key (NULL when missing) */
  j.person_id::TEXT AS person_id,
  j.company_ein::TEXT AS company_ein, /* canonical NN-NNNNNNN, NULL when invalid */
  j.claim_type::TEXT AS claim_type,
  j.raw_claim_id::TEXT AS raw_claim_id, /* raw values as delivered */
  j.raw_person_id::TEXT AS raw_person_id,
  j.raw_company_ein::TEXT AS raw_company_ein,
  j.raw_claim_type::TEXT AS raw_claim_type,
  j.raw_service_date::TEXT AS raw_service_date,
  j.raw_amount::TEXT AS raw_amount,
  j.amount::DECIMAL(18, 2) AS amount,
  j.service_date::DATE AS service_date,
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
