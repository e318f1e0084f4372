"""When an audit's re-proof runs (issue 20): one rule for every audit that has one.

A re-proof checks again what SQLMesh itself guarantees, at the price of a pass over the model's
whole history: ``unique_written_keys`` on an INCREMENTAL_BY_UNIQUE_KEY model re-proves SQLMesh's
merge (the batch's keys deleted from the table and the batch inserted with one row per key, in one
transaction). It runs in a batch whose interval holds the first day of a month (a monthly check
on a daily schedule; a plan's backfill over a month start too), in every batch with
``BENEFITS_FULL_AUDITS=1`` (``benefits_mesh.settings.full_audits``), and on demand with
``BENEFITS_FULL_AUDITS=1 sqlmesh audit --model <model> --start <day> --end <day>``. Otherwise
``@re_proof_due(@start_ds, @end_ds)`` renders FALSE, which DuckDB folds into an empty result
without reading the table, and the log says so.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlglot import exp
from sqlmesh import macro

from benefits_mesh.settings import full_audits


def re_proof_is_due(start: dt.date, end: dt.date) -> bool:
    """True when BENEFITS_FULL_AUDITS=1 or [start, end] holds the first day of a month."""
    return full_audits() or end.replace(day=1) >= start


@macro()
def re_proof_due(evaluator, start_ds: exp.Expression, end_ds: exp.Expression) -> exp.Boolean:
    """TRUE when the audited interval's re-proofs run (see the module docstring), else FALSE."""
    if evaluator.runtime_stage == "loading":
        return exp.true()
    start, end = dt.date.fromisoformat(start_ds.name), dt.date.fromisoformat(end_ds.name)
    if re_proof_is_due(start, end):
        return exp.true()
    logging.getLogger("benefits_mesh.audits").info(
        "re-proof not due for %s .. %s (it runs in a batch holding the first day of a month, "
        "or with BENEFITS_FULL_AUDITS=1)",
        start,
        end,
    )
    return exp.false()
