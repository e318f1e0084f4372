/* Every raw record of the employees (HRIS roster delta) deliveries in the interval, classified per
   SPEC §2: staged, duplicate (an exact copy of an earlier row in the same file) or quarantined
   with the first failing rule as its reason. Raw values are kept beside the parsed ones. */
MODEL (
  name staging.stg_employees__classified,
  kind INCREMENTAL_BY_TIME_RANGE (
    time_column _delivery_date
  ),
  signals (
    delivery_ready(source := 'employees')
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
        'missing_person_id',
        'missing_start_date',
        'invalid_start_date'
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
    l.person_id,
    l.full_name,
    l.email,
    l.title,
    l.company_ein,
    l.start_date,
    l.notes
  FROM staging.stg_employees__landed AS l
), numbered_copies AS (
  /* Order of work, step 1: rows identical in every contract column (raw values) collapse;
     an empty and a whitespace-only field are the same raw value, NULL (SPEC §1). */
  SELECT
    l._source_file,
    l._delivery_date,
    l._row_number,
    l.person_id,
    l.full_name,
    l.email,
    l.title,
    l.company_ein,
    l.start_date,
    l.notes,
    ROW_NUMBER() OVER (
      PARTITION BY l._source_file, @blank_as_null(l.person_id), @blank_as_null(l.full_name), @blank_as_null(l.email), @blank_as_null(l.title), @blank_as_null(l.company_ein), @blank_as_null(l.start_date), @blank_as_null(l.notes)
      ORDER BY l._row_number
    ) AS copy_number
  FROM landed AS l
), parsed AS (
  SELECT
    n._source_file,
    n._delivery_date,
    n._row_number,
    n.copy_number,
    n.person_id AS raw_person_id,
    n.full_name AS raw_full_name,
    n.email AS raw_email,
    n.title AS raw_title,
    n.company_ein AS raw_company_ein,
    n.start_date AS raw_start_date,
    n.notes AS raw_notes,
    @normalize_text(n.person_id) AS person_id,
    @normalize_text(n.full_name) AS full_name,
    @normalize_email(n.email) AS email,
    @normalize_text(n.title) AS title,
    @parse_ein(n.company_ein) AS company_ein,
    @normalize_text(n.start_date) AS start_date_text,
    @parse_date(n.start_date) AS start_date,
    @normalize_text(n.notes) AS notes
  FROM numbered_copies AS n
), judged AS (
  /* Step 2: distinct rows sharing a business key in one file; step 3: first failing rule. */
  SELECT
    p.*,
    CASE
      WHEN p.copy_number > 1
      THEN NULL
      WHEN NOT p.person_id IS NULL
      AND SUM(CASE WHEN p.copy_number = 1 THEN 1 ELSE 0 END) OVER (PARTITION BY p._source_file, p.person_id) > 1
      THEN 'conflicting_duplicate'
      WHEN p.person_id IS NULL
      THEN 'missing_person_id'
      WHEN p.start_date_text IS NULL
      THEN 'missing_start_date'
      WHEN p.start_date IS NULL
      THEN 'invalid_start_date'
    END AS reject_reason
  FROM parsed AS p
)
SELECT
  j.person_id::TEXT AS person_id, /* text-normalised business key (NULL when missing) */
  j.full_name::TEXT AS full_name,
  j.email::TEXT AS email, /* lower-cased; NULL unless a valid address */
  j.title::TEXT AS title,
  j.company_ein::TEXT AS company_ein, /* canonical NN-NNNNNNN, NULL when invalid */
  j.notes::TEXT AS notes, /* text-normalised free text, parsed in intermediate */
  j.raw_person_id::TEXT AS raw_person_id, /* raw values as delivered */
  j.raw_full_name::TEXT AS raw_full_name,
  j.raw_email::TEXT AS raw_email,
  j.raw_title::TEXT AS raw_title,
  j.raw_company_ein::TEXT AS raw_company_ein,
  j.raw_start_date::TEXT AS raw_start_date,
  j.raw_notes::TEXT AS raw_notes,
  j.start_date::DATE AS start_date,
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
