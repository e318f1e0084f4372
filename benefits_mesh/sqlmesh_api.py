"""The project's one door into SQLMesh's internals (issue 18): written against SQLMesh 0.236.4.

The rule (DESIGN.md, "SQLMesh internals: one module"): outside this module, project code uses
only SQLMesh's documented extension API:

- ``from sqlmesh import ...``: ``macro``, ``signal``, ``model``, ``Context``, ``ExecutionContext``,
  ``Snapshot``, ``Model``, ``__version__`` (what the ``sqlmesh`` package exports), with the
  public methods and attributes of the objects they hand out (``Context.plan_builder``,
  ``Context.table_diff``, ``Context.engine_adapter``, ``evaluator.runtime_stage`` ...);
- ``sqlmesh.core.dialect`` (the SQL helpers macros need: ``parse_one``, ``MacroFunc``);
- ``sqlmesh.core.linter.rule`` and ``sqlmesh.core.model`` (a custom linter rule, as SQLMesh's
  linter guide writes it);
- ``sqlmesh.core.config`` (the package itself: the config classes of a Python config);
- ``sqlmesh.core.notification_target`` (a custom notification target, as SQLMesh's
  notifications guide writes it), except ``NotificationTargetManager``.

Everything else lives here, each behind a small function saying which internal it wraps and
why: SQLMesh's other modules (``sqlmesh.core.snapshot``, ``.console``, ``.config.connection``,
``sqlmesh.cli``, ``sqlmesh.utils``, the UI's ``web`` package...), private attributes
(``obj._name``), the state sync and snapshot evaluator of a ``Context``, a plan's context diff,
and SQL naming SQLMesh's state tables (schema ``sqlmesh``). An upgrade of SQLMesh then starts
here. Enforced by ruff's TID251 (banned imports, pyproject.toml) and tests/test_sqlmesh_boundary.py
(private attributes, state internals, state tables in SQL).

Nothing here imports SQLMesh at module level: ``benefits-mesh`` commands that never open a
Context import ``benefits_mesh.runtime`` (and so this module) without paying for SQLMesh.
"""

from __future__ import annotations

import functools
import logging
import threading
import typing as t
from contextlib import contextmanager
from pathlib import Path

if t.TYPE_CHECKING:
    from sqlmesh import Context, EngineAdapter, Snapshot
    from sqlmesh.core.snapshot import DeployabilityIndex
    from sqlmesh.utils.errors import SQLMeshError as SQLMeshError

#: Interval as SQLMesh stores it: [start, end) in epoch milliseconds.
Interval = tuple[int, int]


def __getattr__(name: str) -> t.Any:
    """``SQLMeshError`` (``sqlmesh.utils.errors``, not exported by ``sqlmesh``), imported on
    first use: the base class of the errors SQLMesh raises for a bad plan or model."""
    if name == "SQLMeshError":
        from sqlmesh.utils.errors import SQLMeshError

        return SQLMeshError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --------------------------------------------------------------------- state and snapshots


def environment_snapshots(ctx: Context, env: str) -> dict[str, Snapshot] | None:
    """The snapshots of environment ``env`` by model name, None when it does not exist.

    Wraps ``Context.state_reader`` (the state sync: ``get_environment``, ``get_snapshots``);
    SQLMesh's API has no call listing an environment's snapshots."""
    environment = ctx.state_reader.get_environment(env)
    if environment is None:
        return None
    snapshots = ctx.state_reader.get_snapshots([s.snapshot_id for s in environment.snapshots])
    return {snapshot.name: snapshot for snapshot in snapshots.values()}


def snapshot_intervals(snapshot: Snapshot, deployable: bool) -> list[Interval]:
    """The intervals a snapshot has computed: its own table's (``Snapshot.intervals``) when
    deployable, else its dev table's (``Snapshot.dev_intervals``, SQLMesh's dev-only tables of
    forward-only and non-deployable changes)."""
    return list(snapshot.intervals if deployable else snapshot.dev_intervals)


def deployability(snapshots: t.Iterable[Snapshot] | None = None) -> DeployabilityIndex:
    """Which snapshots write their own (deployable) tables: ``DeployabilityIndex.create`` over
    an environment's snapshots, or ``all_deployable()`` (prod) without them
    (``sqlmesh.core.snapshot``, needed to evaluate or render a snapshot outside a plan)."""
    from sqlmesh.core.snapshot import DeployabilityIndex

    if snapshots is None:
        return DeployabilityIndex.all_deployable()
    return DeployabilityIndex.create({s.snapshot_id: s for s in snapshots})


