"""`benefits-mesh trace MART --key COLUMN=VALUE …` (issue 21): the raw delivery lines behind one
mart row, read from the mart's trace view (``marts.trace_<…>``, the same answer as SQL for the UI
and BI tools), filtered by the mart row's keys.

Supported marts: ``fct_claims_cost_spikes`` (keys company_ein, window_end; the view is also
filtered on service_date, the 180 days of the two windows, so DuckDB's zone maps skip the rest of
the claims history), ``fct_load_accounting`` (key source_file), ``fct_plan_gaps`` (keys
company_ein, plan_type, gap_start: the plans of the islands on both sides of the gap) and
``fct_employee_roster_mismatches`` (key company_ein: the employee records counted, and the
company's lookup entry).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import sys
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb

from benefits_mesh import settings, warehouse
from benefits_mesh.contract import all_reasons
from benefits_mesh.text import printable


class TraceError(warehouse.WarehouseError):
    """A mart, key or value the trace cannot use, or a key selecting no mart row: one line."""


@dataclass(frozen=True)
class Trace:
    view: str
    #: the mart's grain, in order; each is given with --key
    keys: tuple[str, ...]
    #: keys that are dates (checked and compared as DATE)
    date_keys: tuple[str, ...] = ()
    order: str = "source_file, row_number"


TRACES: dict[str, Trace] = {
    "fct_claims_cost_spikes": Trace(
        view="trace_cost_spikes",
        keys=("company_ein", "window_end"),
        date_keys=("window_end",),
        order='"window" DESC, service_date, claim_id, source_file, row_number',
    ),
    "fct_load_accounting": Trace(view="trace_load_accounting", keys=("source_file",)),
    "fct_plan_gaps": Trace(
        view="trace_plan_gaps",
        keys=("company_ein", "plan_type", "gap_start"),
        date_keys=("gap_start",),
        order="side DESC, start_date, plan_id",
    ),
    "fct_employee_roster_mismatches": Trace(
        view="trace_roster_mismatches",
        keys=("company_ein",),
        order="record_kind DESC, person_id, source_file, row_number",
    ),
}

#: the columns of the mart row that the table format's totals are compared with
_SPIKE_TOTALS = {"current": "current_90d_cost", "prior": "prior_90d_cost"}


@dataclass
class TraceResult:
    mart: str
    keys: dict[str, str]
    mart_row: dict
    columns: list[str]
    rows: list[tuple]


def parse_keys(mart: str, pairs: list[str]) -> dict[str, str]:
    """``COLUMN=VALUE`` pairs checked against the mart's grain (every key once, nothing else)."""
    if mart not in TRACES:
        raise TraceError(
            f"trace: mart {mart!r} cannot be traced (yet); traceable: {', '.join(TRACES)}"
        )
    trace = TRACES[mart]
    keys: dict[str, str] = {}
    for pair in pairs:
        column, sep, value = pair.partition("=")
        column = column.strip()
        if not sep or not column:
            raise TraceError(f"trace {mart}: --key {pair!r} is not COLUMN=VALUE")
        if column not in trace.keys:
            raise TraceError(
                f"trace {mart}: {column!r} is not a key of marts.{mart} "
                f"(its grain: {', '.join(trace.keys)})"
            )
        if column in keys:
            raise TraceError(f"trace {mart}: key {column!r} given twice")
        if column in trace.date_keys:
            try:
                value = dt.date.fromisoformat(value.strip()).isoformat()
            except ValueError:
                raise TraceError(
                    f"trace {mart}: {column}={value!r} is not a date (YYYY-MM-DD)"
                ) from None
        keys[column] = value
    if missing := [key for key in trace.keys if key not in keys]:
        raise TraceError(
            f"trace {mart}: missing --key for {', '.join(missing)} "
            f"(its grain: {', '.join(trace.keys)})"
        )
    return keys


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def trace(
    con: duckdb.DuckDBPyConnection, mart: str, keys: dict[str, str], env: str = "prod"
) -> TraceResult:
    """The mart row selected by ``keys`` (parse_keys) and its trace rows."""
    spec = TRACES[mart]
    schema = warehouse.schema_for("marts", env)
    present = set(warehouse.relations(con, schema))
    for name in (mart, spec.view):
        if name not in present:
            raise TraceError(
                f"trace {mart}: environment {env!r} has no {schema}.{name} "
                "(plan the environment with this version of the project)"
            )
    where = " AND ".join(
        f"{_ident(key)} = CAST(? AS DATE)" if key in spec.date_keys else f"{_ident(key)} = ?"
        for key in spec.keys
    )
    params = [keys[key] for key in spec.keys]
    cursor = con.execute(
        f"SELECT * FROM {_ident(schema)}.{_ident(mart)} WHERE {where}",
        params,
    )
    names = [d[0] for d in cursor.description]
    found = cursor.fetchall()
    selected = ", ".join(f"{key}={keys[key]}" for key in spec.keys)
    if not found:
        raise TraceError(f"trace: no row of {schema}.{mart} has {selected}")
    mart_row = dict(zip(names, found[0], strict=True))

    extra, extra_params = "", []
    if mart == "fct_claims_cost_spikes":
        # the windows' days, on the column int_claims_current is filtered by (zone maps)
        end = dt.date.fromisoformat(keys["window_end"])
        extra = " AND service_date BETWEEN CAST(? AS DATE) AND CAST(? AS DATE)"
        extra_params = [(end - dt.timedelta(days=179)).isoformat(), end.isoformat()]
    cursor = con.execute(
        f"SELECT * FROM {_ident(schema)}.{_ident(spec.view)} WHERE {where}{extra} "
        f"ORDER BY {spec.order}",
        params + extra_params,
    )
    columns = [d[0] for d in cursor.description]
    return TraceResult(mart, keys, mart_row, columns, cursor.fetchall())


