/* Rejected records of the current lending accounts snapshot with their raw values, file, row number
   and reason (SPEC §5). */
MODEL (
  name staging.stg_lending_accounts__quarantine,
  kind VIEW,
  tags (
    lending
  ),
  grain (_source_file, _row_number)
);

SELECT
  q.raw_account_id AS account_id,
  q.raw_customer_id AS customer_id,
  q.raw_balance AS balance,
  q.raw_account_type AS account_type,
  q._reject_reason,
  q._source_file,
  q._delivery_date,
  q._row_number,
  q._loaded_at
FROM staging.stg_lending_accounts__classified AS q
WHERE
  q._row_status = 'quarantined'