def audit_snapshot(
    ctx: Context,
    snapshot: Snapshot,
    *,
    snapshots: dict[str, Snapshot],
    start: t.Any,
    end: t.Any,
    execution_time: t.Any,
    deployability: DeployabilityIndex,
) -> list[t.Any]:
    """Run a snapshot's audits on its tables: ``Context.snapshot_evaluator.audit`` (the
    evaluator SQLMesh's scheduler uses; ``Context.audit`` only prints). Returns SQLMesh's
    AuditResults (``audit.name``, ``audit_args``, ``skipped``, ``count``, ``blocking``)."""
    return ctx.snapshot_evaluator.audit(
        snapshot,
        snapshots=snapshots,
        start=start,
        end=end,
        execution_time=execution_time,
        deployability_index=deployability,
    )


def plan_changed_models(plan: t.Any) -> set[str]:
    """Names of the models a plan adds, modifies or removes, from its ``context_diff`` (SQLMesh's
    internal ContextDiff: ``modified_snapshots``, ``added``, ``removed_snapshots``)."""
    diff = plan.context_diff
    names = set(diff.modified_snapshots)
    names |= {diff.snapshots[s_id].name for s_id in diff.added if s_id in diff.snapshots}
    names |= {s.name for s in diff.removed_snapshots.values()}
    return names


def categorize_breaking(builder: t.Any, snapshot: Snapshot) -> None:
    """Categorise a new snapshot of a plan builder as breaking (``SnapshotChangeCategory``,
    ``sqlmesh.core.snapshot``): its downstream gets new tables too."""
    from sqlmesh.core.snapshot import SnapshotChangeCategory

    builder.set_choice(snapshot, SnapshotChangeCategory.BREAKING)


def render_query(
    snapshot: Snapshot,
    *,
    start: t.Any,
    end: t.Any,
    execution_time: t.Any,
    snapshots: dict[str, Snapshot],
    deployability: DeployabilityIndex,
    engine_adapter: EngineAdapter,
) -> t.Any:
    """The query SQLMesh would run for a snapshot's batch: ``Model.render_query_or_raise`` at
    runtime stage ``EVALUATING`` (``RuntimeStage``, ``sqlmesh.core.macros``)."""
    from sqlmesh.core.macros import RuntimeStage

    return snapshot.model.render_query_or_raise(
        start=start,
        end=end,
        execution_time=execution_time,
        snapshots=snapshots,
        deployability_index=deployability,
        engine_adapter=engine_adapter,
        runtime_stage=RuntimeStage.EVALUATING,
    )


def model_path(model: t.Any) -> Path | None:
    """The file a model was loaded from (``Model._path``: private in 0.236, the attribute
    SQLMesh's own lint rules read); None for a model built in code."""
    return getattr(model, "_path", None)


#: configuration files SQLMesh loaded in this process -> (environment then, its Config)
_LOADED_CONFIGS: dict[str, tuple[tuple, t.Any]] = {}


def _environment() -> tuple:
    import os

    return tuple(sorted(os.environ.items()))


def project_config(config_file: Path) -> t.Any:
    """A project's Config read from its config file without a Context
    (``sqlmesh.core.config.loader.load_config_from_paths``): the one SQLMesh loaded from that
    file in this process when the environment variables are still those it was read with
    (:func:`remember_loaded_configs`), else read now."""
    from sqlmesh.core.config import Config
    from sqlmesh.core.config.loader import load_config_from_paths

    environment, config = _LOADED_CONFIGS.get(str(config_file), (None, None))
    if config is not None and environment == _environment():
        return config
    return load_config_from_paths(Config, project_paths=[config_file])


def remember_loaded_configs() -> None:
    """Keep the Config SQLMesh loads for a project, by configuration file (once per process).

    The row-count check after every run asks where SQLMesh's state lives (:func:`_state_fetch`),
    which re-read config.yaml (Jinja and validation, ~0.15 s of a no-op run whose target is 2 s,
    issue 20). :func:`project_config` now answers with the Config the command already loaded,
    SQLMesh's own reading (the user's ~/.sqlmesh config included), while the environment
    variables it was rendered with are unchanged."""
    from sqlmesh.core.config import loader

    load = loader.load_config_from_paths
    if getattr(load, "_benefits_mesh", False):
        return

    def load_config_from_paths(config_type, project_paths=None, *args, **kwargs):
        config = load(config_type, project_paths, *args, **kwargs)
        environment = _environment()
        for path in project_paths or []:
            _LOADED_CONFIGS[str(path)] = (environment, config)
        return config

    load_config_from_paths._benefits_mesh = True
    loader.load_config_from_paths = load_config_from_paths


# ------------------------------------------------------------ SQLMesh's state tables, by SQL
# The state tables SQLMesh keeps in schema ``sqlmesh`` (state_sync/db/*.py): in the warehouse by
# default, or behind the gateway's own ``state_connection`` (BENEFITS_STATE=postgres, config.yaml).
# Read by SQL where a notification target, a macro or a CLI command has no Context (a Context
# loads the whole project: seconds) but the warehouse's ``fetch`` (the run's engine adapter, or
# a CLI's read-only connection).

