"""Synthetic landing-zone generator (SPEC §1–§2): deterministic, dirty on purpose, and scalable.

``generate()`` writes a landing root::

    <out>/landing/{employees,plans,claims}/<source>_YYYY-MM-DD.csv
    <out>/reference/company_lookup.json
    <out>/generator.json            (parameters + days generated, read by ``deliver()``)

One module a part, each importing only the ones listed above it::

    common.py     Params, seeded randomness and the delivery schedule, the dirt kinds, file
                  styles (file-level dirt), the small-file CSV writer, the progress line
    world.py      companies, the day-0 roster, expected headcounts, spikes;
                  reference/company_lookup.json
    employees.py  landing/employees/
    plans.py      landing/plans/
    claims.py     landing/claims/ (DuckDB)
    lending.py    landing/lending/customers.csv and accounts.csv (``lending_customers > 0``)
    __init__.py   generate() and deliver(): every source's days in turn, generator.json

Determinism: the *world* (companies, the day-0 roster, plan timelines) is a pure function of the
parameters without ``days``; day ``k``'s files are a pure function of (parameters, seed, k). So
``generate(days=10)`` followed by ``deliver(days=2)`` writes byte-identical files to
``generate(days=12)``. Small sources use ``random.Random`` seeded with strings; claims are built by
DuckDB from ``range()`` with ``hash(row + salt(seed, day, purpose))`` (same DuckDB ⇒ same bytes).

Dirt: every kind in :data:`ROW_KINDS` / :data:`FILE_KINDS` is counted in the summary under that
name (row kinds in rows carrying them, file kinds in files). Row kinds occur at rate ``dirt_rate``
each (a dirty claim row carries exactly one field kind, so ~17 x dirt_rate of claim rows are
dirty); file kinds on ``min(0.5, 5 * dirt_rate)`` of the files. With ``dirt_rate > 0`` every kind
is also forced early (file kinds on each source's first two files, employee/plan row kinds on day
0 and the first re-delivery, claim kinds on rows 2-5 of days 0-4), so any run of >= 5 days with
>= 50 employees and >= 11 claims per day has every kind. ``amount_max`` (1,000,000.00, valid) is
forced once only: at any real share it would dominate every company's 90-day cost. Realism kinds
(terminations, plan structure and re-sends, carrier variants, corrections and 31-60-day late
claims at 3 % each) do not depend on ``dirt_rate``.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections import Counter
from pathlib import Path

import duckdb

from benefits_mesh.generate.claims import _claims_connection, _claims_day, _write_claims_day
from benefits_mesh.generate.common import (
    DIRT_KINDS,
    FILE_KINDS,
    ROW_KINDS,
    SOURCES,
    Params,
    _atomic_write_bytes,
    _day,
    _generic_kinds,
    _Progress,
    _rng,
    _write_small_csv,
    file_style,
    is_delivery_day,
)
from benefits_mesh.generate.employees import _employee_stream
from benefits_mesh.generate.lending import LENDING_FILES, LENDING_KINDS, lending_rate, write_lending
from benefits_mesh.generate.plans import _plan_stream
from benefits_mesh.generate.world import World, _write_lookup, build_world

__all__ = [
    "DIRT_KINDS",
    "FILE_KINDS",
    "LENDING_KINDS",
    "ROW_KINDS",
    "SOURCES",
    "Params",
    "build_world",
    "deliver",
    "file_style",
    "generate",
    "is_delivery_day",
    "lending_rate",
    "write_lending",
]


def _landing_path(out_dir: Path, source: str, day: dt.date) -> Path:
    return out_dir / "landing" / source / f"{source}_{day.isoformat()}.csv"


def _write_days(
    world: World, out_dir: Path, first: int, last: int, progress: _Progress
) -> tuple[list[Path], dict[str, int], Counter[str], Counter[str]]:
    """Write every source's files for days first..last-1 (state is replayed from day 0)."""
    params = world.params
    written: list[Path] = []
    rows: dict[str, int] = dict.fromkeys(SOURCES, 0)
    kinds: Counter[str] = Counter()
    files: Counter[str] = Counter()
    for source in SOURCES:
        (out_dir / "landing" / source).mkdir(parents=True, exist_ok=True)
    streams = {"employees": _employee_stream(world, last), "plans": _plan_stream(world, last)}
    for source, stream in streams.items():
        for k, day_rows, day_kinds in stream:
            if k < first:
                continue
            progress.show(f"[{source}] day {k + 1}/{last} ({len(day_rows):,} rows)")
            path = _landing_path(out_dir, source, _day(params, k))
            style = file_style(params, source, k)
            file_kinds = _write_small_csv(path, day_rows, style, _rng(params, "blank", source, k))
            kinds.update(day_kinds + _generic_kinds(day_rows) + Counter(file_kinds))
            rows[source] += len(day_rows)
            files[source] += 1
            written.append(path)
    with _claims_connection(world) as con:
        for k in range(first, last):
            if not is_delivery_day(params, "claims", k):
                continue
            total = _claims_day(params, k).total
            progress.show(f"[claims] day {k + 1}/{last} ({total:,} rows)")
            path = _landing_path(out_dir, "claims", _day(params, k))
            count, day_kinds = _write_claims_day(con, world, k, path, progress)
            kinds.update(day_kinds)
            rows["claims"] += count
            files["claims"] += 1
            written.append(path)
    progress.done()
    return sorted(written), rows, kinds, files


