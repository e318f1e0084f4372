MODEL (
  name marts.dim_employees,
  kind VIEW,
  grain (person_id, valid_from),
  audits (
    unique_combination_of_columns(columns := (person_id, valid_from)),
    not_null(columns := (person_id, valid_from, is_current, ein_source, status)),
    forall(criteria := (
      valid_to IS NULL OR valid_to > valid_from
    )),
    no_future_dates("column" := valid_from),
    join_cardinality(
      relation := 'one_to_one',
      key := (person_id, valid_from),
      driving_model := intermediate.int_employee_versions,
      driving_key := (person_id, _delivery_date)
    )
  ),
  description 'Employees as a type-2 slowly changing dimension: one row per staged version (one per delivery that carried the person), valid from its delivery date until the next version''s delivery date (SPEC §2 employees).',
  column_descriptions (
    person_id = 'Person identifier',
    company_ein = 'Resolved company EIN; NULL when unresolved',
    ein_source = 'EIN rule that applied: column | notes | email_domain | unresolved',
    status = 'active | terminated | leave (leave counts as active)',
    start_date = 'Employment start date',
    term_date = 'Termination date (from notes, or the delivery date of a terminated record without one)',
    valid_from = 'Delivery date of this version (inclusive)',
    valid_to = 'Delivery date of the next version (exclusive); NULL for the current version',
    is_current = 'TRUE for the person''s current state (latest delivery)'
  )
);

WITH int_employee_versions AS (
  SELECT
    v.person_id,
    v.company_ein,
    v.full_name,
    v.email,
    v.title,
    v.dept,
    v.status,
    v.ein_source,
    v.start_date,
    v.term_date,
    v._source_file,
    v._delivery_date
  FROM intermediate.int_employee_versions AS v
), versions_linked AS (
  SELECT
    v.*,
    LEAD(v._delivery_date) OVER (PARTITION BY v.person_id ORDER BY v._delivery_date) AS next_delivery_date
  FROM int_employee_versions AS v
)
SELECT
  v.person_id::TEXT AS person_id,
  v.company_ein::TEXT AS company_ein,
  v.full_name::TEXT AS full_name,
  v.email::TEXT AS email,
  v.title::TEXT AS title,
  v.dept::TEXT AS dept,
  v.status::TEXT AS status,
  v.ein_source::TEXT AS ein_source,
  v._source_file::TEXT AS source_file,
  (
    v.next_delivery_date IS NULL
  )::BOOLEAN AS is_current,
  v.start_date::DATE AS start_date,
  v.term_date::DATE AS term_date,
  v._delivery_date::DATE AS valid_from,
  v.next_delivery_date::DATE AS valid_to
FROM versions_linked AS v
