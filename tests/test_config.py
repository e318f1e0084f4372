"""config.yaml is the configuration (issue 17): every setting from a BENEFITS_* variable through
SQLMesh's env_var(), each bad value refused in one line, and a relative warehouse path from a
command started outside the project folder refused instead of creating a second warehouse."""

from __future__ import annotations

import os
import re
import subprocess

import pytest
from conftest import BIN, PROJECT, lint_copy, project_copy

CONFIG = PROJECT / "config.yaml"


def test_config_yaml_is_the_only_configuration():
    assert CONFIG.is_file()
    assert not (PROJECT / "config.py").exists()
    text = CONFIG.read_text()
    assert "disable_anonymized_analytics: true" in text
    # every variable config.yaml reads is documented in README's configuration table
    variables = set(re.findall(r"env_var\('(BENEFITS_[A-Z_]+)'", text))
    assert {"BENEFITS_WAREHOUSE", "BENEFITS_START", "BENEFITS_MEMORY_LIMIT"} <= variables
    readme = (PROJECT / "README.md").read_text()
    for name in variables:
        assert f"| `{name}`" in readme, name


def _sqlmesh(cwd, env_changes: dict[str, str | None], *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, SQLMESH__DISABLE_ANONYMIZED_ANALYTICS="1", COLUMNS="1000")
    for name, value in env_changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return subprocess.run(
        [str(BIN / "sqlmesh"), "-p", str(PROJECT), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("BENEFITS_START", "2026-13-01", "BENEFITS_START must be an ISO date (YYYY-MM-DD)"),
        ("BENEFITS_WAREHOUSE", "", "BENEFITS_WAREHOUSE is set but empty"),
        ("BENEFITS_MEMORY_LIMIT", "lots", "BENEFITS_MEMORY_LIMIT must be a size DuckDB"),
        ("BENEFITS_ROSTER_AS_OF", "yesterday", "BENEFITS_ROSTER_AS_OF must be an ISO date"),
        ("BENEFITS_ENRICHMENT", "ftp", "BENEFITS_ENRICHMENT must be file or http"),
        ("BENEFITS_STATE", "mysql", "BENEFITS_STATE must be duckdb or postgres"),
        ("BENEFITS_FULL_AUDITS", "sometimes", "BENEFITS_FULL_AUDITS must be 1 or 0, got"),
    ],
)
def test_a_bad_setting_is_one_line_naming_it(tmp_path, variable, value, message):
    warehouse = tmp_path / "wh" / "warehouse.duckdb"
    changes = {"BENEFITS_WAREHOUSE": str(warehouse), variable: value}
    result = _sqlmesh(tmp_path, changes, "plan", "--no-prompts", "--skip-tests")
    output = (result.stdout + result.stderr).strip()
    assert result.returncode != 0
    assert output.splitlines() == [f"Error: {output.removeprefix('Error: ')}"], output
    assert message in output
    assert not warehouse.exists()


def test_a_relative_warehouse_from_another_folder_is_refused(tmp_path):
    """SQLMesh reads config.yaml's relative paths against the current folder: `sqlmesh -p
    <project> plan` from elsewhere would build a second, empty warehouse there."""
    for changes in ({"BENEFITS_WAREHOUSE": None}, {"BENEFITS_WAREHOUSE": "wh/benefits.duckdb"}):
        result = _sqlmesh(tmp_path, changes, "plan", "--no-prompts", "--skip-tests")
        output = (result.stdout + result.stderr).strip()
        assert result.returncode != 0
        assert len(output.splitlines()) == 1, output
        assert output.startswith("Error: the warehouse path is relative")
        assert f"run sqlmesh from {PROJECT}" in output
        assert list(tmp_path.iterdir()) == []  # no .warehouse, no logs left here


def test_commands_without_the_warehouse_run_from_anywhere(tmp_path):
    result = _sqlmesh(tmp_path, {"BENEFITS_WAREHOUSE": None}, "format", "--check")
    assert result.returncode == 0, result.stdout + result.stderr


