MODEL (
  name marts.fct_claims,
  kind VIEW,
  grain (
    claim_id
  ),
  audits (
    unique_values(columns := (
      claim_id
    )),
    not_null(columns := (claim_id, company_ein, service_date, amount)),
    known_reference(
      "column" := person_id,
      reference_model := staging.stg_employees,
      reference_column := person_id
    )
  ),
  depends_on (
    staging.stg_employees
  ), /* referential check claims -> known employees needs the
    employees table as a parent; a view never blocks on a parent's pending day, so this adds no
    coupling between the sources */
  description 'One row per current claim: the latest delivery''s valid version of every claim_id (SPEC §2 claims).',
  column_descriptions (
    claim_id = 'Claim identifier',
    person_id = 'Person the claim is for, as delivered',
    company_ein = 'Company EIN (NN-NNNNNNN)',
    claim_type = 'medical | dental | vision | pharmacy',
    amount = 'Claim amount, DECIMAL(18,2)',
    service_date = 'Date of service',
    delivery_date = 'Delivery date of the current version',
    source_file = 'Delivery file of the current version'
  )
);

SELECT
  c.claim_id,
  c.person_id,
  c.company_ein,
  c.claim_type,
  c.source_file,
  c.amount,
  c.service_date,
  c.delivery_date
FROM intermediate.int_claims_current AS c
