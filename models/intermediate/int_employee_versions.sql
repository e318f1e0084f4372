/* One row per staged employee record (a version of the person), with the notes parsed and the
   company EIN resolved (SPEC §2 employees). FULL: the roster is small and every rule is cheaper
   to get right by recomputing. */
MODEL (
  name intermediate.int_employee_versions,
  kind VIEW,
  grain (person_id, _delivery_date),
  audits (
    unique_combination_of_columns(columns := (person_id, _delivery_date)),
    not_null(columns := (person_id, start_date, status, ein_source)),
    accepted_values("column" := status, is_in := ('active', 'terminated', 'leave')),
    accepted_values("column" := ein_source, is_in := ('column', 'notes', 'email_domain', 'unresolved')),
    join_cardinality(
      relation := 'one_to_one',
      key := (person_id, _delivery_date),
      driving_model := staging.stg_employees,
      driving_key := (person_id, _delivery_date)
    )
  )
);

WITH stg_employees AS (
  SELECT
    e.person_id,
    e.full_name,
    e.email,
    e.title,
    e.company_ein,
    e.notes,
    e.start_date,
    e._source_file,
    e._delivery_date,
    e._row_number
  FROM staging.stg_employees AS e
), stg_company_domains AS (
  SELECT
    d.company_ein,
    d.email_domain
  FROM staging.stg_company_domains AS d
), stg_companies AS (
  SELECT
    c.company_ein,
    c.lookup_position
  FROM staging.stg_companies AS c
), domain_owners AS (
  /* A domain listed by several companies resolves to the first of them in the lookup file. */
  SELECT
    d.email_domain,
    d.company_ein
  FROM stg_company_domains AS d
  JOIN stg_companies AS c
    ON c.company_ein = d.company_ein
  QUALIFY
    ROW_NUMBER() OVER (PARTITION BY d.email_domain ORDER BY c.lookup_position, d.company_ein) = 1
), parsed_notes AS (
  SELECT
    e.*,
    LOWER(@note_value(e.notes, status)) AS note_status,
    @parse_date(@note_value(e.notes, term_date)) AS note_term_date,
    @note_value(e.notes, dept) AS note_dept,
    @parse_ein(@note_value(e.notes, ein)) AS note_ein,
    @parse_date(@terminated_phrase_date(e.notes)) AS phrase_term_date,
    SUBSTRING(e.email, STRPOS(e.email, '@') + 1) AS email_domain
  FROM stg_employees AS e
), resolved AS (
  /* Employees x domain owners: many-to-one on email_domain (domain_owners is unique per domain). */
  SELECT
    p.*,
    CASE
      WHEN NOT p.phrase_term_date IS NULL
      THEN 'terminated'
      WHEN p.note_status IN ('active', 'terminated', 'leave')
      THEN p.note_status
      ELSE 'active'
    END AS status,
    o.company_ein AS domain_ein
  FROM parsed_notes AS p
  LEFT JOIN domain_owners AS o
    ON o.email_domain = p.email_domain
)
SELECT
  r.person_id::TEXT AS person_id,
  COALESCE(r.company_ein, r.note_ein, r.domain_ein)::TEXT AS company_ein, /* resolved EIN (SPEC rules 1-3), NULL when unresolved */
  r.full_name::TEXT AS full_name,
  r.email::TEXT AS email,
  r.title::TEXT AS title,
  r.note_dept::TEXT AS dept, /* `dept` field of the notes */
  r.status::TEXT AS status, /* active | terminated | leave (leave counts as active) */
  CASE
    WHEN NOT r.company_ein IS NULL
    THEN 'column'
    WHEN NOT r.note_ein IS NULL
    THEN 'notes'
    WHEN NOT r.domain_ein IS NULL
    THEN 'email_domain'
    ELSE 'unresolved'
  END::TEXT AS ein_source, /* which EIN rule applied: column | notes | email_domain | unresolved */
  r.notes::TEXT AS notes,
  r.start_date::DATE AS start_date,
  COALESCE(
    r.note_term_date,
    r.phrase_term_date,
    CASE WHEN r.status = 'terminated' THEN r._delivery_date END
  )::DATE AS term_date, /* applies whatever the status; terminated without a date = delivery date */
  r._source_file::TEXT AS _source_file,
  r._delivery_date::DATE AS _delivery_date,
  r._row_number::BIGINT AS _row_number
FROM resolved AS r
