/* Every raw record of the current lending accounts snapshot, classified per SPEC §5 (and §2's
   order of work): staged, duplicate or quarantined with the first failing rule as its reason.
   The rules are LENDING_ACCOUNTS in benefits_mesh/contract.py, rendered by the shared classifier
   (macros/classification.py). FULL: every build re-reads the snapshot. */
MODEL (
  name staging.stg_lending_accounts__classified,
  kind FULL,
  tags (
    lending
  ),
  grain (_source_file, _row_number),
  audits (
    not_null(columns := (_source_file, _delivery_date, _row_number, _row_status))
  )
);

@classify_lending_accounts()
