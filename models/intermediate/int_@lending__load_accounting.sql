/* Load accounting of one lending snapshot (a blueprint: intermediate.int_lending_customers__load_accounting,
   int_lending_accounts__load_accounting): one row for the current file (none without it), the same
   query as the daily sources' (@load_accounting, macros/accounting.py) over the FULL snapshot
   models. Rebuilt by every run that reads the snapshot (SPEC §5). */
MODEL (
  name intermediate.int_@{lending}__load_accounting,
  blueprints ((
      lending := 'lending_customers'
    ), (
      lending := 'lending_accounts'
  )),
  kind FULL,
  tags (
    lending
  ),
  grain (
    source_file
  ),
  audits (
    unique_values(columns := (
      source_file
    )),
    not_null(columns := (source, source_file, delivery_date, raw_rows)),
    load_conservation()
  )
);

@load_accounting(@lending)