def test_unit_test_files_are_parsed_only_by_commands_that_run_them(monkeypatch, tmp_path):
    """The project's `sqlmesh` sets BENEFITS_UNIT_TEST_FILES=skip for a command that runs no
    unit test; config.yaml then keeps SQLMesh from parsing tests/*.yaml (seconds per command)."""
    from sqlmesh import Context

    from benefits_mesh.runtime import _runs_unit_tests

    assert _runs_unit_tests(["-p", str(PROJECT), "test"])
    assert _runs_unit_tests(["plan", "dev", "--auto-apply"])
    assert _runs_unit_tests(["ui"]) and _runs_unit_tests([])
    assert not _runs_unit_tests(["-p", str(PROJECT), "plan", "--skip-tests"])
    assert not _runs_unit_tests(["--gateway", "local", "run"])
    assert not _runs_unit_tests(["lint"])
    monkeypatch.setenv("BENEFITS_WAREHOUSE", str(tmp_path / "w.duckdb"))
    monkeypatch.setenv("BENEFITS_UNIT_TEST_FILES", "skip")
    assert Context(paths=str(PROJECT))._model_test_metadata == []
    monkeypatch.delenv("BENEFITS_UNIT_TEST_FILES")
    assert len(Context(paths=str(PROJECT))._model_test_metadata) >= 100


def test_one_model_cache_for_every_warehouse(tmp_path, monkeypatch):
    """A plan on another warehouse reads the models SQLMesh cached for the first one (it keyed
    its cache on the whole configuration, warehouse path included: 6-8 s of re-parsing each);
    the rest of the configuration still keys it (a variable's change is a new entry)."""
    copy = project_copy(tmp_path)
    cache = copy / ".cache" / "model_definition"

    def lint(warehouse: str) -> set[str]:
        result = lint_copy(copy, tmp_path / warehouse / "benefits.duckdb")
        assert result.returncode == 0, result.stdout + result.stderr
        return {path.name for path in cache.iterdir()}

    first = lint("a")
    assert len(first) >= 40, first  # every model cached
    assert lint("b") == first  # another warehouse: no model parsed again

    # in-process, the key itself: the warehouse and state connections are out of it, the
    # variables (and everything else) in it
    from benefits_mesh import sqlmesh_api

    sqlmesh_api.model_cache_without_connections()

    def fingerprint(**env: str) -> str:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return sqlmesh_api.project_config(copy / "config.yaml").fingerprint

    base = fingerprint(BENEFITS_WAREHOUSE=str(tmp_path / "a.duckdb"))
    assert fingerprint(BENEFITS_WAREHOUSE=str(tmp_path / "elsewhere" / "a.duckdb")) == base
    assert fingerprint(BENEFITS_ROSTER_AS_OF="2026-02-01") != base


def test_project_config_is_sqlmesh_own_reading_while_the_environment_holds(tmp_path, monkeypatch):
    """sqlmesh_api.remember_loaded_configs (issue 20): the row-count check's question "where is
    the state" is answered from the Config SQLMesh loaded for the command, not a second reading
    of config.yaml; once an environment variable it reads has changed, the file is read again."""
    from sqlmesh.core.config import Config
    from sqlmesh.core.config.loader import load_configs

    from benefits_mesh import sqlmesh_api

    sqlmesh_api.remember_loaded_configs()
    (tmp_path / "config.yaml").write_text(
        "gateways:\n  local:\n    connection:\n      type: duckdb\n"
        "default_gateway: local\nmodel_defaults:\n  dialect: duckdb\n"
        "variables:\n  feed: \"{{ env_var('BM_TEST_FEED', 'claims') }}\"\n"
    )
    monkeypatch.delenv("BM_TEST_FEED", raising=False)
    loaded = load_configs(None, Config, [tmp_path])[tmp_path]  # as SQLMesh's CLI loads it
    assert sqlmesh_api.project_config(tmp_path / "config.yaml") is loaded
    monkeypatch.setenv("BM_TEST_FEED", "plans")
    again = sqlmesh_api.project_config(tmp_path / "config.yaml")
    assert again is not loaded and again.variables["feed"] == "plans"
