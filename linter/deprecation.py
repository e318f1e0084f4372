"""House lint rule: nothing may keep reading a deprecated model (DESIGN.md, "Safe change").

A model is deprecated when it carries the tag ``deprecated`` and its ``description`` starts with
the structured marker::

    DEPRECATED (replaced_by: <schema.model>, removal_date: YYYY-MM-DD): <free text>

Both are SQLMesh metadata (a change to them is a metadata-only change: no new table, no
backfill). The rule (``nodeprecatedreferences``, enabled under ``warn_rules`` in config.py)
warns on

- every model that references a deprecated model, naming it, its replacement and removal date;
- a deprecated model whose marker is missing or malformed;
- a deprecated model still present on or after its removal date (remove it: DESIGN.md).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlmesh.core.linter.rule import Rule, RuleViolation
from sqlmesh.core.model import Model

TAG = "deprecated"
MARKER = re.compile(
    r"^\s*DEPRECATED\s*\(\s*replaced_by:\s*(?P<replaced_by>[A-Za-z0-9_.]+)\s*,"
    r"\s*removal_date:\s*(?P<removal_date>\d{4}-\d{2}-\d{2})\s*\)",
    re.IGNORECASE,
)
EXPECTED = "DEPRECATED (replaced_by: <schema.model>, removal_date: YYYY-MM-DD): ..."


@dataclass(frozen=True)
class Deprecation:
    """A deprecated model's marker; ``problem`` is set when the marker is missing or invalid."""

    model: str
    replaced_by: str | None = None
    removal_date: dt.date | None = None
    problem: str | None = None


def deprecation(model: Model | None) -> Deprecation | None:
    """The model's deprecation marker, or None when the model is not tagged ``deprecated``."""
    if model is None or TAG not in {tag.lower() for tag in model.tags}:
        return None
    match = MARKER.match(model.description or "")
    if match is None:
        return Deprecation(
            model.name,
            problem=f"is tagged '{TAG}' but its description does not start with '{EXPECTED}'",
        )
    try:
        removal_date = dt.date.fromisoformat(match["removal_date"])
    except ValueError:
        return Deprecation(
            model.name, problem=f"has an invalid removal_date {match['removal_date']!r}"
        )
    return Deprecation(model.name, match["replaced_by"], removal_date)


class NoDeprecatedReferences(Rule):
    """No model may reference a deprecated model; deprecated models go on their removal date."""

    def check_model(self, model: Model) -> list[RuleViolation] | None:
        violations = []
        own = deprecation(model)
        if own is not None and own.problem:
            violations.append(self.violation(f"deprecated model {model.name} {own.problem}"))
        elif own is not None and own.removal_date <= dt.date.today():
            violations.append(
                self.violation(
                    f"deprecated model {model.name} is past its removal date "
                    f"{own.removal_date.isoformat()}: delete it in a dev environment and promote "
                    f"(its replacement is {own.replaced_by}; DESIGN.md, Safe change)"
                )
            )
        for parent_name in sorted(model.depends_on):
            parent = deprecation(self.context.get_model(parent_name))
            if parent is None:
                continue
            if parent.problem:
                detail = f"(its deprecation marker is invalid: it {parent.problem})"
            else:
                detail = (
                    f"replaced by {parent.replaced_by}, removal date "
                    f"{parent.removal_date.isoformat()}: move {model.name} to "
                    f"{parent.replaced_by} before then"
                )
            violations.append(
                self.violation(f"{model.name} references deprecated model {parent.model}, {detail}")
            )
        return violations or None