STATE_SCHEMA = "sqlmesh"
#: the state tables read here
_STATE_TABLES = ("_environments", "_intervals")


@contextmanager
def _state_fetch(
    warehouse_fetch: t.Callable[[str], list], gateway: str | None = None
) -> t.Iterator[tuple[t.Callable[[str], list], str]]:
    """(fetch, schema) of SQLMesh's state: ``warehouse_fetch`` and ``sqlmesh`` when the state
    lives in the warehouse; else a fetch on the gateway's ``state_connection`` and its
    ``state_schema`` (``Config.get_state_connection``, ``ConnectionConfig.create_engine_adapter``),
    a connection of its own, closed on exit (so no transaction of ours stays open on SQLMesh's
    state: PostgreSQL's driver opens one for every read)."""
    from benefits_mesh.settings import project_root

    config = project_config(project_root() / "config.yaml")
    connection = config.get_state_connection(gateway)
    schema = config.get_state_schema(gateway) or STATE_SCHEMA
    if connection is None:
        yield warehouse_fetch, schema
        return
    adapter = connection.create_engine_adapter()
    try:
        yield adapter.fetchall, schema
    finally:
        adapter.close()


def state_connection_error(gateway: str | None = None) -> str | None:
    """The first line of the error met opening the gateway's own ``state_connection`` and
    running ``SELECT 1`` on it; None when that works or the state lives in the warehouse."""
    try:
        with _state_fetch(lambda sql: [], gateway) as (fetch, _schema):
            fetch("SELECT 1")
    except Exception as error:  # the driver's errors (psycopg2.OperationalError ...)
        lines = str(error).strip().splitlines()
        return lines[0].strip() if lines else type(error).__name__
    return None


def _present(fetch: t.Callable[[str], list], schema: str) -> set[str]:
    """Which of :data:`_STATE_TABLES` the state database holds (none: never planned)."""
    listed = ", ".join(f"'{name}'" for name in _STATE_TABLES)
    return {
        name
        for (name,) in fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = "
            f"current_database() AND table_schema = '{schema}' AND table_name IN ({listed})"
        )
    }


def state_environment_names(
    warehouse_fetch: t.Callable[[str], list], gateway: str | None = None
) -> set | None:
    """Names of the environments in SQLMesh's state (``_environments``), wherever it lives (see
    :func:`_state_fetch`); None when the state holds no such table (nothing planned yet)."""
    with _state_fetch(warehouse_fetch, gateway) as (fetch, schema):
        if "_environments" not in _present(fetch, schema):
            return None
        return {name for (name,) in fetch(f'SELECT name FROM "{schema}"._environments')}


def state_last_written(
    warehouse_fetch: t.Callable[[str], list], environment: str, gateway: str | None = None
) -> tuple[int, int] | None:
    """(epoch ms of the latest write SQLMesh recorded for any interval, epoch ms of the
    environment's last finalisation), None when either is unknown (no state, no such
    environment, a state layout of another SQLMesh version).

    ``_intervals.last_altered_ts`` is set when a batch is evaluated and kept by the janitor's
    compaction; ``_environments.finalized_ts`` when a plan updates the environment's views."""
    from sqlglot import exp

    literal = exp.Literal.string(environment).sql()
    try:
        with _state_fetch(warehouse_fetch, gateway) as (fetch, schema):
            if _present(fetch, schema) != set(_STATE_TABLES):
                return None
            rows = fetch(
                f'SELECT (SELECT MAX(last_altered_ts) FROM "{schema}"._intervals), '
                f'(SELECT MAX(finalized_ts) FROM "{schema}"._environments WHERE name = {literal})'
            )
    except Exception:  # unreadable: the caller's doubt
        return None
    if not rows or None in rows[0]:
        return None
    altered, finalized = rows[0]
    return int(altered), int(finalized)


# The SQL the row-count check of earlier plans reads (one query, state in the warehouse only).
# SQLMesh runs the macro code stored with the environment by its last plan, so a warehouse last
# planned before BENEFITS_STATE existed calls these until its next plan: kept for it.


def state_tables_sql() -> str:
    """The (schema, table) pairs of the state tables :func:`last_written_sql` and
    :func:`environment_finalized_sql` read, as a SQL list of tuples."""
    return f"('{STATE_SCHEMA}', '_intervals'), ('{STATE_SCHEMA}', '_environments')"


def last_written_sql() -> str:
    """Scalar SQL: epoch ms of the latest write SQLMesh recorded for any interval."""
    return f"(SELECT MAX(last_altered_ts) FROM {STATE_SCHEMA}._intervals)"


def environment_finalized_sql(environment_literal: str) -> str:
    """Scalar SQL: epoch ms of the environment's last finalisation; ``environment_literal`` is a
    quoted SQL string."""
    return (
        f"(SELECT MAX(finalized_ts) FROM {STATE_SCHEMA}._environments "
        f"WHERE name = {environment_literal})"
    )


