"""SQLMesh's internals are reached only through benefits_mesh/sqlmesh_api.py (issue 18; DESIGN.md,
"SQLMesh internals: one module").

Imports are ruff's (TID251, the banned-api list in pyproject.toml); this file checks that list
against the installed SQLMesh and, with ``ast``, what ruff cannot see: private attributes
(``obj._name``), a Context's state sync and snapshot evaluator, and SQL naming SQLMesh's state
tables. Each failure names file:line. Fast: no SQLMesh import, no warehouse.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHECKED = ("benefits_mesh", "macros", "signals", "linter", "materializations")
BOUNDARY = "benefits_mesh/sqlmesh_api.py"

#: SQLMesh modules the project may import anywhere: its documented extension API.
ALLOWED_MODULES = {
    "sqlmesh",  # macro, signal, model, Context, ExecutionContext, Snapshot, Model, __version__
    "sqlmesh.core",  # only as the parent of the modules below (`from sqlmesh.core import x`)
    "sqlmesh.core.dialect",  # SQL helpers of macros (parse_one, MacroFunc)
    "sqlmesh.core.linter",
    "sqlmesh.core.linter.rule",  # a custom linter rule (SQLMesh's linter guide)
    "sqlmesh.core.model",  # ... with the Model type it checks; ModelKindName of Python models
    "sqlmesh.core.config",  # the config classes of a Python config
    "sqlmesh.core.notification_target",  # a custom target (SQLMesh's notifications guide)
}

#: Public attributes of SQLMesh objects that are internals all the same.
INTERNAL_ATTRIBUTES = {
    "state_reader": "a Context's state sync",
    "state_sync": "a Context's state sync",
    "snapshot_evaluator": "a Context's snapshot evaluator",
    "context_diff": "a plan's ContextDiff",
    "dev_intervals": "a snapshot's dev-table intervals (sqlmesh_api.snapshot_intervals)",
}

#: Private attributes outside the boundary that are no SQLMesh object's, with why.
ALLOWED_PRIVATE = {
    ("benefits_mesh/runtime.py", "_open"): "logging.FileHandler._open (stdlib), reopening a log",
    ("benefits_mesh/runtime.py", "_benefits_mesh_release"): "the project's marker on a task",
}

#: The tables of SQLMesh's state (schema ``sqlmesh``), read only through sqlmesh_api.
STATE_TABLES = {
    "_environments",
    "_environment_statements",
    "_intervals",
    "_snapshots",
    "_auto_restatements",
    "_versions",
}
STATE_SQL = re.compile(r"""\bsqlmesh['"]?\s*[.,]\s*['"]?_[a-z]""", re.IGNORECASE)


def checked_files() -> list[Path]:
    files = sorted(p for folder in CHECKED for p in (ROOT / folder).rglob("*.py"))
    return [p for p in files if p.relative_to(ROOT).as_posix() != BOUNDARY]


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = body[0] if body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def violations(source: str, name: str) -> list[str]:
    """``name:line: what`` for every reach into SQLMesh's internals ruff cannot see."""
    tree = ast.parse(source)
    docstrings = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        attr = None
        if isinstance(node, ast.Attribute):
            owner = node.value
            if not (isinstance(owner, ast.Name) and owner.id in ("self", "cls")):
                attr = node.attr
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "setattr", "hasattr", "delattr")
            and len(node.args) > 1
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
        ):
            attr = node.args[1].value
        if attr is not None:
            if attr in INTERNAL_ATTRIBUTES:
                found.append(f"{name}:{node.lineno}: .{attr} ({INTERNAL_ATTRIBUTES[attr]})")
            elif (
                attr.startswith("_")
                and not attr.startswith("__")
                and (name, attr) not in ALLOWED_PRIVATE
            ):
                found.append(f"{name}:{node.lineno}: private attribute .{attr}")
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
            and (node.value in STATE_TABLES or STATE_SQL.search(node.value))
        ):
            found.append(f"{name}:{node.lineno}: SQL on SQLMesh's state tables: {node.value!r}")
    return found


def test_no_internals_outside_the_boundary():
    found = []
    for path in checked_files():
        name = path.relative_to(ROOT).as_posix()
        found += violations(path.read_text(encoding="utf-8"), name)
    assert not found, "reach these through benefits_mesh/sqlmesh_api.py:\n" + "\n".join(found)


@pytest.mark.parametrize(
    "planted",
    [
        "ctx.state_reader.get_environment('prod')",
        "console._print('x')",
        "getattr(config, '_data_file_to_adapter')",
        "fetch('SELECT name FROM sqlmesh._environments')",
        "('sqlmesh', '_intervals') in relations",
    ],
)
def test_the_check_catches_a_planted_reach(planted):
    source = f'"""A docstring may name sqlmesh._intervals."""\n\n\ndef f(ctx):\n    {planted}\n'
    found = violations(source, "macros/planted.py")
    assert found and all(line.startswith("macros/planted.py:5: ") for line in found), found


def _sqlmesh_modules() -> list[str]:
    """Every module of the installed SQLMesh (and its UI's ``web`` package), not imported."""
    names = []
    for top in ("sqlmesh", "web"):
        spec = importlib.util.find_spec(top)
        if spec is None or not spec.submodule_search_locations:
            continue
        base = Path(next(iter(spec.submodule_search_locations)))
        for path in base.rglob("*.py"):
            parts = path.relative_to(base.parent).with_suffix("").parts
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return sorted(set(names))


def test_ruff_bans_every_sqlmesh_module_but_the_extension_api():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    banned = set(config["tool"]["ruff"]["lint"]["flake8-tidy-imports"]["banned-api"])
    modules = _sqlmesh_modules()
    assert "sqlmesh.core.snapshot" in modules  # SQLMesh is installed and listed

    def covered(name: str) -> bool:
        return any(name == b or name.startswith(b + ".") for b in banned)

    unbanned = [m for m in modules if m not in ALLOWED_MODULES and not covered(m)]
    assert not unbanned, (
        "SQLMesh modules neither banned in pyproject.toml (TID251) nor documented extension API "
        "(ALLOWED_MODULES): " + ", ".join(unbanned)
    )
    assert not [m for m in ALLOWED_MODULES if covered(m)], "an allowed module is banned"


def test_ruff_refuses_a_planted_internal_import():
    """The ban is live where the project's code is (not only in pyproject.toml)."""
    ruff = Path(sys.executable).with_name("ruff")
    planted = "from sqlmesh.core.console import get_console\n\nget_console()\n"
    result = subprocess.run(
        [str(ruff), "check", "--select", "TID251", "--stdin-filename", "macros/planted.py", "-"],
        input=planted,
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 1 and "TID251" in result.stdout, result.stdout + result.stderr
