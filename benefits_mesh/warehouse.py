"""Access to the warehouse for the CLI (summaries and exports of an environment), and the one
place that opens it for a command while another process may hold it.

DuckDB lets one process at a time open a database file (a writer, or readers, never both). A
`sqlmesh run`, a plan, `make ui` answering a request or a `benefits-mesh` command each hold the
warehouse for as long as they work on it; the others wait for it (``BENEFITS_LOCK_WAIT``
seconds, default 120, a notice on stderr once) instead of failing, and after that give up with
one line naming the warehouse, the process holding it and what to do.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import duckdb

from benefits_mesh import settings
from benefits_mesh.contract import all_reasons
from benefits_mesh.settings import warehouse_path
from benefits_mesh.text import printable

T = TypeVar("T")

_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (?P<exe>.*?) \(PID (?P<pid>\d+)\)")
#: seconds between two attempts at a held lock
_LOCK_POLL = 0.25


class WarehouseError(RuntimeError):
    """The warehouse or environment asked for does not exist (yet)."""


class WarehouseBusyError(WarehouseError, ValueError):
    """Another process kept the warehouse's lock for longer than we wait; the message is one
    line. A ValueError for SQLMesh's CLI (which prints those as `Error: <message>`), a
    WarehouseError for the `benefits-mesh` command line (which prints those in one line too)."""


def _holder_command(pid: str) -> str:
    """The holder's command line from /proc (empty when unreadable), at most 120 characters."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    command = " ".join(part.decode(errors="replace") for part in raw.split(b"\0") if part)
    return command if len(command) <= 120 else command[:117] + "..."


def lock_holder(error: BaseException) -> str | None:
    """ "held by PID n (command)" for DuckDB's "could not set lock" error; None for any other."""
    text = str(error)
    if "Could not set lock on file" not in text and "Conflicting lock" not in text:
        return None
    match = _LOCK_HOLDER.search(text)
    if not match:
        return "held by another process"
    exe, pid = match.group("exe"), match.group("pid")
    return f"held by PID {pid} ({_holder_command(pid) or exe})"


def busy_message(path: Path | str, error: BaseException, waited: float = 0) -> str | None:
    """One line for DuckDB's "could not set lock" error on ``path``; None for any other error."""
    holder = lock_holder(error)
    if holder is None:
        return None
    waited_text = f" (waited {waited:.0f} s, BENEFITS_LOCK_WAIT)" if waited else ""
    return printable(
        f"warehouse {path} is busy: its lock is {holder} (another plan, run or `sqlmesh ui`)"
        f"{waited_text}; try again when it has finished"
    )


def wait_for_lock(open_: Callable[[], T], path: Path | str) -> T:
    """``open_()``, retried while another process holds the warehouse's lock, for at most
    ``BENEFITS_LOCK_WAIT`` seconds; then WarehouseBusyError (one line). Any other error is
    raised as it is. A notice goes to stderr once, when the first attempt finds the lock held."""
    wait = settings.lock_wait_seconds()
    started = time.monotonic()
    announced = False
    while True:
        try:
            return open_()
        except duckdb.IOException as exc:
            holder = lock_holder(exc)
            if holder is None:
                raise
            waited = time.monotonic() - started
            if waited >= wait:
                raise WarehouseBusyError(busy_message(path, exc, waited)) from exc
            if not announced:
                announced = True
                print(
                    printable(
                        f"waiting for warehouse {path}: its lock is {holder}; "
                        f"up to {wait:.0f} s (BENEFITS_LOCK_WAIT)"
                    ),
                    file=sys.stderr,
                    flush=True,
                )
            time.sleep(min(_LOCK_POLL, max(wait - waited, 0.01)))


def connect(path: Path | None = None) -> duckdb.DuckDBPyConnection:
    """The warehouse, read-only; waits while a run, plan or the UI holds it (see module doc).
    On Spark (BENEFITS_ENGINE=spark), a copy of its marts in an in-memory DuckDB
    (:func:`spark_marts`), so summary, export and enrichment read the same SQL either way."""
    if settings.engine() == "spark":
        return spark_marts()
    path = path or warehouse_path()
    if not path.exists():
        raise WarehouseError(
            f"warehouse {path} does not exist: run `make run` (or `sqlmesh plan`) first, "
            "or point BENEFITS_WAREHOUSE at it"
        )
    return wait_for_lock(lambda: duckdb.connect(str(path), read_only=True), path)


def spark_marts() -> duckdb.DuckDBPyConnection:
    """Every mart of every environment of the Spark warehouse (schemas ``marts``,
    ``marts__<env>``; the trace views aside: :data:`TRACE_PREFIX`), copied with their column
    types into an in-memory DuckDB.

    The rows travel through the Spark driver: fine for marts (aggregates, one row per company,
    gap or claim) in local mode; on a cluster, Spark's own writers export large tables.
    """
    from sqlglot import exp

    from benefits_mesh.sqlmesh_api import gateway_adapter

    adapter = gateway_adapter("spark")
    con = duckdb.connect()
    try:
        schemas = [
            name
            for (name,) in adapter.fetchall("SHOW SCHEMAS")
            if name == "marts" or name.startswith("marts__")
        ]
        for schema in schemas:
            con.execute(f'CREATE SCHEMA "{schema}"')
            for data_object in adapter.get_data_objects(schema):
                if data_object.name.startswith(TRACE_PREFIX):
                    continue
                table = exp.table_(data_object.name, db=schema, quoted=True)
                columns = adapter.columns(table)
                target = f'"{schema}"."{data_object.name}"'
                typed = ", ".join(f'"{c}" {kind.sql("duckdb")}' for c, kind in columns.items())
                con.execute(f"CREATE TABLE {target} ({typed})")
                rows = adapter.fetchall(exp.select("*").from_(table))
                if rows:
                    marks = ", ".join("?" for _ in columns)
                    con.executemany(f"INSERT INTO {target} VALUES ({marks})", rows)
    finally:
        adapter.close()
    return con


