"""Every entry of the landing folder, accounted for: loaded, pending, or why no run loads it.

The landing edge is never silent. A run loads only files named exactly
``landing/<source>/<source>_YYYY-MM-DD.csv`` (lower case, a real date, no spaces) whose day is
open; everything else that lands is classified here, with a reason, and reported by every
``sqlmesh run`` (the notification target in config.py) and by ``benefits-mesh late-files``:

=========  ======================================================================  ========
status     meaning                                                                 exit 1
=========  ======================================================================  ========
loaded     in the load accounting of the environment, unchanged since               no
pending    a valid name whose day has not been processed: a coming run loads it     no
ignored    hidden (``.name``) or temporary / partial-transfer (``.tmp``, ``.part``,  no
           ``.partial``, ``.crdownload``, ``.filepart``, ``.swp``, ``~``) file
refused    a name that is not exactly ``<source>_YYYY-MM-DD.csv`` (letter case,    yes
           spaces, impossible date, suffix), another source's file, a date before
           ``BENEFITS_START``, a folder, a broken link, an unreadable file
future     dated after today: no run loads it before its day has ended             yes
skipped    landed after its day was closed as "no delivery": a restatement loads it yes
changed    its bytes differ from those loaded: a restatement reloads it             yes
=========  ======================================================================  ========

The lending snapshots (``landing/lending/customers.csv``, ``accounts.csv``) are ``pending`` until
a build has read them, ``loaded`` while unchanged since, and ``changed`` when replaced after the
day's run read them (the next day's run reads them; the report prints the command that does it
now).

A loaded file is compared by (size, modification time) recorded with its load; only when the
pair differs is the file read again and its digest compared (a ``touch`` is not a change), so
the check costs a ``stat`` per loaded file per run.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from benefits_mesh import sqlmesh_api
from benefits_mesh.contract import SNAPSHOTS, SOURCES
from benefits_mesh.landing import LENDING_FOLDER, LENDING_SNAPSHOTS, landing_dir, scan_file

#: The one accepted delivery file name (SPEC §1).
NAME = re.compile(r"(?P<source>[a-z]+)_(?P<day>[0-9]{4}-[0-9]{2}-[0-9]{2})\.csv")
#: Temporary and partial-transfer names that are ignored (listed, never loaded, no alarm).
TRANSFER_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", ".filepart", ".swp", "~")
#: Statuses that make `benefits-mesh late-files` exit 1: files no run will load as they are.
PROBLEMS = ("refused", "future", "skipped", "changed")

Fetch = Callable[[str], list[tuple]]


@dataclass(frozen=True)
class Entry:
    """One entry of the landing folder."""

    folder: str  # "claims", ... or "" for landing/ itself
    name: str
    day: dt.date | None
    status: str
    reason: str = ""

    @property
    def shown(self) -> str:
        return f"{self.folder}/{self.name}" if self.folder else self.name


@dataclass(frozen=True)
class Loaded:
    """What the warehouse recorded when it loaded a file."""

    size: int | None
    mtime_ns: int | None
    digest: str | None


def _day(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def _name_problem(source: str, name: str) -> str | None:
    """Why ``name`` is not a delivery file name of ``source`` (None: it is one)."""
    expected = f"{source}_YYYY-MM-DD.csv"
    match = NAME.fullmatch(name)
    if match:
        if match["source"] != source:
            if match["source"] in SOURCES:
                other = match["source"]
                return f"a {other} file in the {source} folder: move it to landing/{other}/"
            return f"name does not match {expected}"
        if _day(match["day"]) is None:
            return f"impossible date {match['day']} in the name"
        return None
    for fixed, what in (
        ("".join(name.split()), "stray spaces in the name"),
        (name.lower(), "letter case differs from the contract (names are matched exactly)"),
        ("".join(name.lower().split()), "letter case and spaces differ from the contract"),
    ):
        fixed_match = NAME.fullmatch(fixed)
        if fixed_match and fixed_match["source"] == source and _day(fixed_match["day"]):
            return f"{what}: rename it to {fixed} to load it"
    return f"name does not match {expected}"


def _kind_problem(entry: os.DirEntry) -> str | None:
    """Why a directory entry is not a regular readable file (None: it is one)."""
    if entry.is_symlink() and not os.path.exists(entry.path):
        return "a broken link (its target is missing)"
    if entry.is_dir():
        return "a folder, not a file (deliveries are files directly in the source folder)"
    if not entry.is_file():
        return "not a regular file"
    if not os.access(entry.path, os.R_OK):
        return "cannot be read (permission denied)"
    return None


def _ignored(name: str) -> str | None:
    if name.startswith("."):
        return "hidden file"
    if name.lower().endswith(TRANSFER_SUFFIXES):
        return "temporary or partial-transfer file"
    return None


def scan(root: Path | None = None, start: dt.date | None = None, today: dt.date | None = None):
    """Classify every entry of ``<root>/landing`` by name and kind (no warehouse needed).

    Valid delivery files get status ``pending`` here (:func:`reconcile` refines it). Raises
    LandingFileError when the landing root or folder is missing or unreadable.
    """
    landing = landing_dir(root)
    today = today or dt.datetime.now(dt.UTC).date()
    entries: list[Entry] = []
    with os.scandir(landing) as listing:
        top = sorted(listing, key=lambda e: e.name)
    for entry in top:
        if entry.name in SOURCES and entry.is_dir():
            entries.extend(_scan_source(entry.name, Path(entry.path), start, today))
            continue
        if entry.name == LENDING_FOLDER and entry.is_dir():
            entries.extend(_scan_lending(Path(entry.path)))
            continue
        reason = _ignored(entry.name)
        if reason:
            entries.append(Entry("", entry.name, None, "ignored", reason))
            continue
        match = NAME.fullmatch(entry.name)
        if match and match["source"] in SOURCES:
            reason = (
                f"a delivery file outside its source folder: move it to landing/{match['source']}/"
            )
        elif entry.is_dir() and entry.name.lower() in SOURCES:
            reason = f"folder name differs in letter case from {entry.name.lower()}/"
        else:
            folders = ", ".join(f"{s}/" for s in (*SOURCES, LENDING_FOLDER))
            reason = f"not a source folder (landing/ holds {folders})"
        entries.append(Entry("", entry.name, None, "refused", reason))
    return entries


def _scan_lending(folder: Path) -> list[Entry]:
    """landing/lending/: the two full snapshots (``pending`` until the warehouse shows them read:
    :func:`reconcile`); anything else there is refused, naming the expected files."""
    entries = []
    with os.scandir(folder) as listing:
        found = sorted(listing, key=lambda e: e.name)
    expected = " and ".join(LENDING_SNAPSHOTS)
    for entry in found:
        name = entry.name
        reason = _ignored(name)
        if reason:
            entries.append(Entry(LENDING_FOLDER, name, None, "ignored", reason))
        elif name in LENDING_SNAPSHOTS and not _kind_problem(entry):
            reason = "a full snapshot: the next run reads it"
            entries.append(Entry(LENDING_FOLDER, name, None, "pending", reason))
        else:
            reason = _kind_problem(entry) or (
                f"rename it to {name.lower()}"
                if name.lower() in LENDING_SNAPSHOTS
                else f"not a lending snapshot (landing/lending/ holds {expected})"
            )
            entries.append(Entry(LENDING_FOLDER, name, None, "refused", reason))
    return entries


def _scan_source(source: str, folder: Path, start: dt.date | None, today: dt.date) -> list[Entry]:
    entries = []
    with os.scandir(folder) as listing:
        found = sorted(listing, key=lambda e: e.name)
    for entry in found:
        name = entry.name
        reason = _ignored(name)
        if reason:
            entries.append(Entry(source, name, None, "ignored", reason))
            continue
        reason = _kind_problem(entry) or _name_problem(source, name)
        if reason:
            entries.append(Entry(source, name, None, "refused", reason))
            continue
        day = dt.date.fromisoformat(NAME.fullmatch(name)["day"])
        if start is not None and day < start:
            reason = f"dated before BENEFITS_START ({start}): no run loads it"
            entries.append(Entry(source, name, day, "refused", reason))
        elif day > today:
            after = day + dt.timedelta(days=1)
            reason = f"dated after today ({today}): mis-dated? no run loads it before {after}"
            entries.append(Entry(source, name, day, "future", reason))
        else:
            entries.append(Entry(source, name, day, "pending", "a coming run loads it"))
    return entries


class UnknownEnvironment(ValueError):
    """An environment that the warehouse's SQLMesh state does not hold."""

    pass


