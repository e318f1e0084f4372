MODEL (
  name marts.fct_claims,
  kind VIEW,
  grain (claim_id),
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