def totals(result: TraceResult) -> list[tuple[str, object, object]]:
    """(what, traced, mart row's value) per total the table format prints; equal when right."""
    index = {name: i for i, name in enumerate(result.columns)}
    if result.mart == "fct_claims_cost_spikes":
        sums = {window: Decimal("0.00") for window in _SPIKE_TOTALS}
        for row in result.rows:
            sums[row[index["window"]]] += row[index["amount"]]
        return [
            (f"{window} window: sum of amount", sums[window], result.mart_row[column])
            for window, column in _SPIKE_TOTALS.items()
        ]
    if result.mart == "fct_plan_gaps":
        return _gap_totals(result)
    if result.mart == "fct_employee_roster_mismatches":
        return _roster_totals(result, index)
    statuses = Counter(row[index["row_status"]] for row in result.rows)
    reasons = Counter(
        row[index["reject_reason"]] for row in result.rows if row[index["reject_reason"]]
    )
    out = [
        ("duplicate rows", statuses["duplicate"], result.mart_row["duplicate_rows"]),
        ("quarantined rows", statuses["quarantined"], result.mart_row["quarantined_rows"]),
    ]
    for reason in sorted(
        set(reasons) | {k for k, v in result.mart_row.items() if _is_reason(k, v)}
    ):
        out.append((f"  {reason}", reasons[reason], result.mart_row.get(reason)))
    return out


def _carrier_key(name: str | None) -> tuple:
    """Carrier names by code point, a missing name last (the mart's tie-break)."""
    return (name is None, name or "")