def schema_for(layer: str, env: str = "prod") -> str:
    """SQLMesh's virtual-layer schema of a layer in an environment (prod: the bare name)."""
    return layer if env == "prod" else f"{layer}__{env}"


def relations(con: duckdb.DuckDBPyConnection, schema: str) -> list[str]:
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = ? "
        "ORDER BY table_name",
        [schema],
    ).fetchall()
    return [name for (name,) in rows]


#: The trace views (``marts.trace_*``, issue 21) explain one mart row at a time: a whole one can
#: be far larger than its mart (every spike row x every claim of its windows), so the summary
#: does not count them and ``export`` does not write them (``benefits-mesh trace`` selects a row).
TRACE_PREFIX = "trace_"


def mart_relations(con: duckdb.DuckDBPyConnection, schema: str) -> list[str]:
    """The marts of a schema, the trace views aside."""
    return [name for name in relations(con, schema) if not name.startswith(TRACE_PREFIX)]


def mart_row_counts(con: duckdb.DuckDBPyConnection, env: str = "prod") -> list[tuple[str, int]]:
    schema = schema_for("marts", env)
    names = mart_relations(con, schema)
    if not names:
        raise WarehouseError(f"environment {env!r} has no marts (schema {schema} is empty)")
    return [
        (name, con.execute(f'SELECT COUNT(*) FROM "{schema}"."{name}"').fetchone()[0])
        for name in names
    ]


def load_totals(con: duckdb.DuckDBPyConnection, env: str = "prod") -> dict[str, int]:
    """Totals over marts.fct_load_accounting: files, rows by outcome and by reject reason."""
    schema = schema_for("marts", env)
    reasons = all_reasons()
    sums = ", ".join(
        f"COALESCE(SUM({column}), 0)"
        for column in ["raw_rows", "staged_rows", "duplicate_rows", "quarantined_rows", *reasons]
    )
    row = con.execute(f'SELECT COUNT(*), {sums} FROM "{schema}"."fct_load_accounting"').fetchone()
    keys = ["files", "raw_rows", "staged_rows", "duplicate_rows", "quarantined_rows", *reasons]
    return dict(zip(keys, (int(value) for value in row), strict=True))


def export_marts(
    con: duckdb.DuckDBPyConnection,
    out_dir: Path,
    env: str = "prod",
    formats=("csv",),
    log=print,
    formula_guard: bool = True,
) -> list[Path]:
    """Write every mart of `env` (the trace views aside: :data:`TRACE_PREFIX`) to
    out_dir/<table>.<format>; dates as ISO YYYY-MM-DD.

    CSV, unless `formula_guard` is off: a text (VARCHAR) cell that starts with =, +, -, @, a tab
    or a carriage return gets a leading ' (the OWASP CSV-injection rule), so a spreadsheet shows
    it instead of running it as a formula; other columns are written unchanged. Parquet is never
    guarded. Rows are ordered by the raw values, column by column, in every output.
    """
    from benefits_mesh.text import printable

    def ident(column: str) -> str:
        return '"' + column.replace('"', '""') + '"'

    # '=', '+', '-', '@', TAB, CR
    starts = "'=', '+', '-', '@', CHR(9), CHR(13)"

    def guarded(column: str) -> str:
        value = f"src.{ident(column)}"
        return f"CASE WHEN LEFT({value}, 1) IN ({starts}) THEN '''' || {value} ELSE {value} END"

    schema = schema_for("marts", env)
    names = mart_relations(con, schema)
    if not names:
        raise WarehouseError(f"environment {env!r} has no marts (schema {schema} is empty)")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for index, name in enumerate(names, start=1):
        relation = f"{ident(schema)}.{ident(name)}"
        columns = [row[:2] for row in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]
        order = ", ".join(f"src.{ident(column)}" for column, _ in columns)
        for fmt in formats:
            path = out_dir / f"{name}.{fmt}"
            if fmt == "csv":
                options = "FORMAT CSV, HEADER, DATEFORMAT '%Y-%m-%d'"
                select = ", ".join(
                    f"{guarded(column)} AS {ident(column)}"
                    if formula_guard and kind == "VARCHAR"
                    else f"src.{ident(column)}"
                    for column, kind in columns
                )
            else:
                options, select = "FORMAT PARQUET", "src.*"
            target = path.as_posix().replace("'", "''")
            con.execute(
                f"COPY (SELECT {select} FROM {relation} AS src ORDER BY {order}) "
                f"TO '{target}' ({options})"
            )
            rows = con.execute(f"SELECT COUNT(*) FROM {relation}").fetchone()[0]
            log(printable(f"[{index}/{len(names)}] {schema}.{name} -> {path} ({rows:,} rows)"))
            written.append(path)
    return written
