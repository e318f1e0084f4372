/* Every raw record of the claims deliveries in the interval, classified per SPEC §2:
   staged, duplicate (an exact copy of an earlier row in the same file) or quarantined with the
   first failing rule as its reason. Raw values are kept beside the parsed ones.
   Performance (DESIGN.md, Performance): each normalisation is computed once as a column, and the
   two duplicate windows run only over rows whose claim_id repeats within its file (or is
   missing): exact copies and conflicting duplicates can only be among them. */
MODEL (
  name staging.stg_claims__classified,
  kind INCREMENTAL_BY_TIME_RANGE (
    time_column _delivery_date,
    batch_concurrency 1 /* a backfill's batches one at a time: two at once doubled the spill */
  ),
  signals (
    delivery_ready(source := 'claims')
  ),
  tags (
    landing
  ),
  grain (_source_file, _row_number),
  audits (
    not_null(columns := (_source_file, _delivery_date, _row_number, _row_status)),
    no_future_dates("column" := _delivery_date)
  )
);

@classify_claims()
