"""Process set-up for every SQLMesh command (issue 15, "Output and operations"): the glue
SQLMesh offers no setting for. What it needs of SQLMesh's internals it reaches through
:mod:`benefits_mesh.sqlmesh_api`, the one module that touches them (issue 18). SQLMesh imports
``materializations/project_setup.py`` when it loads the project, before it opens the
warehouse, and that calls :func:`prepare`: so it runs in every ``sqlmesh`` command, in
``sqlmesh ui`` and in every ``Context`` the project's own commands open.

What it does, in this order:

1. **Owner-only files.** ``umask 077`` for the process, so what DuckDB and SQLMesh create from
   now on (the warehouse, its WAL, its ``<warehouse>.tmp`` spill folder, the log folder and log
   files, caches) is 0600 / 0700; what already exists with a wider mode is tightened with chmod.
   Only files and folders the project owns are touched: never the folder a user put the
   warehouse in (it may be shared, e.g. ``/tmp``), except the default ``.warehouse``.
2. **Logs in the project.** SQLMesh's CLI opens its log file under ``logs/`` of the *current*
   directory before it loads the project. Unless ``--log-file-dir`` was given, the open log
   file is moved to ``<project>/logs`` and the handler reopened there (appending); the ``logs/``
   folder SQLMesh just made in the current directory is removed when left empty. SQLMesh's own
   pruning (by name, in the current directory) is off (``log_limit: 0``); the newest 20 logs by
   time written are kept in the log folder (and every log written in the last hour).
3. **A busy warehouse waits, then is one line.** DuckDB lets one process open a database file
   for writing; the loser of that race gets an ``IOException`` that SQLMesh prints as a
   130-line traceback (after mistaking the warehouse for a new one: "Initializing new project
   state..."). The warehouse is opened and closed once here (a lock probe, 16-50 ms measured)
   and SQLMesh's DuckDB connection factory is wrapped: both wait while another process holds
   the lock (``BENEFITS_LOCK_WAIT``, :func:`benefits_mesh.warehouse.wait_for_lock`), then end
   with ``Error: warehouse <path> is busy: ... (PID n ...); try again ...``.
4. **A bad landing file is named first, once.** The active console's ``log_failed_models`` is
   wrapped: when a model failed on a landing file (DuckDB's "CSV Error on Line: N ... file =
   <path>" or the project's ``LandingFileError``), one line per file comes first,
   ``Error: <path>: line <N>: <reason>``, then the skipped and failed models, each failed one in a
   line instead of DuckDB's 40-line dump repeated per model that reads the file (the full text is
   in the log file, as SQLMesh writes every failure there). Other failures print as before.

5. **The UI beside the schedule.** :func:`serve_ui` runs SQLMesh's web UI with the warehouse
   opened per request: when no request and no plan of the UI is working, the UI's DuckDB
   connection is closed, so `sqlmesh run`, `make run` and `benefits-mesh` commands get the
   lock (each waits at most one request's time) and the UI reads their new data afterwards.
6. **What config.yaml cannot say.** The BENEFITS_* variables are checked once, each bad one
   in one line naming it; a relative warehouse path from a command started outside the project
   folder is refused (SQLMesh would create a second warehouse there); the landing report
   (``benefits_mesh/notify.py``) receives every SQLMesh notification, as a notification target
   config.yaml has no type for.
7. **One model cache for every warehouse.** SQLMesh keys its model cache (``.cache/``) on the
   whole configuration, warehouse path included: each warehouse re-parsed every model on its
   first plan (6-8 s). :func:`benefits_mesh.sqlmesh_api.model_cache_without_connections` leaves
   where the connections point out of that key.
8. **Unique-key merges staged in memory.** SQLMesh stages each INCREMENTAL_BY_UNIQUE_KEY batch
   in a table of the warehouse file (written, then dropped); on DuckDB
   :func:`benefits_mesh.sqlmesh_api.merge_batches_in_memory` puts it in the ``temp`` catalog.
9. **Optimized queries decoded on demand.** SQLMesh decodes the cached optimized query of every
   snapshot it reads; :func:`benefits_mesh.sqlmesh_api.optimized_queries_on_demand` defers that
   to the first render of each model (a no-op run renders none).
10. **A snapshot cache per state store.** SQLMesh's on-disk snapshot cache, keyed by snapshot
   only, could hand one warehouse the table version another had cached;
   :func:`benefits_mesh.sqlmesh_api.snapshot_cache_per_state` keys it by state store too.
11. **Audits rendered without a DESCRIBE.** SQLMesh describes the audited table before each
   audit for the type of the model's time column;
   :func:`benefits_mesh.sqlmesh_api.audits_without_describe` skips that where the model
   declares it (0.5 s of 59 DESCRIBEs in a daily run).
12. **No analytics walk while analytics are off.** SQLMesh's analytics wrapper of Context methods
   imports IPython's magics and walks the call stack before finding analytics disabled;
   :func:`benefits_mesh.sqlmesh_api.python_api_analytics_when_enabled` calls the method itself
   while the collector is SQLMesh's no-op one (0.13 s of a no-op run).
13. **config.yaml read once.** The row-count check asks the configuration where the state lives;
   :func:`benefits_mesh.sqlmesh_api.remember_loaded_configs` (installed by the ``sqlmesh``
   command before SQLMesh reads it) keeps SQLMesh's own reading for that (0.15 s of a no-op).
14. **The longest chains start first.** config.yaml lets two models run at once; SQLMesh hands
   its workers the ready models by layer and name, so the claims classifier waited behind small
   reference models. :func:`benefits_mesh.sqlmesh_api.most_dependents_first` orders the ready
   ones by how many evaluations wait for them (0.8 s of a 2 M-row daily run).

Nothing here imports SQLMesh at module level (nor does sqlmesh_api): ``benefits-mesh`` commands
import :func:`fail` without paying for SQLMesh.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import re
import shutil
import stat
import sys
import time
from pathlib import Path

import duckdb

from benefits_mesh import settings, sqlmesh_api
from benefits_mesh.settings import SettingError
from benefits_mesh.text import printable
from benefits_mesh.warehouse import WarehouseBusyError, wait_for_lock

logger = logging.getLogger(__name__)

#: files 0600, folders 0700
UMASK = 0o077
LOG_DIR = "logs"
#: SQLMesh's default (``log_limit``); its own pruning looks in the current directory's logs/
LOG_LIMIT = 20
#: ... and every log written within this many seconds, whatever their number
KEEP_RECENT_LOGS_SECONDS = 3600
_LOG_PREFIX = "sqlmesh_"
#: the log files of `benefits-mesh` commands, beside SQLMesh's
_CLI_LOG_PREFIX = "benefits-mesh_"

_CSV_LINE = re.compile(r"CSV Error on Line: (\d+)")
_CSV_FILE = re.compile(r"^\s*file = (.+?)\s*$", re.MULTILINE)


# --------------------------------------------------------------------------------------------
# entry point


def prepare() -> None:
    """Set up this process for a SQLMesh command on the project (idempotent; see module doc).
    Called when SQLMesh loads the project (materializations/project_setup.py), before it opens the
    warehouse or runs anything."""
    os.umask(UMASK)
    try:
        warehouse = _settings()
    except SettingError as error:
        fail(error)
    _move_log_file(settings.project_root() / LOG_DIR)
    _tighten(warehouse)
    _install_connection_guard()
    sqlmesh_api.model_cache_without_connections()
    sqlmesh_api.merge_batches_in_memory()
    sqlmesh_api.audits_without_describe()
    sqlmesh_api.python_api_analytics_when_enabled()
    sqlmesh_api.most_dependents_first()
    _install_snapshot_reading()
    _install_console_glue()
    _install_landing_report()
    if _needs_warehouse():
        _check_working_folder(warehouse)
        warehouse.parent.mkdir(parents=True, exist_ok=True)  # DuckDB does not make folders
        probe(warehouse)
        if settings.state_store() == "postgres":
            _probe_state()
    if _cli_command() == "run":
        # `sqlmesh run` imports this project's code only after it announced the run (run_start),
        # so the landing report's preflight runs here, still before any signal or model
        from benefits_mesh import notify

        notify.run_started(_cli_param("environment") or "prod")


def _settings() -> Path:
    """Every BENEFITS_* variable config.yaml reads, and BENEFITS_FULL_AUDITS (read when an audit
    renders), checked once (a SettingError names a bad one; SQLMesh would report it inside a long
    trace, or not at all); the warehouse path."""
    settings.start_date()
    settings.full_audits()
    settings.memory_limit()
    settings.roster_as_of()
    settings.enrichment_provider()
    if settings.engine() == "spark":
        settings.spark_dir().mkdir(parents=True, exist_ok=True)  # state file, metastore
    settings.state_store()
    return settings.warehouse_path()


def _check_working_folder(warehouse: Path) -> None:
    """A relative warehouse path (the default) is read by SQLMesh against the current folder:
    started elsewhere, `sqlmesh -p <project>` would create a second, empty warehouse there with
    fresh state. Refused in one line instead."""
    if not settings.relative_to_project("BENEFITS_WAREHOUSE", settings.DEFAULT_WAREHOUSE):
        return
    if Path.cwd().resolve() == settings.project_root():
        return
    fail(
        SettingError(
            f"the warehouse path is relative and sqlmesh reads it against the current folder "
            f"({Path.cwd()}), not the project's ({warehouse}): run sqlmesh from "
            f"{settings.project_root()}, or set BENEFITS_WAREHOUSE to an absolute path "
            "(`make` and `benefits-mesh` work from any folder)"
        )
    )


# --------------------------------------------------------------------------------------------
# 1. owner-only modes


def _chmod(path: Path, mode: int) -> None:
    """Narrow a regular file's or folder's mode to ``mode``. Nothing else is touched: a log
    handler's file can be a device (pytest's own log handler writes to /dev/null; tightened, it
    was 0600 for every other user of the machine)."""
    try:
        st = path.lstat()
        if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
            return  # symlinks, devices, sockets, pipes
        if stat.S_IMODE(st.st_mode) & ~mode == 0:
            return
        path.chmod(stat.S_IMODE(st.st_mode) & mode)
    except FileNotFoundError:
        pass
    except PermissionError:  # not ours: say so in the log, never fail a command over it
        logger.warning("could not restrict the mode of %s to the owner", path)


def _tighten(warehouse: Path) -> None:
    """chmod go-rwx what already exists of the warehouse, its WAL and temp folder, and the logs."""
    if warehouse.parent == settings.project_root() / Path(settings.DEFAULT_WAREHOUSE).parent:
        _chmod(warehouse.parent, 0o700)  # the project's own .warehouse folder
    for path in (warehouse, warehouse.with_name(warehouse.name + ".wal")):
        _chmod(path, 0o600)
    temp = warehouse.with_name(warehouse.name + ".tmp")
    if temp.is_dir() and not temp.is_symlink():
        _chmod(temp, 0o700)
        for child in temp.rglob("*"):
            _chmod(child, 0o700 if child.is_dir() else 0o600)
    logs = settings.project_root() / LOG_DIR
    if logs.is_dir():
        _chmod(logs, 0o700)
        for child in (*logs.glob(f"{_LOG_PREFIX}*.log"), *logs.glob(f"{_CLI_LOG_PREFIX}*.log")):
            _chmod(child, 0o600)
    for handler in _file_handlers():
        _chmod(Path(handler.baseFilename), 0o600)


# --------------------------------------------------------------------------------------------
# 2. logs in <project>/logs


def _file_handlers() -> list[logging.FileHandler]:
    return [h for h in logging.getLogger().handlers if isinstance(h, logging.FileHandler)]


def _log_dir_given() -> bool:
    return any(arg == "--log-file-dir" or arg.startswith("--log-file-dir=") for arg in sys.argv)


def _move_log_file(target: Path) -> None:
    """Move SQLMesh's open log file from ``./logs`` to ``target`` (unless --log-file-dir), then
    prune the folder the log is in.

    SQLMesh's own pruning is off (``log_limit: 0`` in config.yaml): it deletes all but the last
    20 logs *by name*, and a command under a shifted clock (faketime, the replays) names its log
    in the past, so SQLMesh deleted a log its command had just named in an error message while
    the command's user was about to open it."""
    for handler in _file_handlers():
        old = Path(handler.baseFilename)
        if not old.name.startswith(_LOG_PREFIX):
            continue
        elsewhere = _log_dir_given() or old.parent.name != LOG_DIR
        if elsewhere or old.parent.resolve() == target.resolve():
            _remove_excess_logs(old.parent)
            continue
        target.mkdir(mode=0o700, parents=True, exist_ok=True)
        new = _reserve(target, old.name)
        if new is None:
            continue
        handler.acquire()
        try:
            handler.close()  # flushes and closes the stream; logging reopens it on next emit
            if old.exists():
                shutil.move(str(old), str(new))
            handler.baseFilename = str(new)
            handler.mode = "a"  # the moved file keeps what was already logged
            handler.stream = handler._open()
        finally:
            handler.release()
        _chmod(new, 0o600)
        try:
            old.parent.rmdir()  # the logs/ SQLMesh just made in the current directory, if empty
        except OSError:
            pass
        _remove_excess_logs(target)


