"""Row-count stability of the marts between runs (issue 6), a non-blocking guardrail.

`config.py` runs ``@check_mart_row_counts()`` as an ``after_all`` environment statement: at the
end of every ``sqlmesh plan`` that is applied and every ``sqlmesh run`` that finds missing
intervals, even when none of them is ready (SQLMesh skips environment statements only when no
interval is missing at all). It counts the rows of every mart of the
environment, compares each count with the previous check's, prints a warning for a mart whose
count moved beyond the tolerance, and records the counts in ``ops.mart_row_counts``. When SQLMesh's
state shows nothing written since the environment's previous check (every interval waited for a
file), it neither counts nor records: the counts cannot have moved (``_unchanged_since``).

Why not an audit: SQLMesh keeps no previous version of a table within one environment, audits
cannot write (no history), and audits of VIEW marts are evaluated only when the view is
(re)created by a plan, never by ``sqlmesh run``.

The check never fails a plan or run: configuration errors, a failed count or an unreadable
history become warnings. Thresholds (``benefits_mesh.settings``), read when the check runs:
``BENEFITS_ROW_COUNT_TOLERANCE[_<MART>]`` (fraction, default 0.5) and
``BENEFITS_ROW_COUNT_MIN_CHANGE`` (rows, default 10).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from sqlglot import exp, parse_one
from sqlmesh import macro

from benefits_mesh.settings import (
    row_count_min_change,
    row_count_tolerance,
    row_count_tolerance_overrides,
)

#: Where the counts are kept: outside SQLMesh's schemas, untouched by plans and the janitor.
HISTORY_SCHEMA = "ops"
HISTORY_TABLE = "ops.mart_row_counts"
HISTORY_COLUMNS = {
    "check_id": "BIGINT",  # one per check (all marts of one plan/run); orders the history
    "recorded_at": "TIMESTAMP",  # UTC wall clock of the check
    "environment": "VARCHAR",  # SQLMesh environment (prod, dev, ...)
    "model": "VARCHAR",  # the mart model, e.g. marts.fct_claims (not the environment's view)
    "row_count": "BIGINT",
    "previous_row_count": "BIGINT",  # the baseline; NULL for the first record
    "baseline_environment": "VARCHAR",  # where the baseline came from (the same env, or prod)
    "change_pct": "DECIMAL(18, 2)",  # (row_count - previous) / previous * 100; NULL from 0
    "tolerance": "DOUBLE",  # the fraction in force for this mart
    "min_change": "BIGINT",  # the absolute floor in force
    "status": "VARCHAR",  # ok | unstable | first
}


def _ddl() -> list[str]:
    columns = ", ".join(f"{name} {kind}" for name, kind in HISTORY_COLUMNS.items())
    return [
        f"CREATE SCHEMA IF NOT EXISTS {HISTORY_SCHEMA}",
        f"CREATE TABLE IF NOT EXISTS {HISTORY_TABLE} ({columns})",
    ]


def _sql(text: str) -> exp.Expression:
    """A statement written in DuckDB SQL, for the engine adapter to generate in its own dialect
    (a plain string would go to the engine as it is: the check runs on Spark too)."""
    return parse_one(text, read="duckdb")


def _warn(message: str) -> None:
    """Print a warning the CLI user sees (``[WARNING] …``, stdout; benefits_mesh.sqlmesh_api)."""
    from benefits_mesh.sqlmesh_api import warn

    warn(message)


def marts_schema(environment: str) -> str:
    """The schema of the environment's mart views: ``marts`` in prod, ``marts__<env>`` else."""
    return "marts" if environment == "prod" else f"marts__{environment}"


def is_unstable(previous: int, current: int, tolerance: float, min_change: int) -> bool:
    """|current − previous| > tolerance × previous and > min_change (exact, no float rounding)."""
    change = abs(current - previous)
    return change > Fraction(str(tolerance)) * previous and change > min_change


