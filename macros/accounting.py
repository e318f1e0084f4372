"""Macros over the contract's reject reasons (benefits_mesh.contract is the single list)."""

from __future__ import annotations

from sqlglot import exp
from sqlmesh import macro

from benefits_mesh.contract import all_reasons


@macro()
def reason_counts(evaluator, reason_column: exp.Expression) -> list[str]:
    """One `SUM(CASE ...) AS <reason>` projection per reject reason of every source."""
    column = reason_column.sql(dialect=evaluator.dialect)
    return [
        f"CAST(SUM(CASE WHEN {column} = '{reason}' THEN 1 ELSE 0 END) AS BIGINT) AS {reason}"
        for reason in all_reasons()
    ]


@macro()
def reason_columns(evaluator, relation: exp.Expression) -> list[str]:
    """`COALESCE(<relation>.<reason>, 0) AS <reason>` for every reject reason."""
    alias = relation.sql(dialect=evaluator.dialect)
    return [f"COALESCE({alias}.{reason}, 0) AS {reason}" for reason in all_reasons()]


@macro()
def reason_sum(evaluator) -> str:
    """`reason_a + reason_b + …` over every reject reason column (the load accounting identity)."""
    return " + ".join(all_reasons())
