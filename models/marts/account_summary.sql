/* Savings-account summary (SPEC §5): one row per staged Savings account with its annual
   interest. Base rate 0.01 below 10,000.00, 0.015 below 20,000.00, else 0.02; +0.005 when the
   customer's has_loan is 'Yes'. annual_interest = balance x rate rounded half away from zero to
   cents on the exact DECIMAL product (@round_half_away, macros/lending.py); new_balance =
   balance + annual_interest.

   Staging interface this mart reads (staged rows only; SPEC §5 parse and reject rules applied
   upstream by the shared classifier, benefits_mesh/contract.py):
     staging.stg_lending_customers: customer_id TEXT (trimmed key), name TEXT,
       has_loan TEXT ('Yes' | 'No' | 'None')
     staging.stg_lending_accounts: account_id TEXT, customer_id TEXT (a staged customer),
       balance DECIMAL(18,2) (>= 0), account_type TEXT ('Savings' | 'Checking')
   A root without landing/lending/ builds an empty summary (the run warns once). */
MODEL (
  name marts.account_summary,
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
      columns := (
        customer_id,
        account_id,
        original_balance,
        interest_rate,
        annual_interest,
        new_balance
      )
    ),
    join_cardinality(
      relation := 'one_to_one',
      key := account_id,
      driving_model := staging.stg_lending_accounts,
      driving_key := account_id,
      driving_condition := account_type = 'Savings'
    ),
    accepted_range("column" := original_balance, min_v := 0),
    accepted_range("column" := interest_rate, min_v := 0.01, max_v := 0.025),
    accepted_values("column" := interest_rate, is_in := (0.01, 0.015, 0.02, 0.025)),
    forall(criteria := (
      new_balance = original_balance + annual_interest
    )),
    rounded_half_away(
      "column" := annual_interest,
      exact := original_balance::DECIMAL(38, 2) * interest_rate,
      half_unit := 0.005
    )
  ),
  description 'Savings accounts with their annual interest (SPEC §5): rate by balance tier plus a loan bonus, interest rounded half away from zero to cents.',
  column_descriptions (
    customer_id = 'Owner of the account (staging.stg_lending_customers)',
    account_id = 'Savings account (staging.stg_lending_accounts)',
    original_balance = 'Staged balance, DECIMAL(18,2)',
    interest_rate = '0.01 below 10,000.00, 0.015 below 20,000.00, else 0.02; +0.005 when the customer has a loan (HasLoan Yes); DECIMAL(6,4)',
    annual_interest = 'original_balance x interest_rate rounded half away from zero to cents (exact), DECIMAL(18,2)',
    new_balance = 'original_balance + annual_interest, DECIMAL(18,2)'
  )
);

WITH rated AS (
  SELECT
    a.customer_id,
    a.account_id,
    a.balance,
    (
      CASE
        WHEN a.balance < 10000.00
        THEN 0.0100
        WHEN a.balance < 20000.00
        THEN 0.0150
        ELSE 0.0200
      END + CASE WHEN c.has_loan = 'Yes' THEN 0.0050 ELSE 0.0000 END
    )::DECIMAL(6, 4) AS interest_rate
  FROM staging.stg_lending_accounts AS a
  JOIN staging.stg_lending_customers AS c
    ON c.customer_id = a.customer_id
  WHERE
    a.account_type = 'Savings'
), interest AS (
  /* the product is widened first: DuckDB types DECIMAL(18,2) x DECIMAL(6,4) as DECIMAL(18,6) */
  SELECT
    r.customer_id,
    r.account_id,
    r.balance,
    r.interest_rate,
    @round_half_away(r.balance::DECIMAL(38, 2) * r.interest_rate, 2)::DECIMAL(18, 2) AS annual_interest
  FROM rated AS r
)
SELECT
  i.customer_id::TEXT AS customer_id,
  i.account_id::TEXT AS account_id,
  i.balance::DECIMAL(18, 2) AS original_balance,
  i.interest_rate::DECIMAL(6, 4) AS interest_rate,
  i.annual_interest::DECIMAL(18, 2) AS annual_interest,
  (
    i.balance + i.annual_interest
  )::DECIMAL(18, 2) AS new_balance
FROM interest AS i
