"""Landing-zone file discovery and header checks (SPEC §1).

The staging models read only the files of the interval being processed. This module finds those
files, validates each header before DuckDB reads the body, and builds the ``read_csv`` call that
maps the file's columns (any order, any case, surrounding spaces) onto the contract columns.
Anything wrong with a file raises :class:`LandingFileError` naming the file (and line).
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
import os
import threading
from pathlib import Path

from benefits_mesh.contract import COLUMNS, SNAPSHOTS, snapshot_headers
from benefits_mesh.settings import data_dir

BOM = b"\xef\xbb\xbf"
#: The lending snapshot (SPEC §5): full-snapshot files in landing/lending/, read by each day's run.
LENDING_FOLDER = "lending"
#: Snapshot file name -> source name (as in the load accounting).
LENDING_SNAPSHOTS: dict[str, str] = {d["file"]: source for source, d in SNAPSHOTS.items()}


class LandingFileError(ValueError):
    """A delivery file that breaks the landing contract; the message names file and line."""

    pass


# A delivery file is a plain tuple (source, path, delivery_date, header, extra_columns): SQLMesh
# serialises the code macros call into each model's snapshot, and plain data serialises cleanly.
# A snapshot's delivery date is the day the run read it.
DeliveryFile = tuple[str, Path, dt.date, tuple[str, ...], tuple[str, ...]]


def contract_headers(source: str) -> tuple[tuple[str, str], ...]:
    """(header name as matched, column name) per contract column of a daily or snapshot source:
    a daily file's header names are the column names; a snapshot's are its own (CustomerID)."""
    if source in COLUMNS:
        return tuple((column, column) for column in COLUMNS[source])
    if source in SNAPSHOTS:
        return snapshot_headers(source)
    known = ", ".join((*COLUMNS, *SNAPSHOTS))
    raise LandingFileError(f"unknown source {source!r}; expected one of {known}")


def _readable_folder(path: Path, what: str) -> Path:
    """``path``, or LandingFileError when it is not a folder this process can list."""
    if not path.is_dir():
        raise LandingFileError(
            f"{path}: {what} is missing or not a folder; check BENEFITS_DATA_DIR "
            "(nothing was loaded and no day was closed)"
        )
    if not os.access(path, os.R_OK | os.X_OK):
        raise LandingFileError(
            f"{path}: {what} cannot be read (permission denied); nothing was loaded and no "
            "day was closed"
        )
    return path


def landing_dir(root: Path | None = None) -> Path:
    """``<root>/landing``, checked: a missing or unreadable landing root fails at once.

    Checked before anything decides that a day had no delivery: an unmounted share or a
    mistyped ``BENEFITS_DATA_DIR`` must never look like quiet days.
    """
    root = _readable_folder(root or data_dir(), "landing root (BENEFITS_DATA_DIR)")
    return _readable_folder(root / "landing", "landing folder")


def source_dir(source: str, root: Path | None = None) -> Path:
    return (root or data_dir()) / "landing" / source


def check_source_dir(source: str, root: Path | None = None) -> Path:
    """The source's landing folder, after checking the landing root (see :func:`landing_dir`).

    A source folder that does not exist means the source has not delivered yet; one that
    exists but cannot be listed is an error (its files would look absent).
    """
    folder = landing_dir(root) / source
    if folder.exists() and not os.access(folder, os.R_OK | os.X_OK):
        raise LandingFileError(f"{folder}: source folder cannot be read (permission denied)")
    return folder


def file_path(source: str, day: dt.date, root: Path | None = None) -> Path:
    return source_dir(source, root) / f"{source}_{day.isoformat()}.csv"


def days(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


def read_header(source: str, path: Path) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Return (normalised header, extra columns) of a delivery file or raise LandingFileError."""
    return match_header(path, tuple(header for header, _ in contract_headers(source)))


