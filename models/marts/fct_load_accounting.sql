/* One row per delivery file of every source (SPEC §3, §5): the union of the per-source load
   accounting tables, each daily one maintained incrementally as its source's files are loaded,
   each lending one rebuilt with its snapshot. */
MODEL (
  name marts.fct_load_accounting,
  kind VIEW,
  grain (
    source_file
  ),
  audits (
    unique_values(columns := (
      source_file
    )),
    not_null(columns := (source, source_file, delivery_date, raw_rows)),
    accepted_values("column" := source, is_in := @accounted_sources()),
    load_conservation()
  ),
  description 'One row per delivery file proving that no raw row is lost (SPEC §2, §3): raw_rows = staged_rows + duplicate_rows + quarantined_rows, with a count per reject reason.',
  column_descriptions (
    source = 'employees | plans | claims (daily deliveries) | lending_customers | lending_accounts (the lending snapshots)',
    source_file = 'Delivery file name',
    delivery_date = 'Date in the file name; for a lending snapshot, the day the run read it',
    raw_rows = 'Data records in the file (header and completely empty lines excluded)',
    staged_rows = 'Records staged (valid)',
    duplicate_rows = 'Records identical to an earlier record of the same file',
    quarantined_rows = 'Records rejected, each with one reason counted in the reason columns'
  )
);

SELECT
  e.*
FROM intermediate.int_employees__load_accounting AS e
UNION ALL
SELECT
  p.*
FROM intermediate.int_plans__load_accounting AS p
UNION ALL
SELECT
  c.*
FROM intermediate.int_claims__load_accounting AS c
UNION ALL
SELECT
  lc.*
FROM intermediate.int_lending_customers__load_accounting AS lc
UNION ALL
SELECT
  la.*
FROM intermediate.int_lending_accounts__load_accounting AS la
