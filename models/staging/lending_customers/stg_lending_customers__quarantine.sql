/* Rejected records of the current lending customers snapshot with their raw values, file, row number
   and reason (SPEC §5). */
MODEL (
  name staging.stg_lending_customers__quarantine,
  kind VIEW,
  tags (
    lending
  ),
  grain (_source_file, _row_number)
);

SELECT
  q.raw_customer_id AS customer_id,
  q.raw_name AS name,
  q.raw_has_loan AS has_loan,
  q._reject_reason,
  q._source_file,
  q._delivery_date,
  q._row_number,
  q._loaded_at
FROM staging.stg_lending_customers__classified AS q
WHERE
  q._row_status = 'quarantined'