def gateway_adapter(gateway: str) -> EngineAdapter:
    """An engine adapter on the gateway's connection, from the project's config alone (no
    project load): ``ConnectionConfig.create_engine_adapter``. The caller closes it."""
    from benefits_mesh.settings import project_root

    config = project_config(project_root() / "config.yaml")
    return config.gateways[gateway].connection.create_engine_adapter()


# ------------------------------------------------------------------ the engine a macro renders for


def macro_engine(evaluator: t.Any) -> str:
    """The dialect of the engine a macro renders for (``duckdb``, ``spark``...): the engine
    adapter of the evaluation (``MacroEvaluator.engine_adapter``); ``duckdb`` while SQLMesh
    loads the project (no adapter then, and the landing macros read no file)."""
    if evaluator.runtime_stage == "loading":
        return "duckdb"
    return evaluator.engine_adapter.dialect


def macro_execute(evaluator: t.Any, statements: t.Iterable[str]) -> None:
    """Run ``statements`` (in the engine's own dialect) on the evaluation's engine before the
    query is: the Spark landing views (benefits_mesh.landing.spark_view_sql)."""
    for statement in statements:
        evaluator.engine_adapter.execute(statement)


# ------------------------------------------------------------------------------ the console


def console() -> t.Any:
    """SQLMesh's active console (``sqlmesh.core.console.get_console``): its public methods
    (``log_warning``, ``log_status_update`` ...) print the way the running command does."""
    from sqlmesh.core.console import get_console

    return get_console()


def warn(message: str) -> None:
    """A warning the CLI user sees (``[WARNING] …``), printed by SQLMesh's console, which also
    logs it (logger ``sqlmesh.core.console``) to the command's log file. ``message`` is text:
    escaped, so a file name such as ``claims_[red].csv`` is not read as console markup."""
    from rich.markup import escape

    console().log_warning(escape(message))


def can_print(console: t.Any) -> bool:
    """Whether the console has the rich printer :func:`console_print` uses (the terminal
    consoles do; others, e.g. the UI's, are left alone)."""
    return hasattr(console, "_print")


def console_print(console: t.Any, value: t.Any, **kwargs: t.Any) -> None:
    """Print a line through the console's own rich printer (``Console._print``), so it lands
    where the console's other lines do."""
    console._print(value, **kwargs)


def console_glued(console: t.Any) -> bool:
    """Whether :func:`mark_console_glued` marked this console (a project attribute on it)."""
    return bool(getattr(console, "_benefits_mesh_glue", False))


def mark_console_glued(console: t.Any) -> None:
    """Mark a console whose methods runtime.py wrapped, so they are wrapped once."""
    console._benefits_mesh_glue = True


def format_signal_interval(snapshot: Snapshot, interval: Interval) -> str:
    """An interval as SQLMesh's signal progress shows it
    (``sqlmesh.core.console._format_signal_interval``)."""
    from sqlmesh.core.console import _format_signal_interval

    return _format_signal_interval(snapshot, interval)


# ---------------------------------------------------------------------------------- the CLI


def is_sqlmesh_cli(callback: t.Any) -> bool:
    """Whether a click command callback is SQLMesh's CLI group (module ``sqlmesh.cli.main``)."""
    return getattr(callback, "__module__", "") == "sqlmesh.cli.main"


def commands_without_warehouse() -> set[str]:
    """The ``sqlmesh`` subcommands that need no state connection (``sqlmesh.cli.main``'s
    ``LOCAL_ONLY_COMMANDS``, ``OPTIONAL_LOCAL_COMMANDS`` and ``SKIP_CONTEXT_COMMANDS``)."""
    from sqlmesh.cli.main import LOCAL_ONLY_COMMANDS, OPTIONAL_LOCAL_COMMANDS, SKIP_CONTEXT_COMMANDS

    return {*LOCAL_ONLY_COMMANDS, *OPTIONAL_LOCAL_COMMANDS, *SKIP_CONTEXT_COMMANDS}


def cli() -> t.Any:
    """SQLMesh's click group (``sqlmesh.cli.main.cli``), what the ``sqlmesh`` command runs."""
    from sqlmesh.cli.main import cli

    return cli


# -------------------------------------------------------------------- the model cache

#: the connection settings of a gateway (config.yaml): where the warehouse and the state are
_CONNECTIONS = ("connection", "state_connection", "test_connection")
#: ... and of the whole configuration, as ``Config.dict()`` names them (by field, not alias)
_DEFAULT_CONNECTIONS = ("default_connection", "default_test_connection_")


