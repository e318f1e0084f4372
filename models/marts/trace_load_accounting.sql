/* Explains marts.fct_load_accounting (issue 21): every raw record of every file that was not
   staged (a duplicate, collapsed into the copy kept, or quarantined with its reason), with its
   raw values as one text column. Per file: the rows with row_status = 'duplicate' are its
   duplicate_rows, those with a reject_reason its count in that reason's column. A VIEW over the
   five classified models: no copy; `benefits-mesh trace fct_load_accounting --key source_file=…`
   filters it by file. */
MODEL (
  name marts.trace_load_accounting,
  kind VIEW,
  grain (source_file, row_number),
  description 'One row per duplicate or quarantined raw record of every delivery file (the rows marts.fct_load_accounting counts as duplicate_rows and quarantined_rows), with its reason and raw values.',
  column_descriptions (
    source = 'employees | plans | claims | lending_customers | lending_accounts',
    source_file = 'Delivery file name (key of marts.fct_load_accounting)',
    row_number = 'Data record in source_file, 1-based, header excluded',
    delivery_date = 'Date in the file name; for a lending snapshot, the day the run read it',
    row_status = 'duplicate (an exact copy of an earlier record of the file) | quarantined',
    reject_reason = 'The reject reason of a quarantined record (SPEC §2, §5); NULL for a duplicate',
    raw_values = 'The raw values as delivered, column=value joined with "; " in contract order (empty after = when missing)'
  )
);

SELECT
  'employees' AS source,
  e._source_file AS source_file,
  e._row_number AS row_number,
  e._delivery_date AS delivery_date,
  e._row_status AS row_status,
  e._reject_reason AS reject_reason,
  @raw_values_text('employees', e) AS raw_values
FROM staging.stg_employees__classified AS e
WHERE
  e._row_status <> 'staged'
UNION ALL
SELECT
  'plans' AS source,
  p._source_file AS source_file,
  p._row_number AS row_number,
  p._delivery_date AS delivery_date,
  p._row_status AS row_status,
  p._reject_reason AS reject_reason,
  @raw_values_text('plans', p) AS raw_values
FROM staging.stg_plans__classified AS p
WHERE
  p._row_status <> 'staged'
UNION ALL
SELECT
  'claims' AS source,
  c._source_file AS source_file,
  c._row_number AS row_number,
  c._delivery_date AS delivery_date,
  c._row_status AS row_status,
  c._reject_reason AS reject_reason,
  @raw_values_text('claims', c) AS raw_values
FROM staging.stg_claims__classified AS c
WHERE
  c._row_status <> 'staged'
UNION ALL
SELECT
  'lending_customers' AS source,
  lc._source_file AS source_file,
  lc._row_number AS row_number,
  lc._delivery_date AS delivery_date,
  lc._row_status AS row_status,
  lc._reject_reason AS reject_reason,
  @raw_values_text('lending_customers', lc) AS raw_values
FROM staging.stg_lending_customers__classified AS lc
WHERE
  lc._row_status <> 'staged'
UNION ALL
SELECT
  'lending_accounts' AS source,
  la._source_file AS source_file,
  la._row_number AS row_number,
  la._delivery_date AS delivery_date,
  la._row_status AS row_status,
  la._reject_reason AS reject_reason,
  @raw_values_text('lending_accounts', la) AS raw_values
FROM staging.stg_lending_accounts__classified AS la
WHERE
  la._row_status <> 'staged'
