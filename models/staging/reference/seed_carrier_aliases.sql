/* Carrier-name aliases (SPEC §2 plans): text-normalised, lower-cased alias -> canonical name. */
MODEL (
  name staging.seed_carrier_aliases,
  kind SEED (
    path '../../../seeds/carrier_aliases.csv'
  ),
  grain (
    alias
  ),
  columns (
    alias TEXT,
    carrier_name TEXT
  ),
  audits (
    unique_values(columns := (
      alias
    )),
    not_null(columns := (alias, carrier_name))
  )
)
