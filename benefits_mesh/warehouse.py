"""Read-only access to the warehouse for the CLI: summaries and exports of an environment."""

from __future__ import annotations

from pathlib import Path

import duckdb

from benefits_mesh.contract import all_reasons
from benefits_mesh.settings import warehouse_path


class WarehouseError(RuntimeError):
    """The warehouse or environment asked for does not exist (yet)."""


def connect(path: Path | None = None) -> duckdb.DuckDBPyConnection:
    path = path or warehouse_path()
    if not path.exists():
        raise WarehouseError(
            f"warehouse {path} does not exist: run `make run` (or `sqlmesh plan`) first, "
            "or point BENEFITS_WAREHOUSE at it"
        )
    try:
        return duckdb.connect(str(path), read_only=True)
    except duckdb.IOException as exc:
        # a plan/run or `sqlmesh ui` holds the write lock: the same one line as `sqlmesh` prints
        from benefits_mesh.runtime import busy_message

        message = busy_message(path, exc)
        if message is None:
            raise
        raise WarehouseError(message) from None


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


def mart_row_counts(con: duckdb.DuckDBPyConnection, env: str = "prod") -> list[tuple[str, int]]:
    schema = schema_for("marts", env)
    names = relations(con, schema)
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
    """Write every marts relation of `env` to out_dir/<table>.<format>; dates as ISO YYYY-MM-DD.

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
    names = relations(con, schema)
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
