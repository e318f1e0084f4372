"""Macros of the savings-account summary (SPEC §5): the lending files as raw rows, and exact
half-away-from-zero rounding of DECIMAL values.

``@lending_rows('customers' | 'accounts')`` is the INTERIM reader of the two full-snapshot files
``<root>/landing/lending/customers.csv`` and ``accounts.csv`` (issue 18): the staging models
``stg_lending_customers`` / ``stg_lending_accounts`` read it until the shared classifier (with
quarantine and load accounting) takes the lending sources over. It follows SPEC §1 like the
daily reader (benefits_mesh/landing.py): BOM allowed, header names trimmed and matched
case-insensitively in any order, every contract column exactly once (else the load fails naming
file and column), extra columns ignored and logged, LF or CRLF (not mixed), RFC 4180 quoting,
the body read by position as VARCHAR in strict mode, ``_row_number`` the 1-based data record.

A root without ``landing/lending/`` (or without one of the files) is not an error: every root
made before SPEC §5 lacks it. The relation is then empty, so ``marts.account_summary`` is
empty, and a plan or run that builds the models says so once (``[WARNING] lending: ...``). A
missing or unreadable landing root still fails, as for every source: an unmounted share is not
"no data".
"""

from __future__ import annotations

from sqlglot import exp
from sqlmesh import macro

#: Contract columns per lending file, as matched in the header (trimmed, lower-cased), and the
#: names the staging models read them by.
LENDING_FILES: dict[str, tuple[tuple[str, str], ...]] = {
    "customers": (("customerid", "customer_id"), ("name", "name"), ("hasloan", "has_loan")),
    "accounts": (
        ("accountid", "account_id"),
        ("customerid", "customer_id"),
        ("balance", "balance"),
        ("accounttype", "account_type"),
    ),
}


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _empty_sql(kind: str) -> str:
    columns = ", ".join(f"CAST(NULL AS VARCHAR) AS {name}" for _, name in LENDING_FILES[kind])
    return (
        f"(SELECT CAST(NULL AS VARCHAR) AS _source_file, CAST(NULL AS BIGINT) AS _row_number, "
        f"{columns} WHERE FALSE)"
    )


def _warn(message: str) -> None:
    import logging

    from rich.markup import escape
    from sqlmesh.core.console import get_console

    logging.getLogger("benefits_mesh.lending").warning(message)
    get_console().log_warning(escape(message))


def _header(kind: str, path) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(normalised header, extra columns) of a lending file, or LandingFileError: the same
    header rules as the daily delivery files."""
    from benefits_mesh.landing import match_header

    return match_header(path, tuple(column for column, _ in LENDING_FILES[kind]))


def lending_rows_sql(kind: str, read: bool = True) -> str:
    """Every data record of ``<root>/landing/lending/<kind>.csv`` as VARCHAR columns
    (``_source_file``, ``_row_number``, then the contract columns); empty without the file."""
    import os

    from benefits_mesh.landing import (
        LENDING_FOLDER,
        LandingFileError,
        check_line_endings,
        landing_dir,
        read_csv_call,
    )

    if kind not in LENDING_FILES:
        raise LandingFileError(f"unknown lending file {kind!r}; expected customers or accounts")
    if not read:
        return _empty_sql(kind)
    folder = landing_dir() / LENDING_FOLDER  # a missing landing root fails here, as everywhere
    path = folder / f"{kind}.csv"
    if not folder.exists():
        if kind == "customers":  # said once per run: every lending model reads this folder
            _warn(
                f"lending: no {folder} folder, so marts.account_summary is empty (SPEC §5: "
                "customers.csv and accounts.csv, full snapshots)"
            )
        return _empty_sql(kind)
    if not folder.is_dir() or not os.access(folder, os.R_OK | os.X_OK):
        raise LandingFileError(f"{folder}: lending folder is not a folder this process can read")
    if not path.exists():
        _warn(f"lending: no {path}, so staging.stg_lending_{kind} is empty")
        return _empty_sql(kind)
    if not path.is_file():
        raise LandingFileError(f"{path}: not a file")
    header, extra = _header(kind, path)
    check_line_endings(path)
    projections = ", ".join(
        f"r.c{header.index(column)} AS {name}" for column, name in LENDING_FILES[kind]
    )
    reader = read_csv_call(("lending", path, None, header, extra))
    return (
        f"(SELECT {_quote(path.name)} AS _source_file, CAST(r.ordinality AS BIGINT) AS "
        f"_row_number, {projections} FROM {reader} WITH ORDINALITY AS r)"
    )


@macro()
def lending_rows(evaluator, kind: exp.Expression):
    """Raw records of the lending snapshot ``kind`` ('customers' | 'accounts'), all VARCHAR.

    SQLMesh renders every model once at load time (to infer columns): no file is read then.
    """
    return lending_rows_sql(kind.name, read=evaluator.runtime_stage != "loading")


@macro()
def round_half_away(evaluator, value: exp.Expression, places: exp.Expression) -> str:
    """``value`` rounded half away from zero to ``places`` decimals, exactly, as a DECIMAL.

    ``value`` must be an exact DECIMAL (e.g. the product of two DECIMALs, cast wide enough not
    to overflow: DuckDB sizes DECIMAL(18,2) x DECIMAL(6,4) as DECIMAL(18,6)). Written with
    FLOOR and DECIMAL multiplication only, so the tie rule does not depend on an engine's ROUND
    (DuckDB's ROUND on DECIMAL also rounds ties away from zero, but on DOUBLE it does not,
    and other engines differ); no division, which DuckDB would do in DOUBLE.
    """
    digits = int(places.name)
    if not 0 <= digits <= 18:
        raise ValueError(f"round_half_away: places must be 0..18, got {places.sql()}")
    scale = f"CAST(1{'0' * digits} AS DECIMAL(38, 0))"
    unit = f"CAST({'0.' + '0' * (digits - 1) + '1' if digits else '1'} AS DECIMAL(38, {digits}))"
    v = value.sql(dialect=evaluator.dialect)
    return (
        f"(CASE WHEN ({v}) < 0 THEN -FLOOR(-({v}) * {scale} + 0.5) "
        f"ELSE FLOOR(({v}) * {scale} + 0.5) END * {unit})"
    )
