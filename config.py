"""SQLMesh project configuration for benefits-mesh.

Python rather than YAML because SQLMesh resolves a relative DuckDB path against the current
directory: computing absolute paths here (see benefits_mesh.settings) makes `sqlmesh -p <project>`
behave the same from any directory. Everything is driven by environment variables:

  BENEFITS_DATA_DIR   landing root (default: data)
  BENEFITS_WAREHOUSE  DuckDB file (default: .warehouse/benefits.duckdb)
  BENEFITS_START      first day of backfill (default: 2026-01-01, covers the bundled sample)
  BENEFITS_MEMORY_LIMIT  DuckDB memory limit (default 6GB; beyond it DuckDB spills to disk)
  BENEFITS_ROSTER_AS_OF  as-of date D of marts.fct_employee_roster_mismatches (default: the
                         latest employees delivery date)

Read by the after_all row-count check (macros/stability.py) when it runs, not here:
  BENEFITS_ROW_COUNT_TOLERANCE[_<MART>]  tolerated change of a mart's row count between checks,
                                         a fraction (default 0.5)
  BENEFITS_ROW_COUNT_MIN_CHANGE          changes of at most this many rows never warn (default 10)
"""

from sqlmesh.core.config import (
    Config,
    DuckDBConnectionConfig,
    GatewayConfig,
    LinterConfig,
    ModelDefaultsConfig,
)
from sqlmesh.core.config.format import FormatConfig

from benefits_mesh import notify, settings
from benefits_mesh.runtime import prepare

# first: owner-only files, logs in <project>/logs, one-line errors for a busy warehouse and a
# bad landing file (benefits_mesh/runtime.py, the SQLMesh glue)
prepare()

_warehouse = settings.warehouse_path()
_warehouse.parent.mkdir(parents=True, exist_ok=True)

_connection = DuckDBConnectionConfig(
    database=str(_warehouse),
    # DuckDB defaults to 80 % of RAM and then overshoots it (RSS 20.5 GB on a 24 GB
    # box for a 100 M-row backfill); a fixed cap spills to <warehouse>.tmp instead.
    # preserve_insertion_order=false lets DuckDB write big inserts in parallel
    # without buffering them in order (no query here relies on insertion order:
    # row numbers come from WITH ORDINALITY, which it leaves alone)
    connector_config={
        "memory_limit": settings.memory_limit(),
        "preserve_insertion_order": False,
    },
)
# the landing report reads the load records through the run's own (shared) adapter
notify.use_connection(_connection)

config = Config(
    gateways={"local": GatewayConfig(connection=_connection)},
    default_gateway="local",
    model_defaults=ModelDefaultsConfig(
        dialect="duckdb",
        start=settings.start_date(),
        cron="@daily",
    ),
    linter=LinterConfig(
        enabled=True,
        rules=["ambiguousorinvalidcolumn", "invalidselectstarexpansion", "noambiguousprojections"],
        warn_rules=["nodeprecatedreferences"],
    ),
    variables={
        "roster_as_of": settings.roster_as_of(),
        # SPEC §6: where company attributes come from (file | http); a change is a plan change
        # of intermediate.int_company_enrichment
        "enrichment": settings.enrichment_provider(),
    },
    # Company enrichment (benefits_mesh/enrichment.py): before any model of a plan or run, the
    # companies due are requested from the service and ops.company_enrichment is updated
    # (BENEFITS_ENRICHMENT=http); with `file` it only makes sure the cache table exists
    before_all=["@enrich_companies()"],
    # Row-count stability of the marts (issue 6, non-blocking; DESIGN.md): after every applied
    # plan and every run with missing intervals (even if none was ready), count each mart of the
    # environment, warn on a count that moved beyond the tolerance and record the counts in
    # ops.mart_row_counts. About 0.1 s on the sample; skipped when nothing was written since the
    # environment's previous check (a run that only waits for files).
    after_all=["@check_mart_row_counts()"],
    # Every `sqlmesh run` ends with the landing report (benefits_mesh/notify.py): the files in
    # the landing folder that no run will load as they are, and why (issue 15)
    notification_targets=[notify.LandingReport()],
    disable_anonymized_analytics=True,
    # `sqlmesh format` (make fmt; `make lint` checks it): SQLMesh's defaults except the final
    # newline. `::` casts stay as written (CAST(x AS T) becomes x::T unless x is an operation);
    # function names keep their case (our audits and macros are lower case); trailing commas.
    format=FormatConfig(
        normalize=False,
        pad=2,
        indent=2,
        normalize_functions=False,
        leading_comma=False,
        max_text_width=80,
        append_newline=True,
        no_rewrite_casts=False,
    ),
)
