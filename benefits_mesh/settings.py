"""Configuration read from the environment (the variables config.yaml and the code read).

A relative path in a path-valued variable is anchored to the project root (the folder holding
``config.yaml``). SQLMesh itself resolves config.yaml's relative paths against the current
folder, so both agree when commands run from the project folder (plain ``sqlmesh``, ``make``);
``benefits-mesh`` makes the paths absolute for every SQLMesh context it opens
(:func:`pin_paths`), and a ``sqlmesh`` command started elsewhere with a relative warehouse path
stops with one line (``benefits_mesh.runtime``).
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

#: First day of the bundled sample's deliveries (``data/``) is covered by this default.
DEFAULT_START = "2026-01-01"
DEFAULT_DATA_DIR = "data"
DEFAULT_WAREHOUSE = ".warehouse/benefits.duckdb"
#: Spark's warehouse, Derby metastore and SQLMesh state file (BENEFITS_ENGINE=spark)
DEFAULT_SPARK_DIR = ".warehouse/spark"
#: The engines config.yaml has a gateway for (BENEFITS_ENGINE)
ENGINES = ("duckdb", "spark")
#: Days a delivery day waits for its file before it is closed as "no file that day".
DEFAULT_FILE_WAIT_DAYS = 30


def project_root() -> Path:
    """The folder holding config.yaml and models/."""
    return Path(__file__).resolve().parent.parent


class SettingError(ValueError):
    """A configuration variable with a value that cannot be used; the message names it."""

    pass  # SQLMesh serialises this class into the models without its docstring


def _path_setting(name: str, default: str) -> Path:
    """The path in environment variable ``name`` (``default`` when unset), taken literally.

    Literal: no ``~`` expansion, no globbing (``?``, ``*``, ``[`` are ordinary characters; the
    landing reader escapes them for DuckDB). A relative path is anchored to the project root. A
    variable that is set but empty (or blank) is an error, never the default: an unset variable
    in a script (``BENEFITS_DATA_DIR=$ROOT`` with ``$ROOT`` empty) must not silently read the
    bundled sample or write the default warehouse.
    """
    value = os.environ.get(name)
    if value is None:
        value = default
    elif not value.strip():
        raise SettingError(
            f"{name} is set but empty: unset it for the default ({default}) or give a path"
        )
    path = Path(value)
    # normpath, not resolve(): a symlinked root stays what the user named, and nothing on disk
    # is consulted to build the path
    return Path(os.path.normpath(path if path.is_absolute() else project_root() / path))


def data_dir() -> Path:
    """The landing root: ``BENEFITS_DATA_DIR`` (default ``data``)."""
    return _path_setting("BENEFITS_DATA_DIR", DEFAULT_DATA_DIR)


def warehouse_path() -> Path:
    """The DuckDB file: ``BENEFITS_WAREHOUSE`` (default ``.warehouse/benefits.duckdb``)."""
    path = _path_setting("BENEFITS_WAREHOUSE", DEFAULT_WAREHOUSE)
    if "?" in str(path):
        # DuckDB 1.5 reads "?" in a database path as the start of URL parameters: it builds the
        # WAL's name from the part before it and fails at the first commit
        raise SettingError(
            f"BENEFITS_WAREHOUSE {str(path)!r} contains '?', which DuckDB cannot use in a "
            "database path: choose a path without it"
        )
    return path


def engine() -> str:
    """The execution engine: ``BENEFITS_ENGINE`` (``duckdb``, the default, or ``spark``)."""
    value = (os.environ.get("BENEFITS_ENGINE") or "duckdb").strip().lower()
    if value not in ENGINES:
        raise SettingError(f"BENEFITS_ENGINE must be one of {', '.join(ENGINES)}, got {value!r}")
    return value


def spark_dir() -> Path:
    """Spark's local folder (``BENEFITS_SPARK_DIR``, default ``.warehouse/spark``): its table
    files, its Derby metastore and SQLMesh's state (a DuckDB file: Spark cannot hold it)."""
    return _path_setting("BENEFITS_SPARK_DIR", DEFAULT_SPARK_DIR)


def pin_paths() -> None:
    """Set ``BENEFITS_WAREHOUSE`` and ``BENEFITS_DATA_DIR`` to their absolute paths in this
    process's environment, so a SQLMesh context it opens (config.yaml resolves relative paths
    against the current folder) and the commands it starts use the same files from any folder.
    A variable set but empty is left as it is: it is an error where it is read."""
    for name, default in (
        ("BENEFITS_WAREHOUSE", DEFAULT_WAREHOUSE),
        ("BENEFITS_DATA_DIR", DEFAULT_DATA_DIR),
        ("BENEFITS_SPARK_DIR", DEFAULT_SPARK_DIR),
    ):
        value = os.environ.get(name)
        if value is None or value.strip():
            os.environ[name] = str(_path_setting(name, default))


def relative_to_project(name: str, default: str) -> bool:
    """True when path variable ``name`` is unset (its default is relative) or relative."""
    value = os.environ.get(name)
    return not Path(default if value is None else value).is_absolute()


def start_date() -> str:
    """First day of backfill: ``BENEFITS_START`` (ISO date, default covers the sample)."""
    value = os.environ.get("BENEFITS_START") or DEFAULT_START
    try:
        dt.date.fromisoformat(value)
    except ValueError as exc:
        raise SettingError(
            f"BENEFITS_START must be an ISO date (YYYY-MM-DD), got {value!r}"
        ) from exc
    return value


def roster_as_of() -> str | None:
    """As-of date D of the roster mart: ``BENEFITS_ROSTER_AS_OF`` (default: latest delivery)."""
    value = os.environ.get("BENEFITS_ROSTER_AS_OF") or None
    if value is not None:
        try:
            dt.date.fromisoformat(value)
        except ValueError as exc:
            raise SettingError(f"BENEFITS_ROSTER_AS_OF must be an ISO date, got {value!r}") from exc
    return value


def _non_negative(name: str, default, parse, what: str):
    """``parse(value)`` of environment variable ``name`` (``default`` when unset), refused with
    a SettingError naming the variable unless it is a finite number >= 0."""
    value = os.environ.get(name) or str(default)
    try:
        number = parse(value)
    except ValueError:
        number = -1
    if not 0 <= number < float("inf"):  # also refuses nan
        raise SettingError(f"{name} must be {what}, got {value!r}")
    return number


def _whole_number(name: str, default: int, unit: str) -> int:
    """A non-negative whole number from environment variable ``name`` (``default`` when unset)."""
    return _non_negative(name, default, int, f"a non-negative whole number of {unit}")


#: Seconds a landed file must have been left unmodified before a run loads it (0 = off).
DEFAULT_FILE_SETTLE_SECONDS = 0


def file_settle_seconds() -> int:
    """``BENEFITS_FILE_SETTLE_SECONDS``: a file modified less than this many seconds ago (by the
    system clock) is treated as still being written and left for the next run (default 0: off).
    """
    return _whole_number("BENEFITS_FILE_SETTLE_SECONDS", DEFAULT_FILE_SETTLE_SECONDS, "seconds")


#: Seconds a command waits for the warehouse while another process holds it (0 = fail at once).
DEFAULT_LOCK_WAIT_SECONDS = 120


def lock_wait_seconds() -> float:
    """``BENEFITS_LOCK_WAIT``: how long a command waits for the warehouse's lock (held by a run,
    a plan, or `make ui` answering a request) before it gives up with one line (default 120)."""
    return _non_negative(
        "BENEFITS_LOCK_WAIT", DEFAULT_LOCK_WAIT_SECONDS, float, "a number of seconds"
    )


def file_wait_days() -> int:
    """``BENEFITS_FILE_WAIT_DAYS``: how long a day without a file stays open for a late file.

    A day whose delivery file has not landed is not processed until the file lands or this many
    days have passed since the day ended; after that the day is closed as "no delivery" and a
    later file for it needs the documented restatement.
    """
    return _whole_number("BENEFITS_FILE_WAIT_DAYS", DEFAULT_FILE_WAIT_DAYS, "days")


#: Freshness thresholds in hours (warn, error) of the newest delivery of each source (issue 6).
DEFAULT_FRESHNESS_HOURS = (12, 24)


def freshness_hours(source: str) -> tuple[int, int]:
    """(warn, error) hours for `source`: ``BENEFITS_FRESHNESS_HOURS_<SOURCE>``, else
    ``BENEFITS_FRESHNESS_HOURS``, each as ``WARN:ERROR`` (default ``12:24``)."""
    name = f"BENEFITS_FRESHNESS_HOURS_{source.upper()}"
    value = os.environ.get(name) or os.environ.get("BENEFITS_FRESHNESS_HOURS")
    if not value:
        return DEFAULT_FRESHNESS_HOURS
    try:
        warn, error = (int(part) for part in value.split(":"))
    except ValueError:
        warn = error = -1
    if not 0 <= warn <= error:
        raise ValueError(
            f"{name} / BENEFITS_FRESHNESS_HOURS must be WARN:ERROR hours with "
            f"0 <= WARN <= ERROR, got {value!r}"
        )
    return warn, error


def memory_limit() -> str:
    """``BENEFITS_MEMORY_LIMIT``: DuckDB's memory limit (default ``6GB``; it spills beyond),
    checked by DuckDB itself (a value it refuses would fail every connection, which SQLMesh
    reads as a warehouse without state)."""
    import duckdb

    value = os.environ.get("BENEFITS_MEMORY_LIMIT") or "6GB"
    try:
        duckdb.connect(":memory:", config={"memory_limit": value}).close()
    except duckdb.Error as exc:
        raise SettingError(
            f"BENEFITS_MEMORY_LIMIT must be a size DuckDB understands (e.g. 6GB or 512MB), "
            f"got {value!r}"
        ) from exc
    return value


def full_audits() -> bool:
    """``BENEFITS_FULL_AUDITS``: ``1`` (or ``true``/``yes``) runs the audits' re-proofs in every
    batch; unset, empty or ``0`` (``false``/``no``) runs them only in a batch holding the first
    day of a month (macros/audits.py). A re-proof checks again what SQLMesh's own merge already
    guarantees, at the price of a pass over the model's history (issue 20)."""
    value = (os.environ.get("BENEFITS_FULL_AUDITS") or "").strip().lower()
    if value in ("", "0", "false", "no"):
        return False
    if value in ("1", "true", "yes"):
        return True
    raise SettingError(f"BENEFITS_FULL_AUDITS must be 1 or 0, got {value!r}")


#: Row-count stability of the marts between runs (issue 6): a mart whose row count moved by
#: more than this fraction of its previous count (and by more than the floor below) warns.
DEFAULT_ROW_COUNT_TOLERANCE = 0.5
#: Changes of at most this many rows never warn, whatever the fraction (tiny marts).
DEFAULT_ROW_COUNT_MIN_CHANGE = 10


def row_count_tolerance(mart: str) -> float:
    """Tolerated relative change of `mart`'s row count between two checks, as a fraction.

    ``BENEFITS_ROW_COUNT_TOLERANCE_<MART>`` (e.g. ``BENEFITS_ROW_COUNT_TOLERANCE_FCT_PLAN_GAPS``
    for ``marts.fct_plan_gaps``), else ``BENEFITS_ROW_COUNT_TOLERANCE`` (default ``0.5``, i.e.
    ±50 %). Read at call time, so a run sees the environment it was started with.
    """
    table = mart.rsplit(".", 1)[-1]
    name = f"BENEFITS_ROW_COUNT_TOLERANCE_{table.upper()}"
    value = os.environ.get(name)
    if not value:
        name, value = "BENEFITS_ROW_COUNT_TOLERANCE", os.environ.get("BENEFITS_ROW_COUNT_TOLERANCE")
    if not value:
        return DEFAULT_ROW_COUNT_TOLERANCE
    try:
        tolerance = float(value)
    except ValueError:
        tolerance = -1.0
    if not 0 <= tolerance < float("inf"):  # also rejects nan
        raise ValueError(f"{name} must be a non-negative fraction (0.5 = +/-50%), got {value!r}")
    return tolerance


def row_count_min_change() -> int:
    """``BENEFITS_ROW_COUNT_MIN_CHANGE``: a change of at most this many rows never warns."""
    return _whole_number("BENEFITS_ROW_COUNT_MIN_CHANGE", DEFAULT_ROW_COUNT_MIN_CHANGE, "rows")


def row_count_tolerance_overrides() -> dict[str, str]:
    """The per-mart ``BENEFITS_ROW_COUNT_TOLERANCE_<MART>`` variables set, by lower-cased mart."""
    prefix = "BENEFITS_ROW_COUNT_TOLERANCE_"
    return {
        name[len(prefix) :].lower(): value
        for name, value in os.environ.items()
        if name.startswith(prefix) and value
    }


#: Company enrichment (SPEC §6): provider and HTTP settings, read when the enrichment runs.
ENRICHMENT_PROVIDERS = ("file", "http")


def enrichment_provider() -> str:
    """``BENEFITS_ENRICHMENT``: ``file`` (default: company_lookup.json) or ``http``."""
    value = (os.environ.get("BENEFITS_ENRICHMENT") or "file").strip().lower()
    if value not in ENRICHMENT_PROVIDERS:
        raise SettingError(f"BENEFITS_ENRICHMENT must be file or http, got {value!r}")
    return value


def _positive_number(name: str, default: float) -> float:
    return _non_negative(name, default, float, "a non-negative number")


def enrichment_settings() -> dict:
    """The ``http`` provider's settings (SPEC §6); the URL is required, the token optional."""
    url = (os.environ.get("BENEFITS_ENRICHMENT_URL") or "").strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise SettingError(
            "BENEFITS_ENRICHMENT=http needs BENEFITS_ENRICHMENT_URL, an http(s) base URL, got "
            f"{url!r}"
        )
    return {
        "url": url,
        "token": os.environ.get("BENEFITS_ENRICHMENT_TOKEN") or "",
        "retries": _whole_number("BENEFITS_ENRICHMENT_RETRIES", 3, "retries"),
        "timeout_s": _positive_number("BENEFITS_ENRICHMENT_TIMEOUT_S", 10),
        "budget_s": _positive_number("BENEFITS_ENRICHMENT_BUDGET_S", 300),
        "ttl_hours": _positive_number("BENEFITS_ENRICHMENT_TTL_HOURS", 24),
        "backoff_s": _positive_number("BENEFITS_ENRICHMENT_BACKOFF_S", 0.5),
        "retry_after_max_s": _positive_number("BENEFITS_ENRICHMENT_RETRY_AFTER_MAX_S", 60),
        "concurrency": max(1, _whole_number("BENEFITS_ENRICHMENT_CONCURRENCY", 8, "requests")),
    }


#: Where SQLMesh keeps its state (config.yaml's BENEFITS_STATE block): the warehouse file, or
#: PostgreSQL reached with the standard libpq variables.
STATE_STORES = ("duckdb", "postgres")


def state_store() -> str:
    """``BENEFITS_STATE``: ``duckdb`` (default: SQLMesh's state in the warehouse file) or
    ``postgres`` (in the database PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE name; PGUSER
    and PGDATABASE required; SQLMesh itself refuses a PGPORT that is no number)."""
    value = (os.environ.get("BENEFITS_STATE") or "duckdb").strip().lower()
    if value not in STATE_STORES:
        raise SettingError(f"BENEFITS_STATE must be duckdb or postgres, got {value!r}")
    if value == "postgres":
        missing = [name for name in ("PGUSER", "PGDATABASE") if not os.environ.get(name)]
        if missing:
            raise SettingError(
                f"BENEFITS_STATE=postgres needs {' and '.join(missing)} (the state's PostgreSQL "
                "role and database; PGHOST, PGPORT and PGPASSWORD as libpq reads them)"
            )
    return value
