/* Staged lending accounts (SPEC §5): one row per valid account of the current snapshot
   landing/lending/accounts.csv (classified in staging.stg_lending_accounts__classified).
   Interface read by marts.account_summary:
     account_id TEXT, customer_id TEXT (a staged customer), balance DECIMAL(18,2) (>= 0),
     account_type TEXT ('Savings' | 'Checking'). */
MODEL (
  name staging.stg_lending_accounts,
  kind VIEW,
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
  )
);

SELECT
  a.account_id,
  a.customer_id,
  a.balance,
  a.account_type,
  a._source_file,
  a._delivery_date,
  a._row_number,
  a._loaded_at
FROM staging.stg_lending_accounts__classified AS a
WHERE
  a._row_status = 'staged'