def warehouse_state(
    fetch: Fetch, env: str = "prod"
) -> tuple[dict[tuple[str, str], Loaded], set[tuple[str, dt.date]]]:
    """(loaded files by (source, name), days closed without a file) of an environment.

    A dev environment has views only for the models it changed; the others are prod's tables
    (SQLMesh shares unchanged models' tables), so a table missing from ``staging__<env>`` is
    read from ``staging``.
    """
    relations = fetch(
        "SELECT table_schema, table_name FROM information_schema.tables "
        "WHERE table_catalog = current_database()"
    )
    known = sqlmesh_api.state_environment_names(fetch) if env != "prod" else None
    if known is not None and env not in known:
        names = ", ".join(sorted(known)) or "none"
        raise UnknownEnvironment(f"environment {env!r} not found (environments: {names})")
    from benefits_mesh.warehouse import schema_for

    present = {name: "staging" for schema, name in relations if schema == "staging"}
    if env != "prod":
        present.update({n: s for s, n in relations if s == schema_for("staging", env)})
    loaded: dict[tuple[str, str], Loaded] = {}
    closed: set[tuple[str, dt.date]] = set()
    for source in SNAPSHOTS:  # the snapshot read by the latest build, keyed by its folder
        files = f"stg_{source}__files"
        if files in present:
            for name, size, mtime_ns, digest in fetch(
                "SELECT source_file, file_size_bytes, file_mtime_ns, content_digest "
                f'FROM "{present[files]}"."{files}"'
            ):
                loaded[(LENDING_FOLDER, name)] = Loaded(size, mtime_ns, digest)
    for source in SOURCES:
        files = f"stg_{source}__files"
        if files in present:
            schema = present[files]
            columns = {
                name
                for (name,) in fetch(
                    "SELECT column_name FROM information_schema.columns "
                    f"WHERE table_schema = '{schema}' AND table_name = '{files}'"
                )
            }
            mtime = "file_mtime_ns" if "file_mtime_ns" in columns else "NULL"
            for name, size, mtime_ns, digest in fetch(
                f"SELECT source_file, file_size_bytes, {mtime}, content_digest "
                f'FROM "{schema}"."{files}"'
            ):
                loaded[(source, name)] = Loaded(size, mtime_ns, digest)
        days = f"stg_{source}__delivery_days"
        if days in present:
            schema = present[days]
            closed.update(
                (source, day)
                for (day,) in fetch(
                    f'SELECT delivery_date FROM "{schema}"."{days}" WHERE NOT has_file'
                )
            )
    return loaded, closed