def model_cache_without_connections() -> None:
    """Key SQLMesh's model cache (``.cache/``) on the project's configuration minus where its
    connections point (once per process): ``Config.fingerprint`` (``sqlmesh.core.config.root``)
    pickles the whole configuration, so each warehouse path (``BENEFITS_WAREHOUSE``, the
    PostgreSQL state's host and database) had its own cache and the first plan on another
    warehouse parsed and rendered every model again: 6-8 s of a `sqlmesh plan` (measured, issue
    19). A connection's ``type`` stays in the key, so do the gateway (its name) and the default
    catalog (the DuckDB file's name), which SQLMesh keys the cache on besides; nothing else of a
    connection reaches a loaded model (models, macros, audits and variables come from the rest of
    the configuration, which is all kept)."""
    import pickle
    import zlib

    from sqlmesh.core.config import Config
    from sqlmesh.core.config.root import _canonicalize

    fingerprint = Config.__dict__.get("fingerprint")
    if not isinstance(fingerprint, property) or getattr(fingerprint.fget, "_benefits_mesh", False):
        return

    def without_connections(self) -> str:
        data = self.dict(exclude={"loader", "notification_targets"})
        for gateway in (data.get("gateways") or {}).values():
            for key in _CONNECTIONS:
                if isinstance(gateway.get(key), dict):
                    gateway[key] = {"type": gateway[key].get("type")}
        for key in _DEFAULT_CONNECTIONS:
            if isinstance(data.get(key), dict):
                data[key] = {"type": data[key].get("type")}
        return str(zlib.crc32(pickle.dumps(_canonicalize(data))))

    without_connections._benefits_mesh = True
    Config.fingerprint = property(without_connections)


# ------------------------------------------------- start-up, snapshot reading, audit rendering

#: models whose optimized query is loaded when first rendered: id(model) -> (model, cache)
_DEFERRED: dict[int, tuple[t.Any, t.Any]] = {}


def optimized_queries_on_demand() -> None:
    """Load a stored model's cached optimized query when the model is first rendered, not when
    its snapshot is read from the state (once per process).

    ``SnapshotCache.get_or_load`` (``sqlmesh.core.snapshot.cache``) reads every snapshot a command
    touches, then decodes the optimized query of each of them from ``.cache/optimized_query``
    (in a pool of worker processes, then again in the parent): ~0.8 s of a 3.3 s no-op
    ``sqlmesh run`` (py-spy, issue 20), for queries a run that evaluates nothing never renders,
    and a daily run renders a third of. This is that method without the eager decode; the first
    access to a model's query renderer decodes its entry (or renders and stores it when missing),
    exactly as SQLMesh does for each model when it has one worker (``MAX_FORK_WORKERS == 1``)."""
    from sqlmesh.core.model.definition import SqlModel
    from sqlmesh.core.snapshot.cache import SnapshotCache

    if getattr(SnapshotCache.get_or_load, "_benefits_mesh", False):
        return
    renderer = SqlModel.__dict__["_query_renderer"]

    def get_or_load(self, snapshot_ids, loader):
        snapshots, cache_hits = {}, set()
        for s_id in snapshot_ids:
            snapshot = self._snapshot_cache.get(self._entry_name(s_id))
            if snapshot:
                snapshot.intervals = []
                snapshot.dev_intervals = []
                snapshots[s_id] = snapshot
                cache_hits.add(s_id)
        missing = snapshot_ids - snapshots.keys()
        if missing:
            for snapshot in loader(missing):
                snapshots[snapshot.snapshot_id] = snapshot
        for snapshot in snapshots.values():
            self._update_node_hash_cache(snapshot)
            if snapshot.is_model and isinstance(snapshot.model, SqlModel):
                _DEFERRED[id(snapshot.model)] = (snapshot.model, self._optimized_query_cache)
            self.put(snapshot)
        return snapshots, cache_hits

    def query_renderer(model):
        value = renderer.func(model)
        model.__dict__[renderer.attrname] = value  # what cached_property stores, before the load
        model_and_cache = _DEFERRED.pop(id(model), None)
        if model_and_cache is not None and model_and_cache[0] is model:
            try:
                model_and_cache[1].with_optimized_query(model)
            except Exception:  # SQLMesh logs and goes on the same way
                logging.getLogger(__name__).exception("optimized query of %s", model.name)
        return value

    on_demand = functools.cached_property(query_renderer)
    on_demand.__set_name__(SqlModel, renderer.attrname)
    get_or_load._benefits_mesh = True
    SnapshotCache.get_or_load = get_or_load
    SqlModel._query_renderer = on_demand


