/* INTERIM (issue 18) - to be replaced by the shared classifier (benefits_mesh/contract.py +
   macros/classification.py), which adds the quarantine and the load accounting of the lending
   sources. Until then this model applies SPEC §5 in plain SQL and keeps only the staged rows.

   Staged lending accounts (SPEC §5): one row per account of the current full snapshot
   <root>/landing/lending/accounts.csv (read by @lending_rows, macros/lending.py; no file: no
   rows). Order of work per SPEC §2: rows identical in every raw column collapse to the first;
   distinct rows sharing an AccountID (trimmed) are all conflicting_duplicate; then the first
   failing rule of missing_account_id, missing_customer_id, unknown_account_type,
   missing_balance, invalid_balance, negative_balance, unknown_customer rejects the row.
   Balance: parsed like a claims amount (SPEC §2: text-normalised, one leading $ or -, commas
   dropped, digits[.digits], more than two decimals rounded half-up to cents), no upper bound
   beyond what DECIMAL(18,2) holds (a larger value is invalid_balance).
   Interface read by marts.account_summary:
     account_id TEXT, customer_id TEXT, balance DECIMAL(18,2), account_type TEXT
     ('Savings' | 'Checking'). */
MODEL (
  name staging.stg_lending_accounts,
  kind FULL,
  tags (
    lending
  ),
  grain (
    account_id
  ),
  audits (
    unique_values(columns := (
      account_id
    )),
    not_null(
      columns := (account_id, customer_id, balance, account_type, _source_file, _row_number)
    ),
    accepted_values("column" := account_type, is_in := ('Savings', 'Checking')),
    accepted_range("column" := balance, min_v := 0)
  ),
  description 'INTERIM staged lending accounts (SPEC §5) from the full snapshot landing/lending/accounts.csv; staged rows only (no quarantine yet).',
  column_descriptions (
    account_id = 'AccountID, trimmed (the business key)',
    customer_id = 'CustomerID, trimmed; always a staged customer of staging.stg_lending_customers',
    balance = 'Balance parsed like a claims amount (SPEC §2), rounded half-up to cents; >= 0',
    account_type = 'Savings | Checking (text-normalised, any case)',
    _source_file = 'File name (accounts.csv)',
    _row_number = '1-based data record in the file',
    _loaded_at = 'When the snapshot was loaded'
  )
);

WITH landed AS (
  SELECT
    l._source_file,
    l._row_number,
    l.account_id,
    l.customer_id,
    l.balance,
    l.account_type
  FROM @lending_rows('accounts') AS l
), copies AS (
  /* Step 1: exact duplicates on the raw values; a blank or whitespace-only field is NULL. */
  SELECT
    l._source_file,
    l._row_number,
    l.account_id,
    l.customer_id,
    l.balance,
    l.account_type,
    ROW_NUMBER() OVER (
      PARTITION BY NULLIF(REGEXP_REPLACE(l.account_id, '^\s+$', ''), ''), NULLIF(REGEXP_REPLACE(l.customer_id, '^\s+$', ''), ''), NULLIF(REGEXP_REPLACE(l.balance, '^\s+$', ''), ''), NULLIF(REGEXP_REPLACE(l.account_type, '^\s+$', ''), '')
      ORDER BY l._row_number
    ) AS copy_number
  FROM landed AS l
), texts AS (
  SELECT
    c._source_file,
    c._row_number,
    NULLIF(REGEXP_REPLACE(c.account_id, '^\s+|\s+$', '', 'g'), '') AS account_id,
    NULLIF(REGEXP_REPLACE(c.customer_id, '^\s+|\s+$', '', 'g'), '') AS customer_id,
    LOWER(NULLIF(TRIM(REGEXP_REPLACE(c.account_type, '\s+', ' ', 'g')), '')) AS account_type_code,
    REPLACE(NULLIF(TRIM(REGEXP_REPLACE(c.balance, '\s+', ' ', 'g')), ''), ',', '') AS balance_text
  FROM copies AS c
  WHERE
    c.copy_number = 1
), parts AS (
  SELECT
    t._source_file,
    t._row_number,
    t.account_id,
    t.customer_id,
    t.account_type_code,
    t.balance_text,
    COALESCE(REGEXP_MATCHES(t.balance_text, '^[-$]?[0-9]+([.][0-9]+)?$'), FALSE) AS is_balance_parseable,
    LTRIM(REGEXP_EXTRACT(t.balance_text, '^[-$]?([0-9]+)', 1), '0') AS balance_integer, /* '' for 0 */
    REGEXP_EXTRACT(t.balance_text, '[.]([0-9]+)$', 1) AS balance_fraction /* '' for none */
  FROM texts AS t
), parsed AS (
  SELECT
    p._source_file,
    p._row_number,
    p.account_id,
    p.customer_id,
    p.account_type_code,
    p.balance_text,
    p.is_balance_parseable,
    p.is_balance_parseable
    AND STARTS_WITH(p.balance_text, '-')
    AND (
      p.balance_integer <> '' OR RTRIM(p.balance_fraction, '0') <> ''
    ) AS is_balance_negative, /* the exact value is below zero (-0.00 is not) */
    CASE
      WHEN p.is_balance_parseable AND LENGTH(p.balance_integer) <= 16
      THEN TRY_CAST(@round_half_away(
        TRY_CAST(COALESCE(NULLIF(p.balance_integer, ''), '0') || '.' || SUBSTRING(p.balance_fraction || '000', 1, 3) AS DECIMAL(38, 3)),
        2
      ) AS DECIMAL(18, 2))
    END AS balance_magnitude /* |balance| half-up to cents from the first 3 decimals (exact); NULL when it does not fit DECIMAL(18,2) */
  FROM parts AS p
), judged AS (
  /* Step 2: distinct rows sharing an account_id; step 3: the first failing rule. */
  SELECT
    p._source_file,
    p._row_number,
    p.account_id,
    p.customer_id,
    CASE p.account_type_code
      WHEN 'savings'
      THEN 'Savings'
      WHEN 'checking'
      THEN 'Checking'
    END AS account_type,
    p.balance_magnitude AS balance,
    CASE
      WHEN NOT p.account_id IS NULL AND COUNT(*) OVER (PARTITION BY p.account_id) > 1
      THEN 'conflicting_duplicate'
      WHEN p.account_id IS NULL
      THEN 'missing_account_id'
      WHEN p.customer_id IS NULL
      THEN 'missing_customer_id'
      WHEN p.account_type_code IS NULL OR NOT p.account_type_code IN ('savings', 'checking')
      THEN 'unknown_account_type'
      WHEN p.balance_text IS NULL
      THEN 'missing_balance'
      WHEN NOT p.is_balance_parseable OR p.balance_magnitude IS NULL
      THEN 'invalid_balance'
      WHEN p.is_balance_negative
      THEN 'negative_balance'
      WHEN c.customer_id IS NULL
      THEN 'unknown_customer'
    END AS reject_reason
  FROM parsed AS p
  LEFT JOIN staging.stg_lending_customers AS c
    ON c.customer_id = p.customer_id
)
SELECT
  j.account_id::TEXT AS account_id,
  j.customer_id::TEXT AS customer_id,
  j.balance::DECIMAL(18, 2) AS balance,
  j.account_type::TEXT AS account_type,
  j._source_file::TEXT AS _source_file,
  j._row_number::BIGINT AS _row_number,
  CURRENT_TIMESTAMP::TIMESTAMP AS _loaded_at
FROM judged AS j
WHERE
  j.reject_reason IS NULL