def change_pct(previous: int | None, current: int) -> Decimal | None:
    if not previous:
        return None
    pct = Decimal(current - previous) * 100 / Decimal(previous)
    return pct.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)  # half away from zero


def _literal(value) -> exp.Expression:
    if value is None:
        return exp.null()
    if isinstance(value, str):
        return exp.Literal.string(value)
    return exp.Literal.number(value)


def _unchanged_since(adapter, environment: str, gateway: str | None = None) -> int | None:
    """The environment's latest check when nothing was written since it, else None.

    "Written" is read from SQLMesh's state (schema ``sqlmesh``: in this warehouse, or in
    PostgreSQL with BENEFITS_STATE=postgres): the latest ``last_altered_ts`` of any interval (set
    when a batch is evaluated, kept by the janitor's compaction) and the environment's
    ``finalized_ts`` (set when a plan updates its views). A run that only waited for files (every
    interval pending) then neither counts nor records: the counts cannot have moved, and a daily
    no-op run stays cheap whatever the marts' size. Any doubt (no previous check, unreadable
    state) means: check. The state is read through benefits_mesh.sqlmesh_api (its tables are
    SQLMesh internals).
    """
    from benefits_mesh import sqlmesh_api

    if not adapter.table_exists(HISTORY_TABLE):
        return None
    env = exp.Literal.string(environment).sql()
    latest = adapter.fetchone(
        _sql(
            f"SELECT check_id, recorded_at FROM {HISTORY_TABLE} WHERE environment = {env} "
            "ORDER BY check_id DESC LIMIT 1"
        )
    )
    if not latest or None in latest:
        return None
    written = sqlmesh_api.state_last_written(adapter.fetchall, environment, gateway)
    if written is None:
        return None
    check_id, recorded_at = latest
    checked_ms = recorded_at.replace(tzinfo=dt.UTC).timestamp() * 1000
    return check_id if max(written) < checked_ms else None