def snapshot_cache_per_state() -> None:
    """Key SQLMesh's on-disk snapshot cache (``.cache/snapshot``) by state store as well as by
    snapshot (once per process).

    SQLMesh caches each Snapshot it reads from a state under ``<name>_<identifier>`` only, in the
    project's cache folder, and reuses the cached object, *version* included, for the same
    identifier read from any state. A snapshot's version is not a function of its identifier: a
    change planned as indirect non-breaking keeps the previous version's table, while a fresh
    plan of the same code in another warehouse gives it a version of its own. One project folder
    serving two warehouses (the benchmark's, a copy, the tests' throwaway ones) could then run
    against another warehouse's table name: measured, a ``sqlmesh run`` on a fresh 20 M-row
    warehouse rebuilt ``int_claims_current`` under the version an earlier plan of a copy had
    cached (a CREATE OR REPLACE of 120 M rows instead of the day's merge; issue 20). Each state
    store now gets its own entries: the key adds a hash of where the state lives (DuckDB: the
    database file; PostgreSQL: server, port and database; with the state schema), asked once of
    the state connection when SQLMesh builds its snapshot store. An in-memory or unknown state
    gets a key of its own process (no sharing at all). Entries stay in the same folder, so
    SQLMesh's weekly clean-up of old entries still covers them."""
    import hashlib
    import uuid

    from sqlmesh.core.state_sync.db.snapshot import SnapshotState

    init = SnapshotState.__init__
    if getattr(init, "_benefits_mesh", False):
        return
    queries = {
        "duckdb": "SELECT path FROM duckdb_databases() WHERE database_name = current_database()",
        "postgres": "SELECT inet_server_addr()::TEXT, inet_server_port(), current_database()",
    }

    def state_key(engine_adapter, schema) -> str:
        query = queries.get(engine_adapter.dialect)
        where = engine_adapter.fetchone(query) if query else None
        if not where or not where[0] or where[0] == ":memory:":
            where = (uuid.uuid4().hex,)  # nothing to share with another process
        text = repr((engine_adapter.dialect, schema, tuple(where)))
        return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()

    def __init__(self, engine_adapter, schema=None, *args, **kwargs):
        init(self, engine_adapter, schema, *args, **kwargs)
        key = state_key(engine_adapter, schema)
        self._snapshot_cache._entry_name = lambda s_id: f"{s_id.name}_{s_id.identifier}_{key}"

    __init__._benefits_mesh = True
    SnapshotState.__init__ = __init__


def python_api_analytics_when_enabled() -> None:
    """Skip SQLMesh's analytics wrapper of Context methods while analytics are disabled (once
    per process).

    ``run``, ``plan``, ``render`` and ~25 other Context methods are wrapped by
    ``python_api_analytics``, which, before deciding whether to report the call, imports
    ``sqlmesh.magics`` (IPython) and walks ``inspect.stack()`` (reading the source line of every
    frame): 0.13 s of a no-op run whose 2 s are the target (issue 20), spent even when
    config.yaml disables analytics, as it does here. Each wrapped method now calls the method
    itself while SQLMesh's collector is the no-op one, else the wrapper as before."""
    from sqlmesh.core import analytics
    from sqlmesh.core.analytics.dispatcher import NoopEventDispatcher
    from sqlmesh.core.context import GenericContext

    if getattr(GenericContext, "_benefits_mesh_analytics", False):
        return
    wrapper_code = analytics.python_api_analytics(lambda: None).__code__  # every wrapper's
    for name, method in list(vars(GenericContext).items()):
        inner = getattr(method, "__wrapped__", None)
        if inner is None or getattr(method, "__code__", None) is not wrapper_code:
            continue

        def call(self, *args, _inner=inner, _reported=method, **kwargs):
            if isinstance(analytics.collector._dispatcher, NoopEventDispatcher):
                return _inner(self, *args, **kwargs)
            return _reported(self, *args, **kwargs)

        functools.update_wrapper(call, inner)
        setattr(GenericContext, name, call)
    GenericContext._benefits_mesh_analytics = True


def most_dependents_first() -> None:
    """Hand the evaluations that most others wait for to the workers first (once per process).

    SQLMesh's scheduler (``Scheduler._dag``, ``sqlmesh.core.scheduler``) lays a plan's or run's
    evaluations out in topological layers sorted by name, and its workers
    (``ConcurrentDAGExecutor``, ``sqlmesh.utils.concurrency``) take the ready ones in that
    order. A model reading an EMBEDDED one sits a layer down although it is ready at once: with
    two workers, a daily run evaluated the claims classifier (5.7 s, then the whole claims chain
    after it) only after ``stg_claims__files`` and the small reference models (0.8 s of the
    run's critical path; issue 20). The same DAG, edges unchanged, is now laid out by the number
    of evaluations downstream of each node, most first (ties keep SQLMesh's order): a node
    always has more dependents than any of its children, so the order stays topological."""
    from sqlmesh.core.scheduler import Scheduler
    from sqlmesh.utils.dag import DAG

    build = Scheduler._dag
    if getattr(build, "_benefits_mesh", False):
        return

    def _dag(self, *args, **kwargs):
        dag = build(self, *args, **kwargs)
        graph, downstream = dag.graph, dag.reversed
        order = sorted(graph, key=lambda node: -len(downstream.upstream(node)))
        return DAG({node: graph[node] for node in order})

    _dag._benefits_mesh = True
    Scheduler._dag = _dag


