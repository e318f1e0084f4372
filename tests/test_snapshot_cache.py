"""One project folder, two warehouses: each run uses its own warehouse's table versions
(sqlmesh_api.snapshot_cache_per_state, issue 20).

SQLMesh caches the snapshots it reads in the project's ``.cache/`` under name + identifier, and a
snapshot's version (its table) is not a function of its identifier: planned as an indirect
non-breaking change it keeps the previous version's table, planned fresh in another warehouse it
gets its own. A throw-away project (a parent and a FULL child) through the venv's ``sqlmesh``:
warehouse A plans v1, then v2 (the parent gains a column: the child is indirect non-breaking and
keeps its v1 table) and runs, which caches A's snapshots; warehouse B, a file of the same name,
plans v2 fresh (the child gets another table); a day later ``sqlmesh run`` on B must refresh B's
own child table, not create the one A's cache entry names.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb

BIN = Path(sys.executable).parent
PLAN_CLOCK, RUN_CLOCK = "2026-03-10 06:00:00", "2026-03-11 06:00:00"

CONFIG = """
import os
from sqlmesh.core.config import Config, DuckDBConnectionConfig, GatewayConfig, ModelDefaultsConfig

config = Config(
    gateways={"local": GatewayConfig(connection=DuckDBConnectionConfig(
        database=os.environ["CACHE_TEST_DB"]))},
    default_gateway="local",
    model_defaults=ModelDefaultsConfig(dialect="duckdb", start="2026-03-08", cron="@daily"),
    disable_anonymized_analytics=True,
)
"""
PARENT = "MODEL (name t.parent, kind FULL);\n\nSELECT 1 AS a{extra}\n"
CHILD = "MODEL (name t.child, kind FULL);\n\nSELECT p.a FROM t.parent AS p\n"


def _sqlmesh(folder: Path, db: Path, clock: str, faketime: str, *args: str) -> str:
    result = subprocess.run(
        [faketime, clock, str(BIN / "sqlmesh"), "-p", str(folder), *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "CACHE_TEST_DB": str(db), "SQLMESH__DISABLE_ANONYMIZED_ANALYTICS": "1"},
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    return output


def _child_tables(db: Path) -> set[str]:
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'sqlmesh__t' AND table_name LIKE 't__child__%'"
        ).fetchall()
    return {name for (name,) in rows}


def _prod_child_table(db: Path) -> str:
    """The physical table prod's view t.child selects from."""
    with duckdb.connect(str(db), read_only=True) as con:
        sql = con.execute(
            "SELECT sql FROM duckdb_views() WHERE schema_name = 't' AND view_name = 'child'"
        ).fetchone()[0]
    return re.search(r"t__child__\d+", sql)[0]


def test_a_warehouse_never_runs_on_another_ones_table_version(tmp_path, faketime):
    folder = tmp_path / "project"
    (folder / "models").mkdir(parents=True)
    (folder / "config.py").write_text(CONFIG)
    (folder / "models" / "child.sql").write_text(CHILD)
    # the same file name: DuckDB's catalog, hence every snapshot's name, is the file's stem
    a, b = tmp_path / "a" / "benefits.duckdb", tmp_path / "b" / "benefits.duckdb"
    a.parent.mkdir()
    b.parent.mkdir()
    plan = ("plan", "--auto-apply", "--no-prompts")

    (folder / "models" / "parent.sql").write_text(PARENT.format(extra=""))
    _sqlmesh(folder, a, PLAN_CLOCK, faketime, *plan)
    kept = _prod_child_table(a)
    (folder / "models" / "parent.sql").write_text(PARENT.format(extra=", 2 AS b"))
    _sqlmesh(folder, a, PLAN_CLOCK, faketime, *plan)
    assert _prod_child_table(a) == kept  # indirect non-breaking: the v1 table serves v2
    _sqlmesh(folder, a, PLAN_CLOCK, faketime, "run")  # reads (and caches) A's v2 snapshots

    _sqlmesh(folder, b, PLAN_CLOCK, faketime, *plan)
    own = _prod_child_table(b)
    assert own != kept, "the scenario needs the child at two versions"
    assert _child_tables(b) == {own}

    output = _sqlmesh(folder, b, RUN_CLOCK, faketime, "run")
    assert "t.child" in output, output[-3000:]  # the FULL child was refreshed for the new day
    assert _child_tables(b) == {own}, "the run wrote a table of warehouse A's version"
    assert _prod_child_table(b) == own
