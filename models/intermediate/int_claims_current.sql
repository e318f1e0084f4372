/* The current version of every valid claim: the staged row of the latest delivery per claim_id
   (a correction replaces every column; a rejected re-send never replaces it).
   INCREMENTAL_BY_UNIQUE_KEY: a batch writes the latest version, within the batch, of every claim
   delivered in it, unless a later delivery (already staged) holds a newer version: that one is
   written by its own batch, before or after this one. The result therefore does not depend on
   the order batches run (a late file for an old day never overwrites a newer correction), and a
   batch reads only its own days plus the staged days after it, never the staged history: the
   daily cost follows the day's volume (DESIGN.md, Performance).
   The audits check what a batch can break, on the batch's rows (full-table checks would cost a
   scan of the whole history every day). unique_written_keys re-proves SQLMesh's merge with a
   pass over the whole table: it runs in a batch holding the first day of a month, with
   BENEFITS_FULL_AUDITS=1, or on demand (macros/audits.py); join_cardinality bounds the batch's
   rows by its staged claim_ids every run.
   source_file and source_row_number locate the current version's line in its delivery file (the
   staged copy: for exact duplicates the first, which the classifier keeps), so
   marts.trace_cost_spikes needs no join back to the staged history. */
MODEL (
  name intermediate.int_claims_current,
  kind INCREMENTAL_BY_UNIQUE_KEY (
    unique_key claim_id
  ),
  signals (
    delivery_ready(source := 'claims')
  ),
  grain (
    claim_id
  ),
  audits (
    unique_written_keys(key := claim_id, time_column := delivery_date),
    not_null(
      columns := (claim_id, company_ein, claim_type, service_date, amount, delivery_date),
      condition := delivery_date BETWEEN @start_date AND @end_date
    ),
    no_future_dates(
      "column" := service_date,
      condition := delivery_date BETWEEN @start_date AND @end_date
    ),
    join_cardinality(
      relation := 'filtering',
      key := claim_id,
      condition := delivery_date BETWEEN @start_date AND @end_date,
      driving_model := staging.stg_claims,
      driving_key := claim_id,
      driving_condition := _delivery_date BETWEEN @start_date AND @end_date
    )
  )
);

WITH batch_claims AS (
  SELECT
    s.claim_id,
    s.person_id,
    s.company_ein,
    s.claim_type,
    s.amount,
    s.service_date,
    s._source_file,
    s._row_number,
    s._delivery_date
  FROM staging.stg_claims AS s
  WHERE
    s._delivery_date BETWEEN @start_date AND @end_date
), later_claims AS (
  /* the newest delivery of every claim staged after the batch's first day: a later day of a
     several-day batch, or a delivery after the batch (one version per claim and day: staging's
     grain). For a one-day batch in delivery order this reads nothing (zone maps on the date). */
  SELECT
    l.claim_id,
    MAX(l._delivery_date) AS latest_delivery_date
  FROM staging.stg_claims AS l
  WHERE
    l._delivery_date > @start_date
  GROUP BY
    l.claim_id
)
SELECT
  b.claim_id::TEXT AS claim_id,
  b.person_id::TEXT AS person_id,
  b.company_ein::TEXT AS company_ein,
  b.claim_type::TEXT AS claim_type,
  b.amount::DECIMAL(18, 2) AS amount,
  b.service_date::DATE AS service_date,
  b._delivery_date::DATE AS delivery_date, /* delivery of the current version */
  b._source_file::TEXT AS source_file,
  b._row_number::BIGINT AS source_row_number /* its data record in source_file (1-based): marts.trace_cost_spikes */
FROM batch_claims AS b
LEFT JOIN later_claims AS l
  ON l.claim_id = b.claim_id
WHERE
  l.latest_delivery_date IS NULL OR l.latest_delivery_date <= b._delivery_date