def _reserve(folder: Path, name: str) -> Path | None:
    """A new, empty file in ``folder`` named ``name`` or, when taken (SQLMesh names logs by the
    second: two commands started in the same second from different folders), ``<stem>_<pid>``."""
    stem, suffix = name.rsplit(".", 1)
    for candidate in (name, f"{stem}_{os.getpid()}.{suffix}"):
        try:
            os.close(os.open(folder / candidate, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
            return folder / candidate
        except FileExistsError:
            continue
    return None


def _file_clock(folder: Path) -> float:
    """Now, as the file system stamps files (the mtime of a file just written in ``folder``).

    Log ages compare this with mtimes: the process clock may be shifted (``faketime``, as the
    replays and tests run commands) while files are stamped with the real time, and a clock
    shifted into the future made every log look hours old (all but LOG_LIMIT were deleted while
    other commands were still to read theirs). Falls back to the process clock."""
    probe = folder / f".clock-{os.getpid()}"
    try:
        probe.touch()
        return probe.stat().st_mtime
    except OSError:
        return time.time()
    finally:
        probe.unlink(missing_ok=True)


def _remove_excess_logs(folder: Path) -> None:
    """Keep the LOG_LIMIT most recently written logs, and every log written in the last hour.

    By time written, not by name: a command under a shifted clock (faketime) names its log in
    the past. The hour: every command of the project now logs into this one folder, so a burst
    (a test suite, several schedules) must not delete a log a running command is writing or its
    user is about to read (SQLMesh's own pruning worked per current directory).
    """
    now = _file_clock(folder)

    def written(path: Path) -> float:
        try:
            return path.stat().st_mtime
        except FileNotFoundError:
            return now

    for prefix in (_LOG_PREFIX, _CLI_LOG_PREFIX):
        logs = sorted(folder.glob(f"{prefix}*.log"), key=written, reverse=True)
        for path in logs[LOG_LIMIT:]:
            if now - written(path) > KEEP_RECENT_LOGS_SECONDS:
                path.unlink(missing_ok=True)


def log_to_project(command: str = "cli") -> Path | None:
    """Send this process's log records (a `benefits-mesh` command's) to
    ``<project>/logs/benefits-mesh_<time>.log`` instead of the terminal: without a handler,
    Python prints warnings to stderr, and SQLMesh's table_diff logs every statement it runs as
    one (20 raw SQL statements in a `make review`). None when the folder cannot be written."""
    root = logging.getLogger()
    if _file_handlers():
        return log_file()
    folder = settings.project_root() / LOG_DIR
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        stamp = time.strftime("%Y_%m_%d_%H_%M_%S")
        path = _reserve(folder, f"{_CLI_LOG_PREFIX}{command}_{stamp}.log")
    except OSError:
        path = None
    if path is None:
        root.addHandler(logging.NullHandler())
        return None
    handler = logging.FileHandler(path, mode="a", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s - %(name)s - %(levelname)s - %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    _remove_excess_logs(folder)
    return path


def log_file() -> Path | None:
    """The log file this process writes (SQLMesh's), if any."""
    handlers = _file_handlers()
    return Path(handlers[0].baseFilename) if handlers else None


# --------------------------------------------------------------------------------------------
# 3. a busy warehouse in one line


def _in_sqlmesh_cli() -> bool:
    """True inside a `sqlmesh` command line (its click group runs in this thread), except
    `sqlmesh ui`, whose web server must report errors its own way."""
    try:
        import click
    except ImportError:
        return False
    ctx = click.get_current_context(silent=True)
    if ctx is None or ctx.command.name == "ui":
        return False
    return sqlmesh_api.is_sqlmesh_cli(ctx.find_root().command.callback)


def fail(error: BaseException) -> None:
    """End the command with one line `Error: <error>`: in the `sqlmesh` CLI at once (SystemExit:
    SQLMesh must not go on, and would otherwise print the error inside a dump of the code that
    raised it), elsewhere (a Context in Python) by raising ``error``. For errors met before
    anything is written: a busy warehouse, a refused enrichment token."""
    if _in_sqlmesh_cli():
        import click

        click.echo(click.style(f"Error: {printable(str(error))}", fg="red"))
        raise SystemExit(1)
    raise error


def _cli_command() -> str | None:
    """The `sqlmesh` subcommand this process runs (``run``, ``plan``...), None elsewhere."""
    if not _in_sqlmesh_cli():
        return None
    import click

    ctx = click.get_current_context()
    return ctx.invoked_subcommand if ctx.parent is None else ctx.command.name


def _cli_param(name: str):
    """A parameter of the running `sqlmesh` subcommand (None when absent)."""
    import click

    ctx = click.get_current_context(silent=True)
    return ctx.params.get(name) if ctx is not None and ctx.parent is not None else None


def _needs_warehouse() -> bool:
    """False for the `sqlmesh` commands that run without the warehouse, which a busy warehouse
    must not stop: format, lint and test (the unit tests run in memory: measured, they pass
    while another process holds the lock, with or without --local), init and ui (ui opens its
    Context later, outside this CLI callback; the connection guard covers it)."""
    if not _in_sqlmesh_cli():
        return True
    return _cli_command() not in sqlmesh_api.commands_without_warehouse()


def probe(path: Path) -> None:
    """Open the warehouse for writing and close it at once: waits while another process holds it
    (``BENEFITS_LOCK_WAIT``) and fails in one line after that. A warehouse that does not exist
    yet is not created here."""
    if not path.is_file() or warehouse_adapter(path) is not None:  # held by this process
        return
    try:
        wait_for_lock(lambda: duckdb.connect(str(path)).close(), path)
    except WarehouseBusyError as error:
        fail(error)
    except duckdb.Error:
        # anything else (e.g. this process has it open read-only) is for SQLMesh to report
        return


def _probe_state() -> None:
    """BENEFITS_STATE=postgres: connect to the state database once, so an unreachable server or
    a refused login is one line naming it (SQLMesh prints a traceback, after loading the whole
    project). ``sqlmesh run`` reads its state before this runs: there SQLMesh reports it."""
    problem = sqlmesh_api.state_connection_error()
    if problem is not None:
        where = (
            f"{os.environ.get('PGUSER')}@{os.environ.get('PGHOST') or '127.0.0.1'}:"
            f"{os.environ.get('PGPORT') or '5432'}/{os.environ.get('PGDATABASE')}"
        )
        fail(
            SettingError(
                f"SQLMesh's state database {where} (BENEFITS_STATE=postgres) cannot be used: "
                f"{problem}"
            )
        )


def _install_connection_guard() -> None:
    """Wrap SQLMesh's DuckDB connection factory so its lock error is the same one line."""

    def guard(connect):
        def guarded_connect(*args, **kwargs):
            database = kwargs.get("database", args[0] if args else "?")
            try:
                return wait_for_lock(lambda: connect(*args, **kwargs), database)
            except WarehouseBusyError as error:
                fail(error)

        return guarded_connect

    sqlmesh_api.wrap_duckdb_connect(guard)


def warehouse_adapter(path: Path | None = None):
    """SQLMesh's engine adapter of the warehouse (``path``, default the project's) in this
    process (SQLMesh shares one per DuckDB file), or None when no context has made one."""
    target = path or settings.warehouse_path()
    for key, adapter in sqlmesh_api.duckdb_adapters().items():
        if Path(os.path.abspath(key)) == target:  # the key is config.yaml's path as written
            return adapter
    return None


def _install_landing_report() -> None:
    """Every SQLMesh notification also goes to the landing report (benefits_mesh/notify.py), a
    notification target config.yaml cannot name (it only knows SQLMesh's own types)."""
    from benefits_mesh.notify import LandingReport

    sqlmesh_api.notify_also(LandingReport())


# --------------------------------------------------------------------------------------------
# 4. a bad landing file first, once


def _chain(error: BaseException):
    """``error`` and its causes/contexts, outermost first."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__


def landing_error(error: BaseException) -> tuple[str, str, BaseException] | None:
    """(file, one-line message ``<path>: line <N>: <reason>``, the cause) when ``error`` comes
    from a bad landing file, else None.

    Two shapes: the project's LandingFileError (raised while a model renders; SQLMesh runs the
    macros' code from its own serialised copy, hence the match on the class name), whose message
    is already that line; DuckDB's CSV error, parsed from "CSV Error on Line: N", the reason line
    after "Original Line: ..." and "file = <path>".
    """
    for cause in _chain(error):
        if type(cause).__name__ == "LandingFileError":
            message = str(cause).strip()
            return message.split(": ", 1)[0], message, cause
        text = str(cause)
        line, file = _CSV_LINE.search(text), _CSV_FILE.search(text)
        if line and file:
            path = file.group(1)
            return path, f"{path}: line {line.group(1)}: {_csv_reason(text)}", cause
    return None


def _csv_reason(text: str) -> str:
    """DuckDB's reason, e.g. "Value with unterminated quote found.": the last non-empty line
    before "Possible fixes" / "Possible Solution" (what precedes it is "Original Line: ...",
    which can run over several lines of raw data and is not repeated here)."""
    lines = [line.strip() for line in text.splitlines()[1:]]
    end = next(
        (i for i, line in enumerate(lines) if line.startswith(("Possible ", "file ="))), len(lines)
    )
    reason = next((line for line in reversed(lines[:end]) if line), "")
    return "CSV error" if not reason or reason.startswith("Original Line") else reason


def _install_console_glue() -> None:
    """Wrap the active console's log_skipped_models / log_failed_models (see module doc)."""
    console = sqlmesh_api.console()
    if sqlmesh_api.console_glued(console) or not sqlmesh_api.can_print(console):
        return
    original_skipped = console.log_skipped_models
    original_failed = console.log_failed_models
    pending: list[set] = []  # SQLMesh logs the skipped models just before the failed ones

    def say(value, **kwargs):
        sqlmesh_api.console_print(console, value, **kwargs)

    def log_skipped_models(snapshot_names):
        while pending:
            original_skipped(pending.pop(0))
        pending.append(set(snapshot_names))

    def log_failed_models(errors):
        from rich.text import Text

        landing = {id(error): landing_error(error) for error in errors}
        firsts: dict[str, str] = {}
        for found in landing.values():
            if found and found[0] not in firsts:
                firsts[found[0]] = found[1]
        for line in firsts.values():
            say(Text(f"Error: {printable(line)}", style="red"), soft_wrap=True)
        if firsts:
            say("")
        while pending:
            original_skipped(pending.pop(0))
        others = [error for error in errors if not landing[id(error)]]
        if firsts:
            where = log_file()
            details = f" (full message in {where})" if where else ""
            say(Text(f"Failed models on a bad landing file{details}:", style="red"), soft_wrap=True)
            for error in errors:
                found = landing[id(error)]
                if found:
                    summary = f"{_node_name(error)}: {_summary(found[2], found[1])}"
                    say(Text(f"  {printable(summary)}", style="red"), soft_wrap=True)
            say("")
        if others or not firsts:
            original_failed(others if firsts else errors)

    console.log_skipped_models = log_skipped_models
    console.log_failed_models = log_failed_models
    _install_signal_summary(console)
    sqlmesh_api.mark_console_glued(console)


def _install_signal_summary(console) -> None:
    """One line per model with days ready instead of SQLMesh's signal tree for every model.

    SQLMesh prints a four-line "Checking signals for <model>" tree for every model whose
    intervals it checks: a scheduled run that only waits for files printed ~100 lines of "None
    ready". Here a model prints `signals: <model>: N of M ready (<intervals>)` only when something
    is ready, and nothing when nothing is. ``BENEFITS_SIGNAL_DETAIL=1`` keeps SQLMesh's trees.
    """
    if os.environ.get("BENEFITS_SIGNAL_DETAIL", "").strip().lower() in ("1", "true", "yes"):
        return
    from rich.text import Text

    state: dict = {}

    def start_signal_progress(snapshot, default_catalog, environment_naming_info):
        state.update(snapshot=snapshot, ready=[], checked=0, name=snapshot.display_name(
            environment_naming_info, default_catalog, dialect=console.dialect
        ))  # fmt: skip

    def update_signal_progress(snapshot, signal_name, signal_idx, total_signals,
                               ready_intervals, check_intervals, duration):  # fmt: skip
        state.update(ready=list(ready_intervals), checked=len(check_intervals))

    def stop_signal_progress():
        ready = state.get("ready") or []
        if ready:
            shown = [sqlmesh_api.format_signal_interval(state["snapshot"], i) for i in ready[:3]]
            more = f", … {len(ready) - 3} more" if len(ready) > 3 else ""
            line = (
                f"signals: {state['name']}: {len(ready)} of {state['checked']} ready "
                f"({', '.join(shown)}{more})"
            )
            sqlmesh_api.console_print(console, Text(line), soft_wrap=True)
            console.signal_progress_logged = True
        state.clear()

    console.start_signal_progress = start_signal_progress
    console.update_signal_progress = update_signal_progress
    console.stop_signal_progress = stop_signal_progress


def _node_name(error: BaseException) -> str:
    """The failed model's name as SQLMesh shows it (a SnapshotId or a scheduler node)."""
    node = getattr(error, "node", None)
    name = getattr(node, "snapshot_name", None) or getattr(node, "name", None)
    return str(name or node)


def _summary(cause: BaseException, error_line: str) -> str:
    """The cause's class and first line, e.g. "InvalidInputException: Invalid Input Error: CSV
    Error on Line: 3", or only its class when that line is the Error line printed above."""
    lines = str(cause).strip().splitlines()
    first = lines[0].strip() if lines else ""
    if not first or first in error_line:
        return f"{type(cause).__name__} (the error above)"
    return f"{type(cause).__name__}: {first}"


def sqlmesh_command(args: list[str]) -> int:
    """``sqlmesh -p <project> <args>`` in this process, with the glue set up first. Plain
    ``sqlmesh run`` opens the warehouse (its janitor) before it imports any project code, so it
    cannot wait for a warehouse another process holds at that moment; this can (DESIGN.md,
    "config.yaml and the glue")."""
    prepare()
    try:
        sqlmesh_api.cli().main(
            args=["-p", str(settings.project_root()), *args], prog_name="sqlmesh"
        )
    except SystemExit as exit_:
        code = exit_.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0


def sqlmesh_main() -> None:
    """The project's ``sqlmesh`` command (``.venv/bin/sqlmesh``, pyproject's console script):
    SQLMesh's own CLI, with the warehouse guard installed before SQLMesh opens anything.

    ``sqlmesh run`` opens the warehouse for its janitor before it imports any project file. A
    lock held by another process there reaches SQLMesh's state sync, which takes the error for
    a missing state ("Initializing new project state...") and tries to create, then roll back
    (drop), the state tables: measured, a 126-line traceback, and a drop that would hit the
    real state if the other process let go in between. With the guard that first open waits
    for the lock like every other (``BENEFITS_LOCK_WAIT``); the rest of the glue starts when
    SQLMesh imports materializations/project_setup.py.
    """
    # config.yaml turns SQLMesh's analytics off, but only once it is read: until then SQLMesh
    # runs an event thread and an HTTP emitter it then shuts down (~0.1 s of every command)
    os.environ.setdefault("SQLMESH__DISABLE_ANONYMIZED_ANALYTICS", "1")
    _install_connection_guard()
    _install_snapshot_reading()  # before SQLMesh reads any snapshot
    sqlmesh_api.remember_loaded_configs()  # before SQLMesh reads config.yaml
    if not _runs_unit_tests(sys.argv[1:]):
        os.environ["BENEFITS_UNIT_TEST_FILES"] = "skip"  # config.yaml: ignore_patterns
    sys.argv[0] = "sqlmesh"
    with command_gc():
        sys.exit(sqlmesh_api.cli()())


def _install_snapshot_reading() -> None:
    """How SQLMesh reads stored snapshots, installed before it reads any (module doc, 9 and 10):
    optimized queries decoded on demand, the on-disk snapshot cache keyed per state store."""
    sqlmesh_api.optimized_queries_on_demand()
    sqlmesh_api.snapshot_cache_per_state()


@contextlib.contextmanager
def command_gc():
    """Python's cyclic garbage collector tuned for one command that exits when it is done (the
    ``sqlmesh`` and ``benefits-mesh`` commands; never around code that returns to a caller).

    Measured on a 2 M-row daily ``sqlmesh run`` (issue 20, BENCHMARKS.md): 1,571 collections took
    1.3 s, mostly re-scanning the ~1 M objects of SQLMesh's imports and loaded project (sqlglot
    trees are cycles: each node points at its parent); and the interpreter's teardown spent
    another 0.35-0.5 s scanning them again after the last line of output. So: the objects alive
    once the command's imports are done are frozen (never scanned again), the youngest
    generation is collected every 10,000 allocations instead of 700 (garbage still reclaimed:
    sqlglot's trees die young), and everything is frozen once more on the way out, so the exit
    does not walk the heap. Frozen objects are still freed by reference counting."""
    gc.freeze()
    gc.set_threshold(10_000, 20, 100)
    try:
        yield
    finally:
        gc.freeze()


#: ``sqlmesh`` options (before the subcommand) that take a value
_OPTIONS_WITH_VALUE = {"-p", "--paths", "--config", "--gateway", "--log-file-dir", "--dotenv"}


def _runs_unit_tests(args: list[str]) -> bool:
    """Whether the ``sqlmesh`` command line ``args`` may run or show the YAML unit tests:
    ``test``, ``plan`` without ``--skip-tests``, ``ui``, or a command not recognised. SQLMesh
    parses every test file when it loads the project; the others skip them (measured in
    DESIGN.md, "Runtime glue")."""
    rest = iter(args)
    for arg in rest:
        if arg in _OPTIONS_WITH_VALUE:
            next(rest, None)
        elif not arg.startswith("-"):
            if arg == "plan":
                return "--skip-tests" not in args
            return arg not in {
                "run",
                "lint",
                "format",
                "table_diff",
                "janitor",
                "invalidate",
                "environments",
                "render",
                "evaluate",
                "info",
                "fetchdf",
                "create_external_models",
                "dag",
                "migrate",
                "rollback",
            }
    return True


# --------------------------------------------------------------------------------------------
# 5. the UI beside the schedule


#: requests that never touch the warehouse and must not count as work: the event stream stays
#: open for as long as a browser shows the UI
_UI_STREAMS = ("/api/events",)


def _release_warehouse() -> bool:
    """Close this process's DuckDB connections to the warehouse, unless a request holds the UI's
    context (SQLMesh serialises them with ``get_loaded_context_lock``). SQLMesh reopens the
    connection on its next statement. True when closed."""
    lock = sqlmesh_api.ui_context_lock()
    if not lock.acquire(blocking=False):
        return False  # a request is using the context; its end calls this again
    try:
        for adapter in {id(a): a for a in sqlmesh_api.duckdb_adapters().values()}.values():
            adapter.close()
        return True
    finally:
        lock.release()


class _WarehousePerRequest:
    """ASGI wrapper around SQLMesh's UI app: counts the API requests at work and closes the
    warehouse connection when none is, and no plan/apply task of the UI is running (the UI runs
    those as an asyncio task that outlives the request that started it)."""

    def __init__(self, app):
        self.app = app
        self.active = 0
        self.releases = 0  # how often the lock was given back (logged at shutdown)

    async def __call__(self, scope, receive, send):
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith("/api/") or path.startswith(_UI_STREAMS):
            return await self.app(scope, receive, send)
        self.active += 1
        try:
            return await self.app(scope, receive, send)
        finally:
            self.active -= 1
            await self.release_when_idle()

    async def release_when_idle(self) -> None:
        import asyncio

        if self.active:
            return
        task = sqlmesh_api.ui_task(self.app)
        if task is not None and not task.done():
            if not getattr(task, "_benefits_mesh_release", False):
                task._benefits_mesh_release = True
                loop = asyncio.get_running_loop()
                task.add_done_callback(lambda _: loop.create_task(self.release_when_idle()))
            return
        if await asyncio.to_thread(_release_warehouse):
            self.releases += 1


#: folders of the project that are no project file: SQLMesh's UI watches the whole project
#: folder, and every log line a command writes there made an open page re-ask for the models
#: (about 7 requests a second) and a plan (every 2 s), each opening the warehouse
_UI_UNWATCHED = ("logs", ".cache", ".warehouse", ".ruff_cache", ".pytest_cache", ".venv")


def _quiet_ui_watcher() -> None:
    """Make SQLMesh's UI file watcher (watchfiles' DefaultFilter) skip _UI_UNWATCHED."""
    from watchfiles import DefaultFilter

    DefaultFilter.ignore_dirs = tuple(dict.fromkeys((*DefaultFilter.ignore_dirs, *_UI_UNWATCHED)))


def serve_ui(host: str, port: int, mode: str = "ide") -> None:
    """SQLMesh's web UI (``sqlmesh ui``) on ``host:port`` for this project, with the warehouse
    opened per request (section 5 of the module doc)."""
    try:
        import uvicorn

        create_app = sqlmesh_api.ui_app_factory()
    except ModuleNotFoundError as exc:
        raise SystemExit(
            "Error: the UI needs SQLMesh's web extra: run `make ui` (it installs it) or "
            "`pip install -e '.[ui]'`"
        ) from exc

    os.environ["PROJECT_PATH"] = str(settings.project_root())
    os.environ["UI_MODE"] = mode
    _quiet_ui_watcher()
    app = _WarehousePerRequest(create_app())
    print(
        f"SQLMesh UI for {settings.project_root()} on http://{host}:{port} "
        f"(warehouse {settings.warehouse_path()} is opened per request: runs can go on beside it)",
        flush=True,
    )
    uvicorn.run(app, host=host, port=port, log_level="warning", timeout_keep_alive=300)
