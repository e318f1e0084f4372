"""The `benefits-mesh` command: generate sample data, summarise and export the warehouse."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from benefits_mesh import settings, warehouse
from benefits_mesh.inventory import UnknownEnvironment
from benefits_mesh.landing import LandingFileError
from benefits_mesh.settings import SettingError, data_dir, warehouse_path
from benefits_mesh.text import printable


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO date YYYY-MM-DD, got {value!r}"
        ) from None


def _positive(value: str) -> int:
    # ArgumentTypeError, not ValueError: argparse would print this function's name
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {value!r}")
    return number


def _rate(value: str) -> float:
    try:
        rate = float(value)
    except ValueError:
        rate = -1.0
    if not 0.0 <= rate <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a rate between 0 and 1, got {value!r}")
    return rate


def cmd_generate(args: argparse.Namespace) -> int:
    from benefits_mesh.generate import generate

    summary = generate(
        out_dir=Path(args.out),
        start=args.start,
        days=args.days,
        companies=args.companies,
        employees=args.employees,
        claims_per_day=args.claims_per_day,
        seed=args.seed,
        dirt_rate=args.dirt_rate,
        history_days=args.history_days,
        lending_customers=args.lending_customers,
        progress=not args.quiet,
    )
    if not args.quiet:
        for key, value in summary.items():
            if isinstance(value, dict):  # e.g. rows / files / dirt per kind: one line each
                print(f"{key}:")
                for name, item in value.items():
                    shown = f"{item:,}" if isinstance(item, int) else printable(item)
                    print(f"  {printable(name):<28} {shown}")
            else:
                print(f"{key}: {printable(value)}")
    return 0


def cmd_deliver(args: argparse.Namespace) -> int:
    from benefits_mesh.generate import deliver

    out = args.out or data_dir()
    try:
        paths = deliver(out, days=args.days, progress=not args.quiet)
    except (OSError, ValueError) as exc:
        print(f"benefits-mesh deliver: {printable(exc)}", file=sys.stderr)
        return 2
    for path in paths:
        print(printable(path))
    _warn_if_closed(paths)
    return 0


def _warn_if_closed(paths: list[Path]) -> None:
    """Say so when the delivered day is already beyond BENEFITS_FILE_WAIT_DAYS: a warehouse that
    ran since has closed it, and only the restatement (late-files) loads it."""
    from benefits_mesh.inventory import NAME
    from benefits_mesh.settings import file_wait_days

    today = dt.datetime.now(dt.UTC).date()
    days = [dt.date.fromisoformat(m["day"]) for p in paths if (m := NAME.fullmatch(p.name))]
    if days and (today - max(days)).days > file_wait_days() + 1:
        print(
            f"note: {max(days)} is more than BENEFITS_FILE_WAIT_DAYS ({file_wait_days()}) days "
            "ago: a warehouse that ran since closed that day, so `sqlmesh run` will not load it "
            "(`benefits-mesh late-files` prints the restatement). To watch days arrive, generate "
            "a root that ends near today (README, Scheduled runs).",
            file=sys.stderr,
        )


def cmd_summary(args: argparse.Namespace) -> int:
    with warehouse.connect() as con:
        counts = warehouse.mart_row_counts(con, args.env)
        totals = warehouse.load_totals(con, args.env)
    print(f"warehouse: {printable(warehouse_path())}  environment: {printable(args.env)}")
    print("rows per mart:")
    for name, rows in counts:
        print(f"  marts.{name:<36} {rows:>12,}")
    print(
        f"load accounting: {totals['files']} files, {totals['raw_rows']:,} raw rows = "
        f"{totals['staged_rows']:,} staged + {totals['duplicate_rows']:,} duplicate + "
        f"{totals['quarantined_rows']:,} quarantined"
    )
    print("rows quarantined per reason:")
    reasons = {k: v for k, v in list(totals.items())[5:] if v}
    for reason, rows in sorted(reasons.items(), key=lambda item: -item[1]):
        print(f"  {reason:<38} {rows:>12,}")
    if not reasons:
        print("  (none)")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    formats = ("csv", "parquet") if args.format == "both" else (args.format,)
    with warehouse.connect() as con:
        warehouse.export_marts(
            con, Path(args.out), env=args.env, formats=formats, formula_guard=args.formula_guard
        )
    return 0


def cmd_trace(args: argparse.Namespace) -> int:
    from benefits_mesh.trace import run

    return run(args)


def cmd_plan_summary(args: argparse.Namespace) -> int:
    from benefits_mesh.review import ReviewError, render, summarize

    try:
        summary = summarize(args.env, Path(args.project) if args.project else None)
    except ReviewError as exc:
        print(f"benefits-mesh plan-summary: {printable(exc)}", file=sys.stderr)
        return 2
    text = render(summary, markdown=args.markdown)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text, encoding="utf-8")
    print(text, end="")
    return 1 if summary.blocking_failures else 0


def cmd_incident(args: argparse.Namespace) -> int:
    from benefits_mesh.incident import IncidentError, write_incident

    try:
        summary = write_incident(args.out, args.day, args.scale, lookup=args.lookup, seed=args.seed)
    except IncidentError as exc:
        print(f"benefits-mesh incident: {printable(exc)}", file=sys.stderr)
        return 2
    for key, value in summary.items():
        print(f"{key}: {printable(value)}")
    return 0


def cmd_sandbox(args: argparse.Namespace) -> int:
    from benefits_mesh.incident import IncidentError, sandbox
    from benefits_mesh.review import ReviewError

    try:
        return sandbox(
            args.source, args.env, args.start, Path(args.project) if args.project else None
        )
    except (IncidentError, ReviewError) as exc:
        print(f"benefits-mesh sandbox: {printable(exc)}", file=sys.stderr)
        return 2


def cmd_explain(args: argparse.Namespace) -> int:
    from benefits_mesh.incident import explain
    from benefits_mesh.review import ReviewError
    from benefits_mesh.sqlmesh_api import SQLMeshError

    try:
        project = Path(args.project) if args.project else None
        text = explain(args.model, args.env, args.start, args.end, project)
    except (ReviewError, SQLMeshError) as exc:
        print(f"benefits-mesh explain: {printable(exc)}", file=sys.stderr)
        return 2
    # the plan's own lines stay lines; control characters within them (e.g. of a file name in
    # a READ_CSV call) are escaped
    print("\n".join(printable(line) for line in text.split("\n")))
    return 0


def cmd_late_files(args: argparse.Namespace) -> int:
    from benefits_mesh.inventory import PROBLEMS, inventory, report_lines

    if warehouse_path().exists():
        with warehouse.connect() as con:
            entries = inventory(lambda sql: con.execute(sql).fetchall(), env=args.env)
    else:  # nothing loaded yet: the names alone still tell what no run will load
        print(f"warehouse {printable(warehouse_path())} does not exist yet: names checked only")
        entries = inventory(None)
    for line in report_lines(entries, verbose=True):
        print(line)
    counts = {
        status: sum(e.status == status for e in entries)
        for status in ("loaded", "pending", "ignored", *PROBLEMS)
    }
    print(
        "landing: "
        + ", ".join(
            f"{n} {status}" for status, n in counts.items() if n or status in ("loaded", "pending")
        )
    )
    return 1 if any(counts[status] for status in PROBLEMS) else 0


def cmd_enrichment(args: argparse.Namespace) -> int:
    """Companies by enrichment status with their last error (SPEC §6); exit 1 when any is
    failed or stale (the next run retries them)."""
    order = ("failed", "stale", "not_found", "ok")
    with warehouse.connect() as con:
        rows = con.execute(
            "SELECT enrichment_status, company_ein, company_name, enriched_at, enrichment_error "
            f'FROM "{warehouse.schema_for("marts", args.env)}"."dim_companies" '
            "ORDER BY company_ein"
        ).fetchall()
    rows.sort(key=lambda row: (order.index(row[0]) if row[0] in order else len(order), row[1]))
    for status, ein, name, enriched_at, error in rows:
        when = enriched_at.isoformat(sep=" ", timespec="seconds") if enriched_at else "-"
        line = f"{status:<9} {ein}  {printable(name or '-')}  fetched {when}"
        print(line + (f"  error: {printable(error)}" if error else ""))
    counts = {status: sum(row[0] == status for row in rows) for status in order}
    print("enrichment: " + ", ".join(f"{n} {status}" for status, n in counts.items()))
    if counts["failed"] or counts["stale"]:
        print("failed and stale companies are requested again by the next run")
        return 1
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from benefits_mesh.bench import BenchError, bench

    try:
        return bench(args)
    except BenchError as exc:
        print(f"benefits-mesh bench: {printable(exc)}", file=sys.stderr)
        return 1


def cmd_freshness(args: argparse.Namespace) -> int:
    from benefits_mesh.monitor import LEVELS, freshness, future_files

    report = freshness()
    for entry in future_files():
        print(f"future {printable(entry.shown)}: not counted ({printable(entry.reason)})")
    for row in report:
        age = "no file" if row["age_hours"] is None else f"{row['age_hours']:.1f} h"
        print(
            f"{LEVELS[row['status']]:<5}  {row['source']:<10} "
            f"newest {printable(row['newest_file'] or '-')}"
            f"  age {age}  (warn > {row['warn_after_hours']} h, error > "
            f"{row['error_after_hours']} h)"
        )
    return max(row["status"] for row in report)


def cmd_run(args: argparse.Namespace) -> int:
    from benefits_mesh.runtime import sqlmesh_command

    return sqlmesh_command(["run", *args.sqlmesh_args])


def cmd_ui(args: argparse.Namespace) -> int:
    from benefits_mesh.runtime import serve_ui

    serve_ui(args.host, args.port, args.mode)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="benefits-mesh", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    gen = commands.add_parser("generate", help="write a synthetic landing root (SPEC §1)")
    gen.add_argument("--out", required=True, help="landing root to write")
    gen.add_argument("--start", type=_date, default=dt.date(2026, 3, 2), help="first delivery day")
    gen.add_argument("--days", type=_positive, default=60, help="days of deliveries")
    gen.add_argument("--companies", type=_positive, default=20)
    gen.add_argument("--employees", type=_positive, default=2000)
    gen.add_argument("--claims-per-day", type=_positive, default=300)
    gen.add_argument(
        "--history-days",
        type=_positive,
        default=0,
        help="days of claim history carried by the first claims delivery",
    )
    gen.add_argument(
        "--lending-customers",
        type=_positive,
        default=0,
        help="also write the lending snapshot (landing/lending/customers.csv, accounts.csv) "
        "with this many customers (default 0: none)",
    )
    gen.add_argument("--seed", type=int, default=7)
    gen.add_argument(
        "--dirt-rate",
        type=_rate,
        default=0.02,
        help="rate of each dirt kind (rows per row kind, files per file kind), 0..1",
    )
    gen.add_argument("--quiet", action="store_true", help="no progress output")
    gen.set_defaults(func=cmd_generate)

    dlv = commands.add_parser("deliver", help="append the next day(s) of deliveries to a root")
    dlv.add_argument(
        "--out",
        type=Path,
        default=None,
        help="landing root made by `generate` (default: BENEFITS_DATA_DIR, i.e. the sample)",
    )
    dlv.add_argument("--days", type=_positive, default=1)
    dlv.add_argument("--quiet", action="store_true")
    dlv.set_defaults(func=cmd_deliver)

    fresh = commands.add_parser(
        "freshness",
        help="age of each source's newest delivery; exit 0 ok, 1 warn, 2 error (for monitors)",
    )
    fresh.set_defaults(func=cmd_freshness)

    late = commands.add_parser(
        "late-files",
        help="every landing file no run will load, with the reason (refused names, closed "
        "days, files changed after their load, future dates), pending and ignored files; exit 1 "
        "when any file needs action",
    )
    late.add_argument("--env", default="prod", help="SQLMesh environment (default prod)")
    late.set_defaults(func=cmd_late_files)

    enr = commands.add_parser(
        "enrichment",
        help="companies by enrichment status (ok, stale, not_found, failed) with their last "
        "error; exit 1 when any is failed or stale",
    )
    enr.add_argument("--env", default="prod", help="SQLMesh environment (default prod)")
    enr.set_defaults(func=cmd_enrichment)

    run = commands.add_parser(
        "run",
        help="`sqlmesh run` on the project (same options), waiting for a warehouse another "
        "process holds (the UI answering a request, a plan) instead of failing",
    )
    run.add_argument("sqlmesh_args", nargs=argparse.REMAINDER, help="options of `sqlmesh run`")
    run.set_defaults(func=cmd_run)

    ui = commands.add_parser(
        "ui",
        help="SQLMesh's web UI, opening the warehouse per request so runs can go on beside it",
    )
    ui.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    ui.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    ui.add_argument("--mode", choices=("ide", "catalog", "docs", "plan"), default="ide")
    ui.set_defaults(func=cmd_ui)

    summ = commands.add_parser("summary", help="rows per mart and rows quarantined per reason")
    summ.add_argument("--env", default="prod", help="SQLMesh environment (default prod)")
    summ.set_defaults(func=cmd_summary)

    exp = commands.add_parser("export", help="write every marts table of an environment to files")
    exp.add_argument("--out", required=True, help="output folder")
    exp.add_argument("--env", default="prod", help="SQLMesh environment (default prod)")
    exp.add_argument("--format", choices=("csv", "parquet", "both"), default="csv")
    exp.add_argument(
        "--no-formula-guard",
        dest="formula_guard",
        action="store_false",
        help="CSV: write text cells exactly as stored. By default a text cell starting with "
        "=, +, -, @, a tab or a carriage return gets a leading ' so a spreadsheet does not run "
        "it as a formula (OWASP CSV injection); numbers and dates are never changed, Parquet "
        "is never guarded. Use this for machine consumers",
    )
    exp.set_defaults(func=cmd_export)

    trc = commands.add_parser(
        "trace", help="the raw file lines behind one mart row (issue 21; marts.trace_* views)"
    )
    trc.add_argument("mart", help="fct_claims_cost_spikes or fct_load_accounting")
    trc.add_argument(
        "--key",
        action="append",
        metavar="COLUMN=VALUE",
        help="one per column of the mart's grain (company_ein and window_end; source_file)",
    )
    trc.add_argument("--env", default="prod", help="SQLMesh environment (default prod)")
    trc.add_argument("--out", help="write to this file instead of stdout")
    trc.add_argument("--format", choices=("table", "csv"), default="table")
    trc.set_defaults(func=cmd_trace)

    review = commands.add_parser(
        "plan-summary",
        help="what promoting an environment to prod changes: categories, backfill, audits, "
        "table_diff per changed mart (exit 1 when a blocking audit fails)",
    )
    review.add_argument("--env", default="dev", help="environment to compare with prod")
    review.add_argument("--markdown", action="store_true", help="Markdown for a pull request")
    review.add_argument("--out", help="also write the summary to this file")
    review.add_argument("--project", help="SQLMesh project folder (default: this one)")
    review.set_defaults(func=cmd_plan_summary)

    inc = commands.add_parser(
        "incident", help="drill: write a bad claims delivery (20x, skew, re-sent claim_ids)"
    )
    inc.add_argument("--out", type=Path, required=True, help="landing root to damage")
    inc.add_argument("--day", type=_date, help="delivery day (default: after the newest file)")
    inc.add_argument("--scale", type=_positive, default=20, help="x the usual delivery size")
    inc.add_argument(
        "--lookup",
        choices=("none", "domain", "ein"),
        default="domain",
        help="also make a company_lookup.json key repeat: an e-mail domain or an EIN",
    )
    inc.add_argument("--seed", type=int, default=7)
    inc.set_defaults(func=cmd_incident)

    box = commands.add_parser(
        "sandbox",
        help="load the landed files of some sources into a dev environment only (prod "
        "untouched); exit 1 when an audit fails there and not in prod",
    )
    box.add_argument(
        "--source",
        action="append",
        required=True,
        choices=("claims", "employees", "plans", "reference"),
        help="repeatable",
    )
    box.add_argument("--env", default="sandbox", help="dev environment (default sandbox)")
    box.add_argument("--start", help="first day to rebuild (default: all history)")
    box.add_argument("--project", help="SQLMesh project folder (default: this one)")
    box.set_defaults(func=cmd_sandbox)

    xpl = commands.add_parser("explain", help="EXPLAIN ANALYZE a model's query for one interval")
    xpl.add_argument("model")
    xpl.add_argument("--env", default="prod")
    xpl.add_argument("--start", help="first day (default: the model's last computed day)")
    xpl.add_argument("--end", help="last day (default: --start)")
    xpl.add_argument("--project", help="SQLMesh project folder (default: this one)")
    xpl.set_defaults(func=cmd_explain)

    bch = commands.add_parser("bench", help="time SQLMesh at feed scale vs hand-written SQL")
    bch.add_argument("--history-days", type=_positive, default=10, help="delivery days before")
    bch.add_argument("--rows-per-day", type=_positive, default=200_000, help="claims rows/day")
    bch.add_argument("--companies", type=_positive, default=200)
    bch.add_argument("--employees", type=_positive, default=20_000)
    bch.add_argument(
        "--claims-history-days",
        type=_positive,
        default=0,
        help="days of service-date history in the first claims file (non-trivial spike windows)",
    )
    bch.add_argument("--seed", type=int, default=7)
    bch.add_argument("--dirt-rate", type=_rate, default=0.02)
    bch.add_argument("--repeat", type=_positive, default=3, help="repetitions of each step")
    bch.add_argument("--plan-repeat", type=_positive, help="repetitions of the backfills")
    bch.add_argument(
        "--compare-history",
        type=lambda text: [int(part) for part in text.split(",")],
        help="e.g. 10,60: the same new day over each history length (target: <= +30 %%)",
    )
    bch.add_argument(
        "--work-dir", default=str(Path(__file__).resolve().parent.parent / ".cache/bench")
    )
    bch.add_argument("--keep", action="store_true", help="keep landing roots and warehouses")
    bch.add_argument("--project", help="SQLMesh project to measure (default: this one)")
    bch.add_argument(
        "--only", choices=("sqlmesh", "handwritten"), help="measure one side (reuses a --keep)"
    )
    bch.set_defaults(func=cmd_bench)
    return parser


#: the project's own errors, each one line naming what is wrong
KNOWN_ERRORS = (warehouse.WarehouseError, LandingFileError, SettingError, UnknownEnvironment)


def _known_cause(exc: BaseException) -> BaseException | None:
    """The project's own one-line error behind ``exc``: SQLMesh wraps what config.py raises
    (a busy warehouse, an empty path variable) in "Failed to load config file"."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, KNOWN_ERRORS):
            return exc
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        # config.yaml's paths are relative to the current folder: every SQLMesh context and
        # command this process opens gets absolute ones, so benefits-mesh works from anywhere
        settings.pin_paths()
        if args.command not in ("run", "ui"):  # those log as SQLMesh's CLI and server do
            from benefits_mesh.runtime import log_to_project

            log_to_project(args.command)
        return args.func(args)
    except Exception as exc:
        # a busy warehouse, a landing root or file, a configuration variable: one line naming
        # it, no traceback; anything else is a bug and keeps its traceback
        known = _known_cause(exc)
        if known is None:
            raise
        print(f"benefits-mesh: {printable(known)}", file=sys.stderr)
        return 2


def console() -> int:
    """The ``benefits-mesh`` command (pyproject's console script): :func:`main` with the
    garbage collector tuned for a process that exits after it (runtime.command_gc)."""
    from benefits_mesh.runtime import command_gc

    with command_gc():
        return main()


if __name__ == "__main__":
    sys.exit(console())
