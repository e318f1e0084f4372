/* Staged lending customers (SPEC §5): one row per valid customer of the current snapshot
   landing/lending/customers.csv (classified in staging.stg_lending_customers__classified).
   Interface read by marts.account_summary and the unknown_customer rule of the accounts:
     customer_id TEXT (trimmed key), name TEXT, has_loan TEXT ('Yes' | 'No' | 'None'). */
MODEL (
  name staging.stg_lending_customers,
  kind VIEW,
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
  )
);

SELECT
  c.customer_id,
  c.name,
  c.has_loan,
  c._source_file,
  c._delivery_date,
  c._row_number,
  c._loaded_at
FROM staging.stg_lending_customers__classified AS c
WHERE
  c._row_status = 'staged'
