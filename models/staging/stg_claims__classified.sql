/* Every raw record of the claims deliveries in the interval, classified per SPEC §2:
   staged, duplicate (an exact copy of an earlier row in the same file) or quarantined with the
   first failing rule as its reason. Raw values are kept beside the parsed ones.
   Performance (DESIGN.md, Performance): each normalisation is computed once as a column, and the
   two duplicate windows run only over rows whose claim_id repeats within its file (or is
   missing): exact copies and conflicting duplicates can only be among them. */
MODEL (
  name staging.stg_claims__classified,
  kind INCREMENTAL_BY_TIME_RANGE (
    time_column _delivery_date
  ),
  signals (
    delivery_ready(source := 'claims')
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
        'missing_claim_id',
        'invalid_ein',
        'unknown_claim_type',
        'missing_service_date',
        'invalid_service_date',
        'future_service_date',
        'missing_amount',
        'invalid_amount',
        'negative_amount',
        'amount_too_large'
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
    l.claim_id,
    l.person_id,
    l.company_ein,
    l.claim_type,
    l.service_date,
    l.amount
  FROM staging.stg_claims__landed AS l
), keyed AS (
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
    @normalize_text(l.claim_id) AS t_claim_id
  FROM landed AS l
), repeated_keys AS (
  /* (file, claim_id) delivered more than once in the file: two identical raw rows share their
     raw claim_id, hence its normalised form, so every exact copy and every conflicting
     duplicate is in one of these groups (or has no claim_id at all). */
  SELECT
    k._source_file,
    k.t_claim_id
  FROM keyed AS k
  WHERE
    NOT k.t_claim_id IS NULL
  GROUP BY
    k._source_file,
    k.t_claim_id
  HAVING
    COUNT(*) > 1
), grouped AS (
  SELECT
    k._source_file,
    k._delivery_date,
    k._row_number,
    k.claim_id,
    k.person_id,
    k.company_ein,
    k.claim_type,
    k.service_date,
    k.amount,
    k.t_claim_id,
    (
      NOT r.t_claim_id IS NULL OR k.t_claim_id IS NULL
    ) AS in_group
  FROM keyed AS k
  LEFT JOIN repeated_keys AS r
    ON r._source_file = k._source_file AND r.t_claim_id = k.t_claim_id
), copies AS (
  /* Order of work, step 1: rows identical in every contract column (raw values) collapse;
     an empty and a whitespace-only field are the same raw value, NULL (SPEC §1). */
  SELECT
    g._source_file,
    g._delivery_date,
    g._row_number,
    g.claim_id,
    g.person_id,
    g.company_ein,
    g.claim_type,
    g.service_date,
    g.amount,
    g.t_claim_id,
    ROW_NUMBER() OVER (
      PARTITION BY g._source_file, @blank_as_null(g.claim_id), @blank_as_null(g.person_id), @blank_as_null(g.company_ein), @blank_as_null(g.claim_type), @blank_as_null(g.service_date), @blank_as_null(g.amount)
      ORDER BY g._row_number
    ) AS copy_number
  FROM grouped AS g
  WHERE
    g.in_group
), numbered AS (
  SELECT
    g._source_file,
    g._delivery_date,
    g._row_number,
    g.claim_id,
    g.person_id,
    g.company_ein,
    g.claim_type,
    g.service_date,
    g.amount,
    g.t_claim_id,
    1 AS copy_number,
    FALSE AS is_conflicting
  FROM grouped AS g
  WHERE
    NOT g.in_group
  UNION ALL
  /* Step 2: distinct rows (first copies) sharing a claim_id in one file. */
  SELECT
    c._source_file,
    c._delivery_date,
    c._row_number,
    c.claim_id,
    c.person_id,
    c.company_ein,
    c.claim_type,
    c.service_date,
    c.amount,
    c.t_claim_id,
    c.copy_number,
    NOT c.t_claim_id IS NULL
    AND SUM(CASE WHEN c.copy_number = 1 THEN 1 ELSE 0 END) OVER (PARTITION BY c._source_file, c.t_claim_id) > 1 AS is_conflicting
  FROM copies AS c
), texts AS (
  SELECT
    n._source_file,
    n._delivery_date,
    n._row_number,
    n.copy_number,
    n.is_conflicting,
    n.claim_id AS raw_claim_id,
    n.person_id AS raw_person_id,
    n.company_ein AS raw_company_ein,
    n.claim_type AS raw_claim_type,
    n.service_date AS raw_service_date,
    n.amount AS raw_amount,
    n.t_claim_id AS claim_id,
    @normalize_text(n.person_id) AS person_id,
    @ein_digits(n.company_ein) AS ein_digits,
    @normalize_enum(n.claim_type) AS claim_type,
    @normalize_text(n.service_date) AS service_date_text,
    @amount_text(n.amount) AS amount_text
  FROM numbered AS n
), parsed AS (
  SELECT
    t._source_file,
    t._delivery_date,
    t._row_number,
    t.copy_number,
    t.is_conflicting,
    t.raw_claim_id,
    t.raw_person_id,
    t.raw_company_ein,
    t.raw_claim_type,
    t.raw_service_date,
    t.raw_amount,
    t.claim_id,
    t.person_id,
    @ein_from_digits(t.ein_digits) AS company_ein,
    t.claim_type,
    t.service_date_text,
    @date_from_text(t.service_date_text) AS service_date,
    t.amount_text,
    @amount_text_is_parseable(t.amount_text) AS is_amount_parseable,
    @amount_integer(t.amount_text) AS amount_integer,
    @amount_fraction(t.amount_text) AS amount_fraction
  FROM texts AS t
), judged AS (
  /* Step 3: the first failing rule. */
  SELECT
    p.*,
    CASE
      WHEN p.copy_number > 1
      THEN NULL
      WHEN p.is_conflicting
      THEN 'conflicting_duplicate'
      WHEN p.claim_id IS NULL
      THEN 'missing_claim_id'
      WHEN p.company_ein IS NULL
      THEN 'invalid_ein'
      WHEN p.claim_type IS NULL
      OR NOT p.claim_type IN ('medical', 'dental', 'vision', 'pharmacy')
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
      WHEN @amount_parts_are_negative(p.amount_text, p.amount_integer, p.amount_fraction)
      THEN 'negative_amount'
      WHEN @amount_parts_are_too_large(p.amount_integer, p.amount_fraction)
      THEN 'amount_too_large'
    END AS reject_reason,
    @amount_from_parts(p.amount_text, p.amount_integer, p.amount_fraction, p.is_amount_parseable) AS amount
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