def match_header(path: Path, contract) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(normalised header, extra columns) of the CSV file ``path`` against the ``contract``
    columns (SPEC §1: names trimmed, any letter case, any order, extra ones ignored with a
    warning), or LandingFileError naming the file and line 1. Every landing reader uses it."""
    try:
        with open(path, "rb") as handle:
            first = handle.readline()
    except OSError as exc:
        raise LandingFileError(f"{path}: cannot be read ({exc.strerror})") from None
    if first.startswith(BOM):
        first = first[len(BOM) :]
    if not first.strip():
        raise LandingFileError(f"{path}: line 1: no header row (the file is empty or starts blank)")
    try:
        text = first.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LandingFileError(
            f"{path}: line 1: bytes that are not UTF-8 (byte {exc.start + 1} of the header)"
        ) from None
    try:
        fields = next(csv.reader([text.rstrip("\r\n")], strict=True))
    except csv.Error as exc:
        raise LandingFileError(f"{path}: line 1: malformed header ({exc})") from None
    header = tuple(field.strip().lower() for field in fields)
    missing = [column for column in contract if column not in header]
    if missing:
        raise LandingFileError(
            f"{path}: line 1: header lacks contract column(s) {', '.join(missing)} "
            f"(found: {', '.join(header)})"
        )
    repeated = sorted({column for column in contract if header.count(column) > 1})
    if repeated:
        raise LandingFileError(f"{path}: line 1: header repeats column(s) {', '.join(repeated)}")
    extra = tuple(column for column in header if column not in contract)
    if extra:
        logging.getLogger("benefits_mesh.landing").warning(
            "%s: ignoring extra column(s) %s", path, ", ".join(extra)
        )
    return header, extra


def delivery_files(
    source: str, start: dt.date, end: dt.date, root: Path | None = None
) -> list[DeliveryFile]:
    """The source's delivery files dated within [start, end], headers checked."""
    check_source_dir(source, root)
    found = []
    for day in days(start, end):
        path = file_path(source, day, root)
        if path.is_file():
            header, extra = read_header(source, path)
            found.append((source, path, day, header, extra))
    return found


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _literal_path(path: Path) -> str:
    """A file path as a DuckDB string literal that matches only that file.

    DuckDB expands ``*``, ``?`` and ``[...]`` in a reader's path even when the file exists;
    each is wrapped in a one-character class (``[*]``, ``[?]``, ``[[]``), which matches itself.
    """
    text = path.as_posix()
    return _quote("".join(f"[{ch}]" if ch in "*?[" else ch for ch in text))


#: Bytes read at a time when a file is scanned in Python (digest, line endings).
_CHUNK = 8 << 20

#: scan_file's answers in this process by (path, size, mtime_ns)
SCANNED: dict[tuple[str, int, int], tuple[int, int, str]] = {}
#: the (path, size, mtime_ns) whose line endings check_file has checked in this process
CHECKED: dict[tuple[str, int, int], None] = {}
#: one lock per pass ("check", "digest") and path (and SCANNING's own): SQLMesh evaluates two
#: models at once, and the classifier's render and the file accounting's may ask together
SCANNING: dict[tuple[str, str], threading.Lock] = {}
SCANNING_LOCK = threading.Lock()


