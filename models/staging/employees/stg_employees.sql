/* Staged employee records: one row per valid person record per delivery (SPEC §2 employees).
   The latest delivery's row is the person's current state; earlier rows are history. */
MODEL (
  name staging.stg_employees,
  kind INCREMENTAL_BY_TIME_RANGE (
    time_column _delivery_date
  ),
  signals (
    delivery_ready(source := 'employees')
  ),
  grain (person_id, _delivery_date),
  audits (
    unique_combination_of_columns(columns := (person_id, _delivery_date)),
    not_null(columns := (person_id, start_date))
  )
);

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
  e._row_number,
  e._loaded_at
FROM staging.stg_employees__classified AS e
WHERE
  e._row_status = 'staged' AND e._delivery_date BETWEEN @start_date AND @end_date
