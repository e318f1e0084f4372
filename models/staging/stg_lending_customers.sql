/* INTERIM (issue 18) - to be replaced by the shared classifier (benefits_mesh/contract.py +
   macros/classification.py), which adds the quarantine and the load accounting of the lending
   sources. Until then this model applies SPEC §5 in plain SQL and keeps only the staged rows.

   Staged lending customers (SPEC §5): one row per customer of the current full snapshot
   <root>/landing/lending/customers.csv (read by @lending_rows, macros/lending.py; no file:
   no rows). Order of work per SPEC §2: rows identical in every raw column collapse to the
   first; distinct rows sharing a CustomerID (trimmed) are all conflicting_duplicate; then the
   first failing rule of missing_customer_id, invalid_has_loan rejects the row.
   Interface read by marts.account_summary and staging.stg_lending_accounts:
     customer_id TEXT (trimmed key), name TEXT, has_loan TEXT ('Yes' | 'No' | 'None'). */
MODEL (
  name staging.stg_lending_customers,
  kind FULL,
  tags (
    lending
  ),
  grain (
    customer_id
  ),
  audits (
    unique_values(columns := (
      customer_id
    )),
    not_null(columns := (customer_id, has_loan, _source_file, _row_number)),
    accepted_values("column" := has_loan, is_in := ('Yes', 'No', 'None'))
  ),
  description 'INTERIM staged lending customers (SPEC §5) from the full snapshot landing/lending/customers.csv; staged rows only (no quarantine yet).',
  column_descriptions (
    customer_id = 'CustomerID, trimmed (the business key)',
    name = 'Name, text-normalised (trimmed, whitespace runs collapsed); may be NULL',
    has_loan = 'HasLoan: yes/y/true -> Yes, no/n/false -> No, none or NULL -> None (trimmed, any case)',
    _source_file = 'File name (customers.csv)',
    _row_number = '1-based data record in the file',
    _loaded_at = 'When the snapshot was loaded'
  )
);

WITH landed AS (
  SELECT
    l._source_file,
    l._row_number,
    l.customer_id,
    l.name,
    l.has_loan
  FROM @lending_rows('customers') AS l
), copies AS (
  /* Step 1: exact duplicates on the raw values; a blank or whitespace-only field is NULL. */
  SELECT
    l._source_file,
    l._row_number,
    l.customer_id,
    l.name,
    l.has_loan,
    ROW_NUMBER() OVER (
      PARTITION BY NULLIF(REGEXP_REPLACE(l.customer_id, '^\s+$', ''), ''), NULLIF(REGEXP_REPLACE(l.name, '^\s+$', ''), ''), NULLIF(REGEXP_REPLACE(l.has_loan, '^\s+$', ''), '')
      ORDER BY l._row_number
    ) AS copy_number
  FROM landed AS l
), parsed AS (
  SELECT
    c._source_file,
    c._row_number,
    c.copy_number,
    NULLIF(REGEXP_REPLACE(c.customer_id, '^\s+|\s+$', '', 'g'), '') AS customer_id,
    NULLIF(TRIM(REGEXP_REPLACE(c.name, '\s+', ' ', 'g')), '') AS name,
    LOWER(NULLIF(REGEXP_REPLACE(c.has_loan, '^\s+|\s+$', '', 'g'), '')) AS has_loan_code
  FROM copies AS c
), judged AS (
  /* Step 2: distinct rows (first copies) sharing a customer_id; step 3: the first failing rule. */
  SELECT
    p._source_file,
    p._row_number,
    p.customer_id,
    p.name,
    CASE
      WHEN p.has_loan_code IN ('yes', 'y', 'true')
      THEN 'Yes'
      WHEN p.has_loan_code IN ('no', 'n', 'false')
      THEN 'No'
      WHEN p.has_loan_code IS NULL OR p.has_loan_code = 'none'
      THEN 'None'
    END AS has_loan,
    CASE
      WHEN NOT p.customer_id IS NULL AND COUNT(*) OVER (PARTITION BY p.customer_id) > 1
      THEN 'conflicting_duplicate'
      WHEN p.customer_id IS NULL
      THEN 'missing_customer_id'
      WHEN NOT (
        p.has_loan_code IS NULL
        OR p.has_loan_code IN ('yes', 'y', 'true', 'no', 'n', 'false', 'none')
      )
      THEN 'invalid_has_loan'
    END AS reject_reason
  FROM parsed AS p
  WHERE
    p.copy_number = 1
)
SELECT
  j.customer_id::TEXT AS customer_id,
  j.name::TEXT AS name,
  j.has_loan::TEXT AS has_loan,
  j._source_file::TEXT AS _source_file,
  j._row_number::BIGINT AS _row_number,
  CURRENT_TIMESTAMP::TIMESTAMP AS _loaded_at
FROM judged AS j
WHERE
  j.reject_reason IS NULL
