"""Engine-neutral SQL above the landing edge (issue 19): the house lint rule ``engineneutral``
(linter/engines.py, an error rule run by `sqlmesh lint` and every plan) refuses what does not run,
or runs differently, on Spark; the project's own models pass it (make lint)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import PROJECT, lint_project_copy
from sqlglot import parse_one

sys.path.insert(0, str(PROJECT))  # the project's linter/ folder, as SQLMesh's loader sees it

from linter.engines import engine_problems  # noqa: E402


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT STRING_AGG(x, ',' ORDER BY y) FROM t", "ordered string aggregate"),
        ("SELECT LISTAGG(x, ',') WITHIN GROUP (ORDER BY y) FROM t", "ordered string aggregate"),
        ("SELECT STRING_AGG(x, ',') OVER (PARTITION BY k) FROM t", "as a window function"),
        ("SELECT DAYOFWEEK(d) FROM t", "days of the week"),
        ("SELECT ISODOW(d) FROM t", "days of the week"),
        ("SELECT d + INTERVAL 1 DAY FROM t", "TIMESTAMP on DuckDB and a DATE on Spark"),
        ("SELECT d - INTERVAL '3' DAY FROM t", "TIMESTAMP on DuckDB and a DATE on Spark"),
        ("SELECT d - LAG(d) OVER (ORDER BY d) FROM t", "an INTERVAL on Spark"),
        ("SELECT COUNT(*) FILTER (WHERE x > 1) OVER (PARTITION BY k) FROM t", "FILTER"),
        (
            "SELECT SUM(x) OVER (ORDER BY d RANGE BETWEEN INTERVAL 89 DAYS PRECEDING "
            "AND CURRENT ROW) FROM t",
            "RANGE BETWEEN INTERVAL",
        ),
        ("SELECT * FROM read_csv('x.csv')", "landing edge"),
        ("SELECT * FROM read_parquet('x.parquet')", "landing edge"),
        ("SELECT my_udf(x) FROM t", "does not know"),
    ],
)
def test_engine_specific_constructs_are_refused(sql: str, expected: str) -> None:
    problems = engine_problems(parse_one(sql, read="duckdb"))
    assert any(expected in problem for problem in problems), problems


@pytest.mark.parametrize(
    "sql",
    [
        # the portable forms the project's models use (DESIGN.md, Engines)
        "SELECT CAST(d + INTERVAL '1' DAY AS DATE) FROM t",
        "SELECT ARRAY_TO_STRING(LIST_SORT(ARRAY_AGG(x)), ', ') FROM t GROUP BY k",
        "SELECT COUNT(CASE WHEN x > 1 THEN 1 END) OVER (PARTITION BY k) FROM t",
        "SELECT SUM(x) OVER (ORDER BY DATE_DIFF('day', DATE '1970-01-01', d) "
        "RANGE BETWEEN 89 PRECEDING AND CURRENT ROW) FROM t",
        "SELECT STRING_AGG(x, ',') FROM t GROUP BY k",
    ],
)
def test_portable_forms_pass(sql: str) -> None:
    assert engine_problems(parse_one(sql, read="duckdb")) == []


def test_sqlmesh_lint_refuses_a_duckdb_only_model(tmp_path: Path) -> None:
    def add_model(copy: Path) -> None:
        (copy / "models" / "marts" / "fct_claims_by_weekday.sql").write_text(
            "MODEL (name marts.fct_claims_by_weekday, kind VIEW);\n\n"
            "SELECT DAYOFWEEK(c.service_date) AS weekday, COUNT(*) AS claims\n"
            "FROM marts.fct_claims AS c\nGROUP BY DAYOFWEEK(c.service_date)\n"
        )

    code, out = lint_project_copy(tmp_path, add_model)
    assert code != 0, out[-2000:]
    assert "fct_claims_by_weekday" in out and "days of the week" in out, out[-2000:]
