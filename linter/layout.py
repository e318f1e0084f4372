"""House lint rule: a model's file is named after the model and a source's staging models live
in that source's folder (models/README.md, the map).

``modelfilenames`` (an error rule, config.yaml) refuses

- a model whose file name is not its table name (``models/marts/fct_claims.sql`` defines
  ``marts.fct_claims``); a blueprint file is named after its name template with the variable
  kept (``stg_@source__files.sql`` defines ``staging.stg_@{source}__files``), so any name the
  template yields matches;
- a staging model of a source of the contract (``stg_<source>``, ``stg_<source>__<part>``, for
  the sources in benefits_mesh/contract.py) outside ``models/staging/<source>/``, unless it is a
  blueprint shared by several sources.
"""

from __future__ import annotations

import re
from pathlib import Path

from sqlmesh.core.linter.rule import Rule, RuleViolation
from sqlmesh.core.model import Model

from benefits_mesh.contract import ACCOUNTED_SOURCES
from benefits_mesh.sqlmesh_api import model_path

#: ``@name`` in a blueprint file name (ended by ``__``, ``.`` or a character that cannot be in a
#: name): the variable's value is one identifier part.
VARIABLE = re.compile(r"@([A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*)")


def _table(model: Model) -> str:
    return model.name.split(".")[-1].strip('"').lower()


def name_problem(path: Path, table: str) -> str | None:
    """Why the file name does not name the model (None when it does)."""
    pattern = "".join(
        r"[a-z0-9_]+" if i % 2 else re.escape(part)
        for i, part in enumerate(VARIABLE.split(path.stem.lower()))
    )
    if re.fullmatch(pattern, table):
        return None
    return f"defines {table} but is named {path.name}: name the file {table}.sql"


def folder_problem(path: Path, table: str) -> str | None:
    """Why a source's staging model is not in models/staging/<source>/ (None when it is)."""
    if VARIABLE.search(path.stem) or not table.startswith("stg_"):
        return None
    for source in sorted(ACCOUNTED_SOURCES, key=len, reverse=True):
        if table == f"stg_{source}" or table.startswith(f"stg_{source}__"):
            if path.parent.name != source or path.parent.parent.name != "staging":
                return f"belongs to source {source}: move it to models/staging/{source}/"
            return None
    return None


class ModelFileNames(Rule):
    """A model's file is named after it; a source's staging models live in its folder."""

    def check_model(self, model: Model) -> list[RuleViolation] | None:
        path = model_path(model)
        if path is None or path.suffix != ".sql":
            return None
        table = _table(model)
        problems = [name_problem(path, table), folder_problem(path, table)]
        return [self.violation(p) for p in problems if p] or None
