"""Shared fixtures: run the real `sqlmesh` CLI of this venv on a temp landing root + warehouse."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

PROJECT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


@dataclass
class Project:
    """A landing root and a warehouse in a temp folder, driven through the real CLI."""

    root: Path
    warehouse: Path
    start: str = "2026-01-01"
    #: when set, every command runs under `faketime <clock>` (the system clock shifted, as the
    #: scheduler and the acceptance replays see it), e.g. "2026-03-05 06:00:00"
    clock: str | None = None
    extra_env: dict[str, str] | None = None

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            BENEFITS_DATA_DIR=str(self.root),
            BENEFITS_WAREHOUSE=str(self.warehouse),
            BENEFITS_START=self.start,
            SQLMESH__DISABLE_ANONYMIZED_ANALYTICS="1",
        )
        env.pop("BENEFITS_FILE_SETTLE_SECONDS", None)
        env.update(self.extra_env or {})
        return env

    def command(self, *args: str) -> list[str]:
        """`sqlmesh -p <project> args`, under faketime when a clock is set."""
        clock = ["faketime", self.clock] if self.clock else []
        return [*clock, str(BIN / "sqlmesh"), "-p", str(PROJECT), *args]

    def sqlmesh(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        if self.clock:
            clean_stale_faketime_files()
        result = subprocess.run(
            self.command(*args),
            cwd=self.root.parent,  # deliberately not the project: paths must not depend on CWD
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"sqlmesh {' '.join(args)} (clock {self.clock}) failed ({result.returncode}):\n"
                f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
            )
        return result

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        """`benefits-mesh args` with the project's variables, at its clock (not checked)."""
        clock = ["faketime", self.clock] if self.clock else []
        return subprocess.run(
            [*clock, str(BIN / "benefits-mesh"), *args],
            cwd=self.root.parent,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    def plan(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.sqlmesh(
            "plan", "--auto-apply", "--no-prompts", "--skip-tests", *args, check=check
        )

    def contents(
        self, schemas: tuple[str, ...] = ("staging", "intermediate", "marts")
    ) -> dict[str, Counter]:
        """Every row of every relation of ``schemas``, by ``schema.table``; load timestamps and
        file modification times left out (they differ between equal loads)."""
        listed = ", ".join(f"'{schema}'" for schema in schemas)
        tables = self.query(
            "SELECT table_schema, table_name FROM information_schema.tables "
            f"WHERE table_schema IN ({listed}) ORDER BY 1, 2"
        )
        result = {}
        for schema, table in tables:
            columns = [
                f'"{name}"'
                for (name,) in self.query(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = "
                    f"'{schema}' AND table_name = '{table}' AND column_name NOT IN "
                    "('_loaded_at', 'file_mtime_ns') ORDER BY ordinal_position"
                )
            ]
            rows = self.query(f'SELECT {", ".join(columns)} FROM "{schema}"."{table}"')
            result[f"{schema}.{table}"] = Counter(rows)
        return result

    def query(self, sql: str) -> list[tuple]:
        with duckdb.connect(str(self.warehouse), read_only=True) as con:
            return con.execute(sql).fetchall()

    def copy_to(self, folder: Path, clock: str, extra_env: dict[str, str] | None = None) -> Project:
        """A copy of this landing root and warehouse in ``folder``, run at ``clock``: each case
        of a module starts from one shared history without replaying it."""
        shutil.copytree(self.root, folder / "root")
        shutil.copytree(self.warehouse.parent, folder / "wh")
        return Project(
            root=folder / "root",
            warehouse=folder / "wh" / self.warehouse.name,
            start=self.start,
            clock=clock,
            extra_env=extra_env,
        )

    def landing(self, source: str) -> Path:
        path = self.root / "landing" / source
        path.mkdir(parents=True, exist_ok=True)
        return path


@pytest.fixture
def project(tmp_path: Path) -> Project:
    root = tmp_path / "root"
    (root / "reference").mkdir(parents=True)
    # one company: an empty registry is refused (landing.company_lookup_rows)
    (root / "reference" / "company_lookup.json").write_text(
        '[{"ein": "99-9999999", "company_name": "Fixture", "domains": ["fixture.example"]}]\n'
    )
    for source in ("employees", "plans", "claims"):
        (root / "landing" / source).mkdir(parents=True)
    return Project(root=root, warehouse=tmp_path / "wh" / "warehouse.duckdb")


@contextlib.contextmanager
def duckdb_adapter(path: Path, *setup: str):
    """SQLMesh's own DuckDB engine adapter on a real file, after the ``setup`` statements ran on
    it (closed on exit): for tests of what the project changes in SQLMesh's adapter paths."""
    from sqlmesh.core.config import DuckDBConnectionConfig

    with duckdb.connect(str(path)) as con:
        for statement in setup:
            con.execute(statement)
    adapter = DuckDBConnectionConfig(database=str(path)).create_engine_adapter()
    try:
        yield adapter
    finally:
        adapter.close()


def clean_stale_faketime_files() -> None:
    """Remove the shared memory and semaphore a `faketime` wrapper leaves behind when killed.

    libfaketime names them after the wrapper's process id (/dev/shm/faketime_shm_<pid>,
    sem.faketime_sem_<pid>) and cleans up on exit; SIGKILL (the kill-and-resume tests) skips
    that, and a later wrapper that gets the same pid fails with `sem_open: File exists`.
    Only files of processes that no longer exist are removed.
    """
    shm = Path("/dev/shm")
    if not shm.is_dir():
        return
    for path in shm.glob("*faketime_*_*"):
        pid = path.name.rsplit("_", 1)[-1]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            path.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def faketime() -> str:
    """libfaketime's `faketime`, installed from Debian's packages when missing (as root)."""
    found = shutil.which("faketime")
    if found is None:
        # pytest-xdist workers may get here together: one installs, the others wait
        lock = open(Path(tempfile.gettempdir()) / "benefits-mesh-faketime.lock", "w")  # noqa: SIM115
        fcntl.flock(lock, fcntl.LOCK_EX)
        found = shutil.which("faketime")
    if found is None:
        if os.geteuid() != 0 or shutil.which("apt-get") is None:
            pytest.fail("faketime is missing and cannot be installed: apt-get install faketime")
        subprocess.run(["apt-get", "update", "-qq"], check=True, capture_output=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "faketime"],
            check=True,
            capture_output=True,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
        found = shutil.which("faketime")
    assert found, "faketime not found after installation"
    clean_stale_faketime_files()
    return found


def project_copy(folder: Path) -> Path:
    """A copy of the project's SQLMesh files (models, macros, config.yaml ...) in ``folder``."""
    copy = folder / "project"
    for name in ("models", "macros", "materializations", "signals", "seeds", "audits", "linter"):
        shutil.copytree(PROJECT / name, copy / name)
    shutil.copyfile(PROJECT / "config.yaml", copy / "config.yaml")
    return copy


def lint_copy(copy: Path, warehouse: Path) -> subprocess.CompletedProcess:
    """`sqlmesh lint` on a project copy, the bundled sample as its landing root."""
    env = {**os.environ, "COLUMNS": "250", "BENEFITS_WAREHOUSE": str(warehouse)}
    env["BENEFITS_DATA_DIR"] = str(PROJECT / "data")
    return subprocess.run(
        [str(BIN / "sqlmesh"), "-p", str(copy), "lint"],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def lint_project_copy(tmp_path: Path, edit) -> tuple[int, str]:
    """`sqlmesh lint` on a copy of the project after ``edit(copy)``: (exit code, its output with
    whitespace runs collapsed). For the house lint rules' tests (test_layout, test_engine_lint)."""
    copy = project_copy(tmp_path)
    edit(copy)
    result = lint_copy(copy, tmp_path / "w.duckdb")
    return result.returncode, " ".join((result.stdout + result.stderr).split())


# --------------------------------------------------------------------------- xdist scheduling
#
# `make pytest` runs `-n 2 --dist loadscope --no-loadscope-reorder` (pyproject.toml): xdist hands
# out whole modules, in collection order, one at a time to whichever worker is free.
#
# - A module's module-scoped fixtures (a warehouse its cases copy, the enrichment test's fault
#   service, the UI server) are built once per run: with `--dist load` a module's tests were
#   dealt to both workers, and a module fixture was built on each.
# - The longest modules go first (longest processing time first), so the run does not end with
#   one worker on a long module while the other idles; the unit-level modules fill the gaps.
#   (`--dist loadgroup` would allow finer units, but with pytest 9 xdist 3.8's group suffix no
#   longer reaches the node ids, so its groups are silently ignored.)
#
# MODULE_COST: a module's approximate seconds on an unloaded two-core machine, from
# `pytest --durations=0`; only the order depends on it, never a result. A module not listed
# (new) goes after the measured heavy ones and before the unit-level ones: add it here.
MODULE_COST = {
    "test_incremental.py": 560,
    "test_spark.py": 600,  # one JVM: YAML tests on Spark, plan + run on both engines, export
    "test_bad_input.py": 270,
    "test_enrichment.py": 210,
    "test_landing_edge.py": 180,
    "test_operations.py": 160,
    "test_postgres.py": 150,  # 136-185 s measured under load
    "test_incident.py": 100,
    "test_safe_change.py": 100,
    "test_trace.py": 85,
    "test_row_count_stability.py": 77,
    "test_lending.py": 75,
    "test_ui.py": 65,
    "test_sqlmesh_yaml_units.py": 60,
    "test_bench.py": 55,
    "test_export.py": 50,
    "test_money_exact.py": 36,
    "test_end_to_end.py": 35,
    "test_bad_files.py": 14,
    "test_config.py": 14,
    "test_generate.py": 9,
    "test_layout.py": 9,
    "test_engine_lint.py": 30,
    "test_audits.py": 8,
    "test_cli_errors.py": 1,
    "test_contract_classifier.py": 0,
    "test_sqlmesh_boundary.py": 0,
    "test_data_contract_doc.py": 0,
}
DEFAULT_MODULE_COST = 5


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Whole modules, the longest first (a stable sort: every worker collects the same order)."""

    def cost(item: pytest.Item) -> float:
        module = item.nodeid.split("::", 1)[0].rsplit("/", 1)[-1]
        return MODULE_COST.get(module, DEFAULT_MODULE_COST)

    items.sort(key=lambda item: -cost(item))