def _gap_totals(result: TraceResult) -> list[tuple[str, object, object]]:
    """Per side: the island's plans (against int_plan_islands' plan_count), the edge date that
    makes the gap (latest end + 1 = gap_start, earliest start - 1 = gap_end) and the carrier
    of the edge plan with the mart's tie-breaks (against carrier_before / carrier_after)."""
    far = dt.date.max
    rows = [dict(zip(result.columns, row, strict=True)) for row in result.rows]
    before = [r for r in rows if r["side"] == "before"]
    after = [r for r in rows if r["side"] == "after"]
    out = [
        (
            "before island: plans",
            len(before),
            before[0]["island_plan_count"] if before else None,
        ),
        ("after island: plans", len(after), after[0]["island_plan_count"] if after else None),
    ]
    last_end = max((r["end_date"] or far for r in before), default=None)
    out.append(
        (
            "before island: latest end_date + 1 day",
            last_end + dt.timedelta(days=1) if last_end and last_end < far else last_end,
            result.mart_row["gap_start"],
        )
    )
    first_start = min((r["start_date"] for r in after), default=None)
    out.append(
        (
            "after island: earliest start_date - 1 day",
            first_start - dt.timedelta(days=1) if first_start else None,
            result.mart_row["gap_end"],
        )
    )
    # latest end (open = latest), then latest start, then carrier name (NULL last)
    edge_before = sorted(
        before,
        key=lambda r: (
            -(r["end_date"] or far).toordinal(),
            -r["start_date"].toordinal(),
            _carrier_key(r["carrier_name"]),
        ),
    )
    # earliest start, then latest end (open = latest), then carrier name (NULL last)
    edge_after = sorted(
        after,
        key=lambda r: (
            r["start_date"].toordinal(),
            -(r["end_date"] or far).toordinal(),
            _carrier_key(r["carrier_name"]),
        ),
    )
    out.append(
        (
            "carrier_before (before island, plan ending last)",
            edge_before[0]["carrier_name"] if edge_before else None,
            result.mart_row["carrier_before"],
        )
    )
    out.append(
        (
            "carrier_after (after island, plan starting first)",
            edge_after[0]["carrier_name"] if edge_after else None,
            result.mart_row["carrier_after"],
        )
    )
    return out


def _roster_totals(result: TraceResult, index: dict[str, int]) -> list[tuple[str, object, object]]:
    """Employee records counted = observed_headcount; the lookup entry's expected_headcount =
    expected_headcount (with BENEFITS_ENRICHMENT=http the mart's comes from the service, so the
    line is left out: the entry then only locates the company)."""
    kinds = [row[index["record_kind"]] for row in result.rows]
    lookup = [
        row[index["lookup_headcount"]]
        for row in result.rows
        if row[index["record_kind"]] == "lookup"
    ]
    out = [
        (
            "employee records (observed_headcount)",
            kinds.count("employee"),
            result.mart_row["observed_headcount"],
        )
    ]
    if settings.enrichment_provider() == "file":
        out.append(
            (
                "lookup entry's expected_headcount (expected_headcount)",
                lookup[0] if lookup else None,
                result.mart_row["expected_headcount"],
            )
        )
    return out


def _is_reason(column: str, value) -> bool:
    """A reject-reason column of the load accounting (benefits_mesh.contract) with a count."""
    return column in all_reasons() and isinstance(value, int) and value > 0


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def write_csv(result: TraceResult, out) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(result.columns)
    for row in result.rows:
        writer.writerow([_text(value) for value in row])


def render_table(result: TraceResult) -> str:
    cells = [result.columns] + [[printable(_text(v)) for v in row] for row in result.rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(result.columns))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in cells
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    selected = ", ".join(f"{k}={v}" for k, v in result.keys.items())
    head = f"marts.{result.mart} row {selected}: {len(result.rows):,} raw records"
    foot = ["totals (traced = mart row):"]
    for what, traced, expected in totals(result):
        mark = "ok" if traced == expected else "MISMATCH"
        foot.append(f"  {what}: {traced} = {expected}  {mark}")
    return "\n".join([printable(head), *lines, *foot])


def run(args) -> int:
    """The `benefits-mesh trace` command: 0, or 1 with one line for a bad mart, key or value."""
    try:
        keys = parse_keys(args.mart, args.key or [])
        with warehouse.connect() as con:
            result = trace(con, args.mart, keys, args.env)
    except TraceError as exc:
        print(f"benefits-mesh: {printable(exc)}", file=sys.stderr)
        return 1
    if args.format == "csv":
        if args.out:
            with Path(args.out).open("w", newline="", encoding="utf-8") as out:
                write_csv(result, out)
            print(printable(f"{len(result.rows):,} rows -> {args.out}"), file=sys.stderr)
        else:
            buffer = io.StringIO()
            write_csv(result, buffer)
            sys.stdout.write(buffer.getvalue())
        return 0
    text = render_table(result)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    else:
        print(text)
    return 0