def _write_state(out_dir: Path, params: Params, days: int) -> None:
    state = {
        "generator": "benefits_mesh.generate",
        "params": params.to_json(),
        "days": days,
        "last_day": _day(params, days - 1).isoformat(),
        "duckdb_version": duckdb.__version__,
    }
    _atomic_write_bytes(out_dir / "generator.json", (json.dumps(state, indent=2) + "\n").encode())


def _clear_landing(out_dir: Path) -> None:
    """Remove earlier generated delivery files so the root matches this run exactly."""
    for source in SOURCES:
        folder = out_dir / "landing" / source
        if folder.is_dir():
            for path in folder.glob(f"{source}_????-??-??.csv*"):
                path.unlink()
    try:  # lending snapshots only when an earlier generate() wrote them (not a hand-placed file)
        previous = json.loads((out_dir / "generator.json").read_text())["params"]
    except (OSError, ValueError, KeyError, TypeError):
        previous = {}
    if isinstance(previous, dict) and previous.get("lending_customers"):
        for name in LENDING_FILES:
            (out_dir / "landing" / "lending" / f"{name}.csv").unlink(missing_ok=True)


def generate(
    out_dir: Path,
    start: dt.date,
    days: int,
    companies: int,
    employees: int,
    claims_per_day: int,
    seed: int,
    dirt_rate: float,
    history_days: int = 0,
    progress: bool = True,
    lending_customers: int = 0,
) -> dict:
    """Write a landing root for days [start, start + days); returns a summary dict.

    Summary keys: ``out_dir``, ``start``, ``last_day``, ``days``, ``files`` (per source),
    ``rows`` (data records per source), ``dirt`` (every kind of :data:`DIRT_KINDS`; row kinds
    count rows, file kinds count files), ``companies`` (lookup companies by roster category).
    With ``lending_customers > 0`` also the lending snapshot of SPEC §5 (see
    :func:`write_lending`) and a ``lending`` key; the other sources' files are the same bytes
    either way.
    """
    if days < 1 or companies < 1 or employees < 1 or claims_per_day < 1 or history_days < 0:
        raise ValueError(
            "days, companies, employees and claims_per_day must be >= 1, history_days >= 0"
        )
    if not 0.0 <= dirt_rate <= 1.0:
        raise ValueError(f"dirt_rate must be within [0, 1], got {dirt_rate}")
    if lending_customers < 0:
        raise ValueError(f"lending_customers must be >= 0, got {lending_customers}")
    params = Params(
        start,
        companies,
        employees,
        claims_per_day,
        seed,
        dirt_rate,
        history_days,
        lending_customers=lending_customers,
    )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _clear_landing(out_dir)
    world = build_world(params)
    _write_lookup(world, out_dir)
    written, rows, kinds, files = _write_days(world, out_dir, 0, days, _Progress(progress))
    lending = write_lending(out_dir, params) if lending_customers else None
    _write_state(out_dir, params, days)
    summary = {
        "out_dir": str(out_dir),
        "start": start.isoformat(),
        "last_day": _day(params, days - 1).isoformat(),
        "days": days,
        "files": dict(files),
        "files_written": len(written) + 1 + (2 if lending else 0),
        "rows": rows,
        "dirt": {kind: kinds.get(kind, 0) for kind in DIRT_KINDS},
        "companies": dict(Counter(c.category for c in world.companies)),
    }
    if lending:
        summary["lending"] = lending
    return summary


def deliver(out_dir: Path, days: int = 1, progress: bool = True) -> list[Path]:
    """Append the next `days` days of deliveries to an existing landing root made by generate(),
    using the parameters saved in <out_dir>/generator.json. Writes exactly the files generate()
    would have written for those days had it been called with more days."""
    if days < 1:
        raise ValueError(f"days must be >= 1, got {days}")
    out_dir = Path(out_dir)
    state_path = out_dir / "generator.json"
    if not state_path.is_file():
        raise FileNotFoundError(f"{state_path}: not a generated landing root (run generate first)")
    state = json.loads(state_path.read_text())
    params = Params.from_json(state["params"])
    first = int(state["days"])
    if progress and state.get("duckdb_version") != duckdb.__version__:
        sys.stderr.write(
            f"warning: {state_path} was written with DuckDB {state.get('duckdb_version')}, "
            f"this is {duckdb.__version__}; claims may differ from a single longer run\n"
        )
    world = build_world(params)
    written, _, _, _ = _write_days(world, out_dir, first, first + days, _Progress(progress))
    _write_state(out_dir, params, first + days)
    return written
