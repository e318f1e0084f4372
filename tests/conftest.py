"""Shared fixtures: run the real `sqlmesh` CLI of this venv on a temp landing root + warehouse."""

from __future__ import annotations

import os
import subprocess
import sys
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

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            BENEFITS_DATA_DIR=str(self.root),
            BENEFITS_WAREHOUSE=str(self.warehouse),
            BENEFITS_START=self.start,
            SQLMESH__DISABLE_ANONYMIZED_ANALYTICS="1",
        )
        return env

    def sqlmesh(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [str(BIN / "sqlmesh"), "-p", str(PROJECT), *args],
            cwd=self.root.parent,  # deliberately not the project: paths must not depend on CWD
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"sqlmesh {' '.join(args)} failed ({result.returncode}):\n"
                f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
            )
        return result

    def plan(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.sqlmesh(
            "plan", "--auto-apply", "--no-prompts", "--skip-tests", *args, check=check
        )

    def query(self, sql: str) -> list[tuple]:
        with duckdb.connect(str(self.warehouse), read_only=True) as con:
            return con.execute(sql).fetchall()

    def landing(self, source: str) -> Path:
        path = self.root / "landing" / source
        path.mkdir(parents=True, exist_ok=True)
        return path


@pytest.fixture
def project(tmp_path: Path) -> Project:
    root = tmp_path / "root"
    (root / "reference").mkdir(parents=True)
    (root / "reference" / "company_lookup.json").write_text("[]\n")
    for source in ("employees", "plans", "claims"):
        (root / "landing" / source).mkdir(parents=True)
    return Project(root=root, warehouse=tmp_path / "wh" / "warehouse.duckdb")