def _check(evaluator) -> list[str]:
    started = time.monotonic()
    environment = evaluator.this_env
    schema = marts_schema(environment)
    # every mart of the environment, whether or not its view exists (a dev environment has views
    # only for the models it changed, unless planned with --include-unmodified)
    marts = sorted(
        {
            table.name
            for table in (exp.to_table(view) for view in evaluator.views)
            # the trace views (issue 21) explain other marts row by row: their counts follow
            # those marts, and counting them would join or scan the staged history every run
            if table.db == schema and not table.name.startswith("trace_")
        }
    )
    if not marts:
        return []

    # the thresholds first: a bad value skips the check with the variable named
    min_change = row_count_min_change()
    tolerances = {mart: row_count_tolerance(mart) for mart in marts}
    for name in sorted(set(row_count_tolerance_overrides()) - set(marts)):
        _warn(
            f"row-count check: BENEFITS_ROW_COUNT_TOLERANCE_{name.upper()} names no mart of "
            f"{environment} (marts: {', '.join(marts)}); ignored"
        )

    adapter = evaluator.engine_adapter
    unchanged_since = _unchanged_since(adapter, environment, evaluator.gateway)
    if unchanged_since is not None:
        logging.getLogger("benefits_mesh.stability").info(
            "row-count check: nothing written to %s since check %s; skipped",
            environment,
            unchanged_since,
        )
        return []
    existing = {data_object.name for data_object in adapter.get_data_objects(schema)}
    counts: dict[str, int] = {}
    for mart in marts:
        if mart not in existing:
            continue
        try:
            (counts[mart],) = adapter.fetchone(
                exp.select("COUNT(*)").from_(exp.table_(mart, db=schema, quoted=True))
            )
        except Exception as error:  # one bad view must not stop the others
            _warn(f"row-count check: could not count {schema}.{mart}: {error}")
    if not counts:
        return []

    for statement in _ddl():
        adapter.execute(_sql(statement))
    layout = set(adapter.columns(HISTORY_TABLE))
    if missing := set(HISTORY_COLUMNS) - layout:
        _warn(
            f"row-count check: {HISTORY_TABLE} lacks column(s) {', '.join(sorted(missing))}; "
            "counts not compared or recorded (rename the table to start a new history)"
        )
        return []

    # the baseline of a mart: its latest record in this environment; a dev environment's first
    # check compares with prod's latest record of the same model
    latest = {
        (env, model): count
        for env, model, count in adapter.fetchall(
            _sql(
                "SELECT h.environment, h.model, h.row_count FROM (SELECT environment, model, "
                "row_count, ROW_NUMBER() OVER (PARTITION BY environment, model "
                f"ORDER BY check_id DESC) AS recency FROM {HISTORY_TABLE} "
                f"WHERE environment IN ({exp.Literal.string(environment).sql()}, 'prod')) AS h "
                "WHERE h.recency = 1"
            )
        )
    }
    (check_id,) = adapter.fetchone(
        _sql(f"SELECT COALESCE(MAX(check_id), 0) + 1 FROM {HISTORY_TABLE}")
    )
    recorded_at = dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(sep=" ")

    log = logging.getLogger("benefits_mesh.stability")
    rows = []
    for mart, count in counts.items():
        model = f"marts.{mart}"
        baseline_env = next((env for env in (environment, "prod") if (env, model) in latest), None)
        previous = latest.get((baseline_env, model))
        tolerance = tolerances[mart]
        if previous is None:
            status = "first"
        elif is_unstable(previous, count, tolerance, min_change):
            status = "unstable"
        else:
            status = "ok"
        pct = change_pct(previous, count)
        if status == "unstable":
            moved = f"{pct:+}%" if pct is not None else "from 0"
            baseline = "" if baseline_env == environment else f", baseline {baseline_env}"
            _warn(
                f"row-count check: {model} in {environment}: {previous:,} -> {count:,} rows "
                f"({moved}{baseline}), beyond the tolerance of +/-{tolerance * 100:g}% "
                f"(more than {min_change:,} rows changed). Not blocking: check the latest "
                f"deliveries or the change planned. Tolerance: "
                f"BENEFITS_ROW_COUNT_TOLERANCE_{mart.upper()}; history: {HISTORY_TABLE}"
            )
        else:
            log.info(
                "row-count check: %s in %s: %s -> %s rows (%s)",
                model,
                environment,
                previous,
                count,
                status,
            )
        rows.append(
            exp.Tuple(
                expressions=[
                    _literal(check_id),
                    exp.cast(exp.Literal.string(recorded_at), "TIMESTAMP"),
                    _literal(environment),
                    _literal(model),
                    _literal(count),
                    _literal(previous),
                    _literal(baseline_env),
                    exp.cast(_literal(None if pct is None else str(pct)), "DECIMAL(18, 2)"),
                    _literal(tolerance),
                    _literal(min_change),
                    _literal(status),
                ]
            )
        )
    log.info(
        "row-count check %s: %d mart(s) of %s counted in %.2f s",
        check_id,
        len(counts),
        environment,
        time.monotonic() - started,
    )
    insert = exp.insert(
        exp.Values(expressions=rows),
        exp.to_table(HISTORY_TABLE),
        columns=list(HISTORY_COLUMNS),
    )
    return [insert.sql(dialect="duckdb")]


@macro()
def check_mart_row_counts(evaluator):
    """After-all check: count every mart, warn on unstable counts, return the INSERT of them.

    Returns SQL statements for SQLMesh to execute: the history table's DDL (idempotent) and the
    INSERT recording this check. Never raises: any failure of the check is a warning.
    """
    statements = _ddl()
    if evaluator.runtime_stage == "loading":
        return statements
    if not all(key in evaluator.locals for key in ("this_env", "views", "engine_adapter")):
        return statements  # not an environment statement, or no model: nothing to check
    try:
        return statements + _check(evaluator)
    except Exception as error:  # a guardrail must not fail the plan or run
        _warn(f"row-count check skipped: {error}")
        return statements