def _fingerprint(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_size, info.st_mtime_ns


def _line_ending_error(path: Path, offset: int, line: int, header_crlf: bool) -> LandingFileError:
    found, first = ("LF", "CRLF") if header_crlf else ("CRLF", "LF")
    return LandingFileError(
        f"{path}: line {line}: ends with {found} but line 1 ends with {first}: mixed line "
        f"endings in one file (byte {offset + 1}); deliver the file with LF or CRLF throughout"
    )


def _read_checked(path: Path) -> None:
    """Read the file once, checking that every line ends like line 1 (LF or CRLF).

    SPEC §1 allows LF or CRLF; DuckDB's strict reader refuses a file that mixes them with a
    message naming neither line nor cause, so the mix is found here first, with its line.
    A line end inside a quoted field is data, not a line end: a position is inside quotes when
    an odd number of ``"`` precede it (RFC 4180 doubles quotes inside quoted fields, so the
    parity holds). An LF file costs one ``find`` of CR per chunk: 1.35 GB in 0.3 s from the page
    cache (issue 20; counting its quotes and lines as well took 1.8 s). The quotes and lines
    before a position are counted only once a CR LF (LF file) or a lone LF (CRLF file) is met,
    by reading the file again up to that chunk, and from then on per chunk. Plain functions,
    no class: SQLMesh serialises this code into the models.
    """
    state = {"crlf": None, "offset": 0, "quotes": None, "lines": None, "last": b""}

    def fail_outside_quotes(chunk: bytes, pos: int) -> None:
        if state["quotes"] is None:  # the first suspect: count what came before this chunk
            state["quotes"], state["lines"] = _quotes_and_lines(path, state["offset"])
        if (state["quotes"] + chunk.count(b'"', 0, pos)) % 2 == 0:
            line = state["lines"] + chunk.count(b"\n", 0, pos) + 1
            raise _line_ending_error(path, state["offset"] + pos, line, bool(state["crlf"]))

    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            if state["crlf"] is None:
                end = chunk.find(b"\n")
                state["crlf"] = end > 0 and chunk[end - 1 : end] == b"\r"
            if state["crlf"]:  # a CRLF file: any LF not preceded by CR is a mix
                lone = chunk.count(b"\n") - chunk.count(b"\r\n")
                if chunk[:1] == b"\n" and state["last"] == b"\r":
                    lone -= 1
                pos = chunk.find(b"\n") if lone > 0 else -1
                while pos >= 0:
                    if (chunk[pos - 1 : pos] if pos else state["last"]) != b"\r":
                        fail_outside_quotes(chunk, pos)
                    pos = chunk.find(b"\n", pos + 1)
            else:  # an LF file: any CR LF is a mix
                if state["last"] == b"\r" and chunk[:1] == b"\n":
                    fail_outside_quotes(chunk, 0)
                pos = chunk.find(b"\r")
                while pos >= 0:
                    if chunk[pos + 1 : pos + 2] == b"\n":
                        fail_outside_quotes(chunk, pos + 1)
                    pos = chunk.find(b"\r", pos + 1)
            state["offset"] += len(chunk)
            if state["quotes"] is not None:
                state["quotes"] += chunk.count(b'"')
                state["lines"] += chunk.count(b"\n")
            state["last"] = chunk[-1:]


def _quotes_and_lines(path: Path, size: int) -> tuple[int, int]:
    """The ``"`` and LF counts of the first ``size`` bytes of the file."""
    quotes = lines = 0
    with open(path, "rb") as handle:
        while size > 0 and (chunk := handle.read(min(_CHUNK, size))):
            quotes += chunk.count(b'"')
            lines += chunk.count(b"\n")
            size -= len(chunk)
    return quotes, lines


def check_file(path: Path) -> None:
    """The line-ending check of a delivery file (:func:`_read_checked`), once per file, stat and
    process: what the classifier's render needs before DuckDB reads the file (0.3 s for 1.35 GB).
    A file that changes while it is read is refused (LandingFileError): it is still being
    written, and nothing of it is loaded this run."""
    from benefits_mesh import landing

    _once_per_stat(landing.CHECKED, "check", path, lambda before: _read_checked(path))


def scan_file(path: Path) -> tuple[int, int, str]:
    """(size, mtime_ns, BLAKE2b digest) of a delivery file, its line endings checked.

    The file is stat'ed before and after the read: a file that changed meanwhile is still
    being written, and is refused for this run (LandingFileError) rather than half loaded.
    The (size, mtime) pair is recorded with the load: a later change is found by a stat, and
    only a changed stat costs a digest (see benefits_mesh.inventory).

    Each pass once per file, stat and process (:func:`_once_per_stat`): the line-ending check,
    which the classifier's render has usually made already (:func:`check_file`), then the
    digest, the slower pass (BLAKE2b: 1.35 GB in 1.4-2.4 s), which the file-metadata model makes
    on the second worker while the classifier runs (issue 20). The check is made under the
    digest's lock after its first stat, so a file rewritten between the two passes is refused.
    """
    from benefits_mesh import landing

    def digest(before: tuple[int, int]) -> tuple[int, int, str]:
        check_file(path)
        return before[0], before[1], _digest(path)

    return _once_per_stat(landing.SCANNED, "digest", path, digest)


def _once_per_stat(answers: dict, kind: str, path: Path, work):
    """``work(stat)``'s answer for the file, made once per (path, size, mtime_ns) and process.

    The answers live in the imported module (SQLMesh runs its own copy of these functions in
    each model that uses them, so a global of the copy would not be shared); a lock per pass
    and path makes a second asker wait for the first's answer (two models evaluate at once);
    a file that changed during the pass is refused (LandingFileError) and nothing is kept."""
    from benefits_mesh import landing

    with landing.SCANNING_LOCK:
        lock = landing.SCANNING.setdefault((kind, str(path)), threading.Lock())
    with lock:
        before = _fingerprint(path)
        key = (str(path), *before)
        if key not in answers:
            answer = work(before)
            after = _fingerprint(path)
            if after != before:
                raise LandingFileError(
                    f"{path}: changed while it was being read ({before[0]:,} -> {after[0]:,} "
                    "bytes): it is still being written; nothing of it was loaded, the next run "
                    "loads it"
                )
            answers[key] = answer
        return answers[key]


def _digest(path: Path) -> str:
    import hashlib

    digest = hashlib.blake2b()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()[:32]


def read_csv_call(file: DeliveryFile) -> str:
    """``READ_CSV(...)`` over one file's data records, columns c0..cN as VARCHAR by position.

    The body is read by position (``header = false, skip = 1``) after the header was checked, so
    column order and header spelling may vary between files. Strict mode makes a malformed body
    (unbalanced quotes, wrong field count, bytes that are not UTF-8) fail naming file and line.
    """
    _, path, _, header, _ = file
    # `columns` must be a STRUCT. It is built with JSON_TRANSFORM from a string rather than
    # written as a {'c0': 'VARCHAR'} literal: SQLMesh rewrites struct literals into invalid SQL
    # when it inlines this query into the EMBEDDED consumer (sqlmesh 0.236.4).
    spec = "{" + ", ".join(f'"c{i}": "VARCHAR"' for i in range(len(header))) + "}"
    return (
        f"READ_CSV({_literal_path(path)}, header = FALSE, skip = 1, auto_detect = FALSE, "
        f"columns = JSON_TRANSFORM({_quote(spec)}, {_quote(spec)}), delim = ',', quote = '\"', "
        f"escape = '\"', strict_mode = TRUE, null_padding = FALSE, encoding = 'utf-8')"
    )


# The landing edge is the only engine-specific SQL of the project (``engine``: "duckdb" or
# "spark", settings.ENGINES): everything from the typed staging layer up is the same SQL on both
# engines (DESIGN.md, "Engines"; the lint rule engineneutral).


def spark_view_name(file: DeliveryFile) -> str:
    """The Spark temporary view over one file's data records (:func:`spark_view_sql`); named by
    path, size and mtime, so a replaced file gets a new view."""
    import hashlib

    _, path, _, _, _ = file
    size, mtime_ns = _fingerprint(path)
    key = f"{path}|{size}|{mtime_ns}".encode()
    return "landing_" + hashlib.blake2b(key, digest_size=8).hexdigest()


def _hadoop_path(path: Path) -> str:
    """A file path as a Spark (Hadoop) path that matches only that file: Hadoop expands
    ``* ? [ ] { } \\`` like a shell, and a backslash makes each stand for itself."""
    return "".join(f"\\{ch}" if ch in "*?[]{}\\" else ch for ch in path.as_posix())


def spark_view_sql(file: DeliveryFile) -> str:
    """``CREATE TEMPORARY VIEW`` over one file's data records on Spark: Spark's CSV reader with
    the options DuckDB's strict reader has (RFC 4180 quotes, UTF-8, the header line skipped,
    columns c0..cN as STRING by position, FAILFAST on a malformed record). Run by the landing
    macros before the query that reads :func:`read_csv_sql` (``engine='spark'``)."""
    _, path, _, header, _ = file
    columns = ", ".join(f"c{i} STRING" for i in range(len(header)))
    options = {
        "path": _hadoop_path(path),
        "header": "true",
        "enforceSchema": "true",
        "sep": ",",
        "quote": '"',
        "escape": '"',
        "mode": "FAILFAST",
        "multiLine": "false",
        "encoding": "UTF-8",
        "ignoreLeadingWhiteSpace": "false",
        "ignoreTrailingWhiteSpace": "false",
    }
    rendered = ", ".join(f"{key} {_quote(value)}" for key, value in options.items())
    return (
        f"CREATE OR REPLACE TEMPORARY VIEW {spark_view_name(file)} ({columns}) "
        f"USING csv OPTIONS ({rendered})"
    )


def contract_columns(file: DeliveryFile, value: str = "r.{position}") -> str:
    """The contract columns of a file read by position (``c0``..``cN`` of :func:`read_csv_call`),
    in contract order: ``value`` (``{position}`` = that column's ``cN``) AS the column's name."""
    source, _, _, header, _ = file
    return ", ".join(
        f"{value.format(position=f'c{header.index(name)}')} AS {column}"
        for name, column in contract_headers(source)
    )


def read_csv_sql(file: DeliveryFile, engine: str = "duckdb") -> str:
    """A SELECT over one file's data records: metadata columns then contract columns (VARCHAR).

    DuckDB: ``WITH ORDINALITY`` numbers the data records from 1 in file order. Spark: the view of
    :func:`spark_view_sql`, numbered in file order by ``MONOTONICALLY_INCREASING_ID`` (one
    delivery file is one input split up to ``spark.sql.files.maxPartitionBytes``, and the splits
    of a bigger file keep its order), and an empty field made NULL as DuckDB reads it. Completely
    empty lines are skipped by both readers, not numbered.
    """
    _, path, day, _, _ = file
    check_file(path)  # line endings (the digest is the file accounting's, stg_<src>__files)
    meta = (
        f"SELECT {_quote(path.name)} AS _source_file, "
        f"CAST({_quote(day.isoformat())} AS DATE) AS _delivery_date, "
    )
    if engine == "spark":
        projections = contract_columns(file, "NULLIF(r.{position}, '')")
        return (
            f"{meta}CAST(ROW_NUMBER() OVER (ORDER BY r._position) AS BIGINT) AS _row_number, "
            f"{projections} FROM (SELECT v.*, MONOTONICALLY_INCREASING_ID() AS _position "
            f"FROM {spark_view_name(file)} AS v) AS r"
        )
    projections = contract_columns(file)
    return (
        f"{meta}CAST(r.ordinality AS BIGINT) AS _row_number, {projections} "
        f"FROM {read_csv_call(file)} WITH ORDINALITY AS r"
    )


def empty_sql(source: str) -> str:
    """The same relation as :func:`read_csv_sql` with no rows (days without files)."""
    projections = ", ".join(
        f"CAST(NULL AS VARCHAR) AS {column}" for _, column in contract_headers(source)
    )
    return (
        "SELECT CAST(NULL AS VARCHAR) AS _source_file, CAST(NULL AS DATE) AS _delivery_date, "
        f"CAST(NULL AS BIGINT) AS _row_number, {projections} WHERE FALSE"
    )


def rows_sql(source: str, files: list[DeliveryFile], engine: str = "duckdb") -> str:
    """Every data record of ``files`` (of one source) as one relation."""
    parts = [read_csv_sql(file, engine) for file in files] or [empty_sql(source)]
    return "(" + " UNION ALL ".join(parts) + ")"


def landing_files_of(source: str, start: dt.date, end: dt.date) -> list[DeliveryFile]:
    """The delivery files of a daily ``source`` dated within [start, end], headers checked."""
    if source not in COLUMNS:
        raise LandingFileError(f"unknown source {source!r}; expected one of {', '.join(COLUMNS)}")
    return delivery_files(source, start, end)


def file_row_sql(file: DeliveryFile, engine: str = "duckdb") -> str:
    """One row describing a delivery file (the raw side of the load accounting).

    ``raw_rows`` counts the file's data records in a scan of its own, independent of the staging
    models, so the load accounting identity compares two separate counts.
    """
    source, path, day, header, extra = file
    # COUNT over every column, not COUNT(*): a scan projecting no column skips UTF-8
    # validation, and this scan must reject exactly what the staging scan rejects.
    every_column = ", ".join(f"r.c{i}" for i in range(len(header)))
    size, mtime_ns, digest = scan_file(path)
    return (
        f"SELECT {_quote(source)} AS source, {_quote(path.name)} AS source_file, "
        f"CAST({_quote(day.isoformat())} AS DATE) AS delivery_date, "
        f"{_quote(', '.join(extra))} AS extra_columns, "
        f"CAST({size} AS BIGINT) AS file_size_bytes, "
        f"CAST({mtime_ns} AS BIGINT) AS file_mtime_ns, "
        f"{_quote(digest)} AS content_digest, "
        f"CAST(COUNT(COALESCE({every_column}, '')) AS BIGINT) AS raw_rows "
        f"FROM {spark_view_name(file) if engine == 'spark' else read_csv_call(file)} AS r"
    )


def files_sql(files: list[DeliveryFile], engine: str = "duckdb") -> str:
    """One row per file of ``files`` (:func:`file_row_sql`), or an empty relation."""
    rows = [file_row_sql(file, engine) for file in files] or [
        "SELECT CAST(NULL AS VARCHAR) AS source, CAST(NULL AS VARCHAR) AS source_file, "
        "CAST(NULL AS DATE) AS delivery_date, CAST(NULL AS VARCHAR) AS extra_columns, "
        "CAST(NULL AS BIGINT) AS file_size_bytes, CAST(NULL AS BIGINT) AS file_mtime_ns, "
        "CAST(NULL AS VARCHAR) AS content_digest, CAST(NULL AS BIGINT) AS raw_rows WHERE FALSE"
    ]
    return "(" + " UNION ALL ".join(rows) + ")"


def delivery_files_of(
    start: dt.date, end: dt.date, sources: tuple[str, ...] | None = None
) -> list[DeliveryFile]:
    """The delivery files of every source (or of ``sources``) dated within [start, end]."""
    found = []
    for source in sources or tuple(COLUMNS):
        if source not in COLUMNS:
            raise ValueError(f"unknown source {source!r}; expected one of {', '.join(COLUMNS)}")
        found += delivery_files(source, start, end)
    return found


def snapshot_file(
    source: str, day: dt.date, root: Path | None = None
) -> tuple[DeliveryFile | None, str | None]:
    """The current file of a snapshot source (SPEC §5) as read on ``day``, header checked, or
    (None, why there is none).

    A root without ``landing/lending/`` (or without the file) is not an error: every root made
    before SPEC §5 lacks it; the reason says what stays empty. A missing or unreadable landing
    root still fails, as for every source: an unmounted share is not "no data".
    """
    if source not in SNAPSHOTS:
        raise LandingFileError(f"unknown snapshot {source!r}; expected {', '.join(SNAPSHOTS)}")
    folder = landing_dir(root) / LENDING_FOLDER
    path = folder / SNAPSHOTS[source]["file"]
    if not folder.exists():
        return None, (
            f"lending: no {folder} folder, so marts.account_summary is empty (SPEC §5: "
            f"{' and '.join(LENDING_SNAPSHOTS)}, full snapshots)"
        )
    if not folder.is_dir() or not os.access(folder, os.R_OK | os.X_OK):
        raise LandingFileError(f"{folder}: lending folder is not a folder this process can read")
    if not path.exists():
        return None, f"lending: no {path}, so staging.stg_{source} is empty"
    if not path.is_file():
        raise LandingFileError(f"{path}: not a file")
    header, extra = read_header(source, path)
    return (source, path, day, header, extra), None


def company_lookup_rows(root: Path | None = None) -> list[dict]:
    """The reference file ``<root>/reference/company_lookup.json`` (SPEC §1), checked."""
    import json

    root = _readable_folder(root or data_dir(), "landing root (BENEFITS_DATA_DIR)")
    path = root / "reference" / "company_lookup.json"
    if not path.is_file():
        raise LandingFileError(f"{path}: reference file missing")
    try:
        companies = json.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise LandingFileError(f"{path}: cannot be read ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise LandingFileError(f"{path}: bytes that are not UTF-8 ({exc})") from None
    except json.JSONDecodeError as exc:
        raise LandingFileError(f"{path}: line {exc.lineno}: invalid JSON ({exc.msg})") from None
    if not isinstance(companies, list):
        raise LandingFileError(f"{path}: expected a JSON array of company objects")
    if not companies:
        raise LandingFileError(
            f"{path}: the company list is empty (an empty registry would turn every company "
            "into an unknown one); deliver the registry or keep the previous file"
        )
    expected = {
        "ein": str,
        "company_name": str,
        "domains": list,
        "industry": str,
        "expected_headcount": int,
        "state": str,
    }
    seen: dict[str, int] = {}
    for index, company in enumerate(companies, start=1):
        if not isinstance(company, dict) or not isinstance(company.get("ein"), str):
            raise LandingFileError(f"{path}: company #{index}: expected an object with an 'ein'")
        digits = "".join(ch for ch in company["ein"] if "0" <= ch <= "9")
        if len(digits) != 9:
            raise LandingFileError(f"{path}: company #{index}: invalid EIN {company['ein']!r}")
        if digits in seen:
            raise LandingFileError(
                f"{path}: company #{index}: EIN {company['ein']!r} repeats company #{seen[digits]}"
            )
        seen[digits] = index
        for key, kind in expected.items():
            value = company.get(key)
            if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
                raise LandingFileError(
                    f"{path}: company #{index} ({company['ein']}): '{key}' should be "
                    f"{kind.__name__}, got {type(value).__name__}"
                )
        headcount = company.get("expected_headcount")
        if headcount is not None and not 0 <= headcount <= _BIGINT_MAX:
            raise LandingFileError(
                f"{path}: company #{index} ({company['ein']}): 'expected_headcount' "
                f"{headcount} is out of range (0 to {_BIGINT_MAX:,})"
            )
        for domain in company.get("domains") or []:
            if not isinstance(domain, str):
                raise LandingFileError(
                    f"{path}: company #{index} ({company['ein']}): 'domains' should hold "
                    f"strings, got {type(domain).__name__} {domain!r}"
                )
    return companies


#: Largest value of the warehouse's BIGINT (a headcount beyond it would become NULL).
_BIGINT_MAX = 2**63 - 1


#: Spark's names of the types the JSON relations use
_SPARK_TYPES = {"VARCHAR": "string", "BIGINT": "bigint"}


def _json_rows_sql(columns: dict[str, str], rows: list[tuple], engine: str = "duckdb") -> str:
    """Literal rows as one relation with typed columns (``columns``: name -> SQL type).

    The rows travel as ONE JSON string literal that the engine's FROM_JSON unpacks: SQLMesh
    deep-copies and walks a query's expression tree several times while evaluating it, and a
    2,000-company lookup written as SQL rows (a UNION ALL or a VALUES list) took 8-18 s per
    model per run in sqlglot; one literal takes milliseconds. Engine-specific, like the CSV
    reader (the landing edge): DuckDB's FROM_JSON takes a JSON schema and UNNEST, Spark's a DDL
    type and EXPLODE. With no rows, an empty relation of those types.
    """
    import json

    if not rows:
        nulls = ", ".join(f"CAST(NULL AS {kind}) AS {name}" for name, kind in columns.items())
        return f"(SELECT {nulls} WHERE FALSE)"
    names = list(columns)
    payload = json.dumps([dict(zip(names, row, strict=True)) for row in rows], ensure_ascii=False)
    if engine == "spark":
        fields = ", ".join(f"{name}: {_SPARK_TYPES[kind]}" for name, kind in columns.items())
        schema = f"array<struct<{fields}>>"
        unpacked = f"EXPLODE(FROM_JSON({_quote(payload)}, {_quote(schema)}))"
    else:
        schema = json.dumps([{name: kind for name, kind in columns.items()}])
        unpacked = f"UNNEST(FROM_JSON({_quote(payload)}, {_quote(schema)}))"
    typed = ", ".join(
        f"CAST(STRUCT_EXTRACT(r.row_object, {_quote(name)}) AS {kind}) AS {name}"
        for name, kind in columns.items()
    )
    return f"(SELECT {typed} FROM (SELECT {unpacked} AS row_object) AS r)"


def company_lookup_sql(read: bool = True, engine: str = "duckdb") -> str:
    """company_lookup.json as a relation: one row per company object, in file order.

    With ``read=False`` (SQLMesh's load-time render) the relation is empty and no file is read.
    """
    columns = {
        "lookup_position": "BIGINT",
        "ein": "VARCHAR",
        "company_name": "VARCHAR",
        "industry": "VARCHAR",
        "expected_headcount": "BIGINT",
        "state": "VARCHAR",
    }
    rows = [
        (
            index,
            c["ein"],
            c.get("company_name"),
            c.get("industry"),
            c.get("expected_headcount"),
            c.get("state"),
        )
        for index, c in enumerate(company_lookup_rows() if read else [], start=1)
    ]
    return _json_rows_sql(columns, rows, engine)


def company_domains_sql(read: bool = True, engine: str = "duckdb") -> str:
    """One row per (company EIN, e-mail domain) of company_lookup.json (empty if not ``read``)."""
    rows = [
        (c["ein"], domain)
        for c in (company_lookup_rows() if read else [])
        for domain in (c.get("domains") or [])
        if isinstance(domain, str)
    ]
    return _json_rows_sql({"ein": "VARCHAR", "domain": "VARCHAR"}, rows, engine)


def newest_deliveries(root: Path | None = None) -> list[tuple[str, dt.date | None, str | None]]:
    """(source, newest delivery date, its file name) per source; None when it has no file.

    Only files a run would load count (benefits_mesh.inventory): a refused name or a file dated
    after today (a mis-dated file) cannot make a stale feed look fresh.
    """
    from benefits_mesh.inventory import scan

    newest: dict[str, tuple[dt.date, str]] = {}
    for entry in scan(root):
        if entry.status == "pending" and entry.day is not None:
            if entry.folder not in newest or entry.day > newest[entry.folder][0]:
                newest[entry.folder] = (entry.day, entry.name)
    return [(source, *newest.get(source, (None, None))) for source in COLUMNS]


def freshness_sql(read: bool = True) -> str:
    """Rows (source, newest_delivery_date, newest_file, warn_after_hours, error_after_hours)."""
    from benefits_mesh.settings import freshness_hours

    rows = []
    for source, day, name in newest_deliveries() if read else []:
        warn, error = freshness_hours(source)
        rows.append(
            f"SELECT {_quote(source)} AS source, "
            f"CAST({_quote(day.isoformat()) if day else 'NULL'} AS DATE) AS newest_delivery_date, "
            f"CAST({_quote(name) if name else 'NULL'} AS VARCHAR) AS newest_file, "
            f"CAST({warn} AS INTEGER) AS warn_after_hours, "
            f"CAST({error} AS INTEGER) AS error_after_hours"
        )
    if not rows:
        rows.append(
            "SELECT CAST(NULL AS VARCHAR) AS source, CAST(NULL AS DATE) AS newest_delivery_date, "
            "CAST(NULL AS VARCHAR) AS newest_file, CAST(NULL AS INTEGER) AS warn_after_hours, "
            "CAST(NULL AS INTEGER) AS error_after_hours WHERE FALSE"
        )
    return "(" + " UNION ALL ".join(rows) + ")"