_AUDIT_RENDER = threading.local()


def audits_without_describe() -> None:
    """Render an audit's query without a ``DESCRIBE`` of the audited table where SQLMesh would
    not use its answer (once per process).

    ``_Model.render_audit_query`` asks the engine for the audited table's columns before every
    audit (a ``DESCRIBE`` read back through sqlglot's type parser, ~9 ms each) and uses them
    for one thing: the type of the model's time column, to write the interval's bounds. A daily
    run audits 21 models with 59 audits: 0.53 s of DESCRIBEs (issue 20). When the model has no
    time column, or declares its type, the lookup is skipped and SQLMesh's own fallback applies
    (the model's declared columns: what it uses when the lookup fails). The adapter's
    ``columns`` is wrapped per instance (SQLMesh's catalog decorator binds it per class); a
    thread-local flag lasts for the one lookup at the top of the render, never for a macro's."""
    from sqlglot import exp
    from sqlmesh.core.model.definition import _Model

    render = _Model.render_audit_query
    if getattr(render, "_benefits_mesh", False):
        return

    def declares_time_type(model) -> bool:
        if not model.time_column:
            return True
        declared = (model.columns_to_types or {}).get(model.time_column.column.name)
        return declared is not None and not declared.is_type(exp.DataType.Type.UNKNOWN)

    def render_audit_query(self, audit, **kwargs):
        adapter = kwargs.get("engine_adapter")
        if adapter is not None and declares_time_type(self):
            _columns_unless_skipped(adapter)
            _AUDIT_RENDER.skip = True
        try:
            return render(self, audit, **kwargs)
        finally:
            _AUDIT_RENDER.skip = False

    render_audit_query._benefits_mesh = True
    _Model.render_audit_query = render_audit_query


def _columns_unless_skipped(adapter) -> None:
    """Wrap ``adapter.columns`` (once per adapter) to refuse the lookup an audit render skips."""
    if "columns" in vars(adapter):
        return
    described = adapter.columns

    def columns(*args, **kwargs):
        if getattr(_AUDIT_RENDER, "skip", False):
            _AUDIT_RENDER.skip = False
            raise LookupError("audit render: the model's declared columns serve")
        return described(*args, **kwargs)

    adapter.columns = columns


# -------------------------------------------------------------------- DuckDB merges


_MERGING = threading.local()


def merge_batches_in_memory() -> None:
    """Stage an INCREMENTAL_BY_UNIQUE_KEY batch in a DuckDB TEMP table (once per process).

    SQLMesh merges a batch on DuckDB as CTAS of the batch into a ``__temp_*`` table, DELETE of the
    target's rows with the batch's keys, INSERT of the batch, DROP (``_replace_by_key`` of
    ``sqlmesh.core.engine_adapter.base``, one transaction). Its temp table is an ordinary table of
    the warehouse file: every row of the batch is compressed and written to disk, then dropped.
    As a TEMPORARY table of DuckDB's ``temp`` catalog (memory, spilling to the temp directory
    past the memory limit) the same CTAS took 0.2-0.4 s instead of 2.4 s for a 2 M-row claims
    day (measured, issue 20). The statements and their order stay SQLMesh's; only the temp
    table's name (catalog ``temp``, schema ``main``) and its CREATE (``TEMPORARY``) change, and
    only inside that merge (a thread-local flag: ``_get_temp_table`` serves other uses too).

    SQLMesh inserts the batch with ``DISTINCT ON (<key>)``, keeping one row per key whatever the
    batch holds: a hash aggregate carrying every column (1.0 s of a 1.5 M-key claims batch, vs
    0.28 s to copy it). The batch's keys are counted first (``COUNT(*) = COUNT(DISTINCT key)``,
    0.2 s); when they are unique, which a model's grain makes the rule, the INSERT is a plain
    one (the same rows), else SQLMesh's DISTINCT ON stays."""
    from sqlglot import exp
    from sqlmesh.core.engine_adapter.duckdb import DuckDBEngineAdapter

    replace = DuckDBEngineAdapter._replace_by_key
    if getattr(replace, "_benefits_mesh", False):
        return
    get_temp, execute = DuckDBEngineAdapter._get_temp_table, DuckDBEngineAdapter.execute

    def merging() -> bool:
        return getattr(_MERGING, "active", False)

    def replace_by_key(self, *args, **kwargs):
        _MERGING.active = True
        try:
            return replace(self, *args, **kwargs)
        finally:
            _MERGING.active = False

    def get_temp_table(self, table, table_only=False, quoted=True):
        temp = get_temp(self, table, table_only=table_only, quoted=quoted)
        if merging() and not table_only:
            temp.set("db", exp.to_identifier("main"))
            temp.set("catalog", exp.to_identifier("temp"))
        return temp

    def execute_temporary(self, expressions, *args, **kwargs):
        if merging():
            for statement in expressions if isinstance(expressions, list) else [expressions]:
                table = statement.find(exp.Table) if isinstance(statement, exp.Create) else None
                if table is not None and statement.kind == "TABLE" and table.catalog == "temp":
                    properties = statement.args.get("properties") or exp.Properties(expressions=[])
                    properties.append("expressions", exp.TemporaryProperty())
                    statement.set("properties", properties)
                if isinstance(statement, exp.Insert):
                    _plain_insert_if_keys_unique(self, statement)
        return execute(self, expressions, *args, **kwargs)

    replace_by_key._benefits_mesh = True
    DuckDBEngineAdapter._replace_by_key = replace_by_key
    DuckDBEngineAdapter._get_temp_table = get_temp_table
    DuckDBEngineAdapter.execute = execute_temporary


