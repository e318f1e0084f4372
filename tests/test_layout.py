"""The layout that shows the architecture (issue 18): every model file is named after the model
it defines and a source's staging models live in models/staging/<source>/ (house lint rule
``modelfilenames``, linter/layout.py, run by `sqlmesh lint` and every plan); models/README.md
maps every folder."""

from __future__ import annotations

import sys
from pathlib import Path

from conftest import PROJECT, lint_project_copy

sys.path.insert(0, str(PROJECT))  # the project's linter/ folder, as SQLMesh's loader sees it

from benefits_mesh.contract import ACCOUNTED_SOURCES  # noqa: E402
from linter.layout import folder_problem, name_problem  # noqa: E402


def test_file_names_and_folders() -> None:
    staging = PROJECT / "models" / "staging"
    assert name_problem(Path("models/marts/fct_claims.sql"), "fct_claims") is None
    assert name_problem(Path("x/stg_@source__files.sql"), "stg_claims__files") is None
    assert name_problem(Path("x/stg_@source__files.sql"), "stg_claims__delivery_days")
    assert "name the file stg_claims.sql" in name_problem(Path("x/claims.sql"), "stg_claims")
    assert (
        folder_problem(staging / "claims" / "stg_claims__landed.sql", "stg_claims__landed") is None
    )
    assert (
        folder_problem(
            staging / "lending_accounts" / "stg_lending_accounts.sql", "stg_lending_accounts"
        )
        is None
    )
    # lending_accounts is not mistaken for a source "lending"
    assert "models/staging/lending_accounts/" in folder_problem(
        staging / "lending" / "stg_lending_accounts.sql", "stg_lending_accounts"
    )
    assert (
        folder_problem(staging / "deliveries" / "stg_@source__files.sql", "stg_claims__files")
        is None
    )
    assert folder_problem(staging / "reference" / "stg_companies.sql", "stg_companies") is None


def test_every_source_has_its_folder_and_the_map_names_every_folder() -> None:
    staging = PROJECT / "models" / "staging"
    for source in ACCOUNTED_SOURCES:
        names = {p.stem for p in (staging / source).glob("*.sql")}
        assert {f"stg_{source}", f"stg_{source}__landed", f"stg_{source}__classified"} <= names
        assert f"stg_{source}__quarantine" in names
    readme = (PROJECT / "models" / "README.md").read_text()
    for folder in sorted(p for p in (PROJECT / "models").rglob("*") if p.is_dir()):
        assert f"{folder.relative_to(PROJECT / 'models').as_posix()}/" in readme, folder


def test_sqlmesh_lint_refuses_a_misnamed_or_misplaced_model(tmp_path: Path) -> None:
    def misplace(copy: Path) -> None:
        moved = copy / "models" / "staging" / "deliveries" / "claims_quarantine.sql"
        (copy / "models" / "staging" / "claims" / "stg_claims__quarantine.sql").rename(moved)

    code, out = lint_project_copy(tmp_path, misplace)
    assert code != 0, out[-2000:]
    assert "defines stg_claims__quarantine but is named claims_quarantine.sql" in out, out[-2000:]
    assert "belongs to source claims: move it to models/staging/claims/" in out, out[-2000:]
