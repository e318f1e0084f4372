/* Explains marts.fct_employee_roster_mismatches (issue 21): for every company row, the employee
   records counted in observed_headcount (record_kind = employee: the person's current record as
   of the mart's as_of_date D, active on D, resolved to the company; ein_source tells which rule
   resolved the EIN) with the delivery line of each, plus the company's entry of the lookup
   (record_kind = lookup: reference/company_lookup.json, row_number = 1-based position of the
   company object in the file, lookup_headcount = its expected_headcount). The employee rows of
   a company number exactly its observed_headcount; a company not in the lookup has no lookup
   row. The current record and "active on D" are the mart's definitions, applied with the mart's
   own as_of_date (so BENEFITS_ROSTER_AS_OF is honoured without repeating it).
   `benefits-mesh trace fct_employee_roster_mismatches --key company_ein=…` filters this view by
   the key. A VIEW: no copy, always in step with the mart. */
MODEL (
  name marts.trace_roster_mismatches,
  kind VIEW,
  grain (company_ein, source_file, row_number),
  description 'One row per (company row of marts.fct_employee_roster_mismatches, employee record counted in its observed_headcount) with the delivery file line of the record, plus one row for the company''s entry in reference/company_lookup.json (record_kind = lookup).',
  column_descriptions (
    company_ein = 'Company EIN (key of marts.fct_employee_roster_mismatches)',
    record_kind = 'employee: a record counted in observed_headcount; lookup: the company''s entry in the lookup',
    person_id = 'The person (employee rows); NULL on the lookup row',
    ein_source = 'How the record''s EIN was resolved: column | notes | email_domain (employee rows); NULL on the lookup row',
    status = 'active | terminated | leave as resolved (employee rows; a terminated record whose term_date is after D still counts); NULL on the lookup row',
    start_date = 'Employment start of the record (employee rows)',
    term_date = 'Termination date of the record, after D or NULL (employee rows)',
    delivery_date = 'Delivery date of the record (employee rows); NULL on the lookup row',
    source_file = 'employees_<date>.csv (landing/employees/<source_file>), or reference/company_lookup.json on the lookup row',
    row_number = 'Data record of the line in source_file, 1-based, header excluded; on the lookup row the 1-based position of the company object in the lookup',
    lookup_headcount = 'The lookup entry''s expected_headcount (lookup row); NULL on employee rows',
    expected_headcount = 'The mart row''s expected_headcount (with the default file provider: the lookup entry''s)',
    observed_headcount = 'The mart row''s observed_headcount (= number of its employee rows)',
    as_of_date = 'The mart row''s as_of_date D'
  )
);

WITH roster AS (
  SELECT
    m.company_ein,
    m.expected_headcount,
    m.observed_headcount,
    m.as_of_date
  FROM marts.fct_employee_roster_mismatches AS m
), as_of AS (
  /* D: the same on every row of the mart */
  SELECT
    MAX(r.as_of_date) AS as_of_date
  FROM roster AS r
), current_records AS (
  /* The person's current state as of D: the latest version delivered on or before D (as in the
     mart). */
  SELECT
    v.person_id,
    v.company_ein,
    v.ein_source,
    v.status,
    v.start_date,
    v.term_date,
    v._delivery_date,
    v._source_file,
    v._row_number,
    a.as_of_date
  FROM intermediate.int_employee_versions AS v
  CROSS JOIN as_of AS a
  WHERE
    v._delivery_date <= a.as_of_date
  QUALIFY
    @is_latest_version(v.person_id, v._delivery_date)
)
SELECT
  r.company_ein::TEXT AS company_ein,
  'employee'::TEXT AS record_kind,
  c.person_id::TEXT AS person_id,
  c.ein_source::TEXT AS ein_source,
  c.status::TEXT AS status,
  c.start_date::DATE AS start_date,
  c.term_date::DATE AS term_date,
  c._delivery_date::DATE AS delivery_date,
  c._source_file::TEXT AS source_file,
  c._row_number::BIGINT AS row_number,
  NULL::BIGINT AS lookup_headcount,
  r.expected_headcount::BIGINT AS expected_headcount,
  r.observed_headcount::BIGINT AS observed_headcount,
  r.as_of_date::DATE AS as_of_date
FROM roster AS r
JOIN current_records AS c
  ON c.company_ein = r.company_ein
  AND @active_on(c.start_date, c.term_date, c.as_of_date) /* active on D, as the mart counts */
UNION ALL
SELECT
  r.company_ein::TEXT AS company_ein,
  'lookup'::TEXT AS record_kind,
  NULL::TEXT AS person_id,
  NULL::TEXT AS ein_source,
  NULL::TEXT AS status,
  NULL::DATE AS start_date,
  NULL::DATE AS term_date,
  NULL::DATE AS delivery_date,
  'reference/company_lookup.json'::TEXT AS source_file,
  l.lookup_position::BIGINT AS row_number,
  l.expected_headcount::BIGINT AS lookup_headcount,
  r.expected_headcount::BIGINT AS expected_headcount,
  r.observed_headcount::BIGINT AS observed_headcount,
  r.as_of_date::DATE AS as_of_date
FROM roster AS r
JOIN staging.stg_companies AS l
  ON l.company_ein = r.company_ein