def _plain_insert_if_keys_unique(adapter, insert) -> None:
    """Drop the ``DISTINCT ON (<key>)`` of a merge's INSERT from its temp table when the temp
    table's keys are unique (merge_batches_in_memory)."""
    from sqlglot import exp

    select = insert.expression
    distinct = select.args.get("distinct") if isinstance(select, exp.Select) else None
    on = distinct.args.get("on") if distinct is not None else None
    source = select.args.get("from_") if distinct is not None else None
    if on is None or source is None:
        return
    keys = on.expressions if isinstance(on, exp.Tuple) else [on]
    key = keys[0] if len(keys) == 1 else exp.Tuple(expressions=keys)
    count = exp.select(
        exp.EQ(
            this=exp.Count(this=exp.Star()),
            expression=exp.Count(this=exp.Distinct(expressions=[key.copy()])),
        )
    ).from_(source.this.copy())
    unique = adapter.fetchone(count)
    if unique and unique[0]:
        select.set("distinct", None)


# -------------------------------------------------------------------- DuckDB connections


def wrap_duckdb_connect(wrap: t.Callable[[t.Callable], t.Callable]) -> None:
    """Make every DuckDB connection SQLMesh opens go through ``wrap(connect)`` (once per
    process): replaces ``BaseDuckDBConnectionConfig._connection_factory``
    (``sqlmesh.core.config.connection``), the property returning DuckDB's connect."""
    from sqlmesh.core.config.connection import BaseDuckDBConnectionConfig

    factory = BaseDuckDBConnectionConfig.__dict__.get("_connection_factory")
    if not isinstance(factory, property) or getattr(factory.fget, "_benefits_mesh", False):
        return

    def wrapped_factory(self):
        return wrap(factory.fget(self))

    wrapped_factory._benefits_mesh = True
    BaseDuckDBConnectionConfig._connection_factory = property(wrapped_factory)


def duckdb_adapters() -> dict[str, EngineAdapter]:
    """The engine adapters SQLMesh shares in this process, by DuckDB file as config.yaml writes
    it (``BaseDuckDBConnectionConfig._data_file_to_adapter``)."""
    from sqlmesh.core.config.connection import BaseDuckDBConnectionConfig

    return dict(BaseDuckDBConnectionConfig._data_file_to_adapter)


# ---------------------------------------------------------------------------- notifications


def notify_also(target: t.Any) -> None:
    """Send every notification in ``target.notify_on`` to ``target`` too, unless the config
    already lists a target of its class: wraps ``NotificationTargetManager.notify``
    (``sqlmesh.core.notification_target``) and calls its ``_get_notification_function``;
    config.yaml has no type for a custom target. Once per process."""
    from sqlmesh.core.notification_target import NotificationTargetManager

    notify = NotificationTargetManager.notify
    if getattr(notify, "_benefits_mesh", False):
        return

    def notify_with_target(self, event, *args, **kwargs):
        notify(self, event, *args, **kwargs)
        configured = self.notification_targets.get(event, ())
        if event in target.notify_on and not any(isinstance(c, type(target)) for c in configured):
            self._get_notification_function(target, event)(*args, **kwargs)

    notify_with_target._benefits_mesh = True
    NotificationTargetManager.notify = notify_with_target


# ----------------------------------------------------------------------------------- the UI


def ui_app_factory() -> t.Callable[[], t.Any]:
    """What makes SQLMesh's web UI as an ASGI app (``web.server.main.create_app``); raises
    ModuleNotFoundError without SQLMesh's ``web`` extra."""
    from web.server.main import create_app

    return create_app


def ui_context_lock() -> t.Any:
    """The lock SQLMesh's UI holds while a request uses its Context
    (``web.server.settings.get_loaded_context_lock``)."""
    from web.server.settings import get_loaded_context_lock

    return get_loaded_context_lock


def ui_task(app: t.Any) -> t.Any:
    """The plan/apply task SQLMesh's UI runs beside the requests (``app.state.task``), if any."""
    return getattr(app.state, "task", None)
