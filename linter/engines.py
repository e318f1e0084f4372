"""House lint rule: the SQL above the landing edge runs unchanged on DuckDB and Spark.

``engineneutral`` (an error rule, config.yaml) reads every SQL model's query as rendered at load
time (the landing macros then render an empty relation: the engine-specific file reading lives
in benefits_mesh/landing.py, the landing edge) and refuses what SQLMesh's transpiler cannot carry
to Spark, or carries silently wrong (DESIGN.md, "Engines"; each construct below was met on this
project or measured on Spark 3.5 and PostgreSQL 15):

- a construct sqlglot cannot generate for Spark (its "unsupported" list);
- a function sqlglot does not know (passed through verbatim, so DuckDB's name reaches Spark),
  and DuckDB's file readers (``read_csv``, ``read_parquet``, ``read_json``...);
- an ordered string aggregate (``STRING_AGG(x, ',' ORDER BY y)``: Spark 3.5 has none) and a
  string aggregate used as a window function;
- ``DAYOFWEEK`` / ``ISODOW`` (Spark numbers days differently; transpiled without a shift);
- a window frame ``RANGE BETWEEN INTERVAL ...`` (fails on Spark; use a day number) and an
  aggregate with ``FILTER (WHERE ...)`` used as a window function (fails on Spark);
- date arithmetic whose type differs: ``d + INTERVAL`` / ``d - INTERVAL`` outside a CAST
  (TIMESTAMP on DuckDB, DATE on Spark) and ``d - LAG(d)`` outside a CAST (an integer on DuckDB,
  an INTERVAL on Spark).
"""

from __future__ import annotations

import typing as t

from sqlglot import exp
from sqlglot.errors import ErrorLevel, UnsupportedError
from sqlmesh.core.linter.rule import Rule, RuleViolation
from sqlmesh.core.model import Model

#: DuckDB table functions that read files: only the landing edge reads files
FILE_READERS = {"read_csv", "read_csv_auto", "read_parquet", "read_json", "read_json_auto", "glob"}
#: functions sqlglot parses as Anonymous that the project checked on both engines (Spark 3.5,
#: DuckDB 1.5) with the same meaning
PORTABLE_ANONYMOUS: set[str] = {
    # a hash of its arguments, for grouping within one query (macros/classification.py): 64-bit
    # on DuckDB, Murmur3 32-bit on Spark; the values differ, the use (equal inputs, equal hash)
    # holds on both, and a collision only costs work (tests/test_spark.py)
    "hash",
}
_STRING_AGGREGATES = (exp.GroupConcat,)


def _inside_cast(node: exp.Expression) -> bool:
    parent = node.parent
    while isinstance(parent, exp.Paren):
        parent = parent.parent
    return isinstance(parent, exp.Cast)


def _problem(node: exp.Expression) -> str | None:
    if isinstance(node, exp.Func):
        name = (node.name if isinstance(node, exp.Anonymous) else node.sql_name()).lower()
        if name in FILE_READERS:
            return f"{name}(): files are read only by the landing edge (benefits_mesh/landing.py)"
    if isinstance(node, exp.Anonymous):
        name = node.name.lower()
        if name not in PORTABLE_ANONYMOUS:
            return f"{name}(): a function sqlglot does not know reaches Spark under DuckDB's name"
    if isinstance(node, exp.Table) and isinstance(node.this, exp.Anonymous):
        return None  # reported as the function itself
    if isinstance(node, _STRING_AGGREGATES):
        if isinstance(node.this, exp.Order) or node.find(exp.Order):
            return "an ordered string aggregate: Spark 3.5 has none (sort a list: LIST_SORT)"
    if isinstance(node, exp.Window):
        inner = node.this
        if isinstance(inner, _STRING_AGGREGATES):
            return "a string aggregate as a window function differs on Spark"
        if isinstance(inner, exp.Filter):
            return "FILTER (WHERE ...) in a window function fails on Spark (COUNT(CASE ...))"
        spec = node.args.get("spec")
        if spec is not None and spec.args.get("kind", "").upper() == "RANGE":
            if spec.find(exp.Interval):
                return (
                    "RANGE BETWEEN INTERVAL ... fails on Spark: order by a day number "
                    "(DATE_DIFF('day', DATE '1970-01-01', d)) and use integer offsets"
                )
    if isinstance(node, (exp.DayOfWeek, exp.DayOfWeekIso)):
        return f"{node.sql('duckdb')}: Spark numbers the days of the week differently"
    if isinstance(node, (exp.Add, exp.Sub)) and not _inside_cast(node):
        operands = (node.left, node.right)
        if any(isinstance(o, exp.Interval) for o in operands):
            return (
                f"{node.sql('duckdb')}: a date plus an interval is a TIMESTAMP on DuckDB and a "
                "DATE on Spark: CAST(... AS DATE)"
            )
        right = node.right.this if isinstance(node.right, exp.Window) else node.right
        if isinstance(node, exp.Sub) and isinstance(right, exp.Lag):
            return f"{node.sql('duckdb')}: an integer on DuckDB, an INTERVAL on Spark: CAST it"
    return None


def engine_problems(query: exp.Expression) -> list[str]:
    """What in ``query`` (DuckDB SQL) does not run, or runs differently, on Spark."""
    problems: list[str] = []
    for node in query.walk():
        problem = _problem(node)
        if problem and problem not in problems:
            problems.append(problem)
    try:
        query.sql(dialect="spark", unsupported_level=ErrorLevel.RAISE)
    except UnsupportedError as error:
        problems.append(f"sqlglot cannot write it for Spark: {error}")
    return problems


class EngineNeutral(Rule):
    """The SQL above the landing edge runs unchanged on DuckDB and Spark (DESIGN.md, Engines)."""

    def check_model(self, model: Model) -> list[RuleViolation] | None:
        if not model.is_sql:
            return None
        query = t.cast(t.Any, model).render_query()
        if query is None:
            return None
        return [self.violation(problem) for problem in engine_problems(query)] or None