def _change(path: Path, loaded: Loaded, verb: str = "loaded") -> str | None:
    """How the file differs from what was ``verb`` (None: unchanged)."""
    info = path.stat()
    if (info.st_size, info.st_mtime_ns) == (loaded.size, loaded.mtime_ns):
        return None
    if loaded.size is not None and info.st_size != loaded.size:
        return f"changed after it was {verb} ({loaded.size:,} -> {info.st_size:,} bytes)"
    _, _, digest = scan_file(path)
    if digest != loaded.digest:
        return f"changed after it was {verb} (same size, other bytes)"
    return None


def reconcile(
    entries: Iterable[Entry],
    loaded: dict[tuple[str, str], Loaded],
    closed: set[tuple[str, dt.date]],
    root: Path | None = None,
) -> list[Entry]:
    """Refine ``pending`` entries with the warehouse state: loaded, changed or skipped."""
    landing = landing_dir(root)
    result = []
    for entry in entries:
        if entry.status != "pending":
            result.append(entry)
            continue
        record = loaded.get((entry.folder, entry.name))
        if record is not None:
            snapshot = entry.folder == LENDING_FOLDER
            path = landing / entry.folder / entry.name
            change = _change(path, record, "read" if snapshot else "loaded")
            if change and snapshot:
                change += ": the next day's run reads it; now: " + LENDING_RESTATE
            if change:
                result.append(Entry(entry.folder, entry.name, entry.day, "changed", change))
            else:
                result.append(Entry(entry.folder, entry.name, entry.day, "loaded"))
        elif (entry.folder, entry.day) in closed:
            reason = "landed after its day was closed as a day without delivery"
            result.append(Entry(entry.folder, entry.name, entry.day, "skipped", reason))
        else:
            result.append(entry)
    return result


def inventory(fetch: Fetch | None, env: str = "prod", root: Path | None = None) -> list[Entry]:
    """Every entry of the landing folder with its status (``fetch=None``: names only)."""
    from benefits_mesh.settings import start_date

    entries = scan(root, dt.date.fromisoformat(start_date()))
    if fetch is None:
        return entries
    loaded, closed = warehouse_state(fetch, env)
    return reconcile(entries, loaded, closed, root)


def restate_command(days: Iterable[dt.date]) -> str:
    """The one command that reloads the given delivery days and everything downstream."""
    days = sorted(set(days))
    return (
        "sqlmesh plan --restate-model 'tag:landing' "
        f"--start {days[0]} --end {days[-1]} --auto-apply --no-prompts"
    )


#: The one command that re-reads the lending snapshots now (they are FULL models, rebuilt by the
#: first run of each day: a snapshot replaced after it was read waits for the next day's run).
LENDING_RESTATE = "sqlmesh plan --restate-model 'tag:lending' --auto-apply --no-prompts"


def report_lines(entries: list[Entry], verbose: bool = False) -> list[str]:
    """Printable lines (names escaped) for the entries no run will load, and what to do.

    With ``verbose`` the pending and ignored entries are listed too (late-files).
    """
    from benefits_mesh.text import printable

    shown = [e for e in entries if e.status in PROBLEMS or (verbose and e.status != "loaded")]
    lines = [
        f"{e.status:<8} {printable(e.shown)}: {printable(e.reason)}"
        for e in sorted(shown, key=lambda e: (PROBLEMS + ("pending", "ignored")).index(e.status))
    ]
    reload = [e.day for e in entries if e.status in ("skipped", "changed") and e.day]
    if reload:
        lines.append("reload the skipped/changed days (and everything downstream) with:")
        lines.append("  " + restate_command(reload))
    return lines
