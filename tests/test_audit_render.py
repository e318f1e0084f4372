"""Audit queries rendered without a DESCRIBE of the audited table where SQLMesh would not use it
(sqlmesh_api.audits_without_describe, issue 20): SQLMesh's own model loading, built-in audits
and DuckDB adapter on a real file; what the adapter executed is read from SQLMesh's log."""

from __future__ import annotations

import logging

import pytest
from conftest import duckdb_adapter
from sqlmesh.core.audit.builtin import BUILT_IN_AUDITS
from sqlmesh.core.dialect import parse
from sqlmesh.core.model import load_sql_based_model

from benefits_mesh import sqlmesh_api


@pytest.fixture
def adapter(tmp_path):
    sqlmesh_api.audits_without_describe()
    with duckdb_adapter(
        tmp_path / "audits.duckdb",
        "CREATE SCHEMA t",
        "CREATE TABLE t.m (k INT, d DATE)",
        "INSERT INTO t.m VALUES (1, DATE '2026-03-01'), (NULL, DATE '2026-03-05')",
    ) as engine:
        yield engine


def _model(kind: str, select: str):
    sql = f"MODEL (name t.m, kind {kind}, audits (not_null(columns := (k)))); {select}"
    return load_sql_based_model(
        parse(sql, default_dialect="duckdb"), audit_definitions=BUILT_IN_AUDITS, dialect="duckdb"
    )


def _audit(model, adapter, caplog) -> tuple[int, str, str]:
    """(failing rows of not_null over 2026-03-01 .. 03-02, its SQL, what the adapter logged)"""
    (audit, args), *_ = model.audits_with_args
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="sqlmesh.core.engine_adapter.base"):
        query = model.render_audit_query(
            audit, engine_adapter=adapter, start="2026-03-01", end="2026-03-02", **args
        )
    logged = "\n".join(r.getMessage() for r in caplog.records)
    failing = adapter.fetchone(f"SELECT COUNT(*) FROM ({query.sql('duckdb')})")[0]
    return failing, query.sql("duckdb"), logged


def test_declared_time_column_needs_no_describe(adapter, caplog):
    model = _model(
        "INCREMENTAL_BY_TIME_RANGE (time_column d)",
        "SELECT s.k::INT AS k, s.d::DATE AS d FROM t.src AS s",
    )
    failing, sql, logged = _audit(model, adapter, caplog)
    assert "DESCRIBE" not in logged, logged
    # the bounds typed as the column: the NULL key of 03-05 lies outside the interval
    assert "BETWEEN CAST('2026-03-01' AS DATE) AND CAST('2026-03-02' AS DATE)" in sql, sql
    assert failing == 0
    # the adapter's own lookup works as before after the render
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="sqlmesh.core.engine_adapter.base"):
        assert set(adapter.columns("t.m")) == {"k", "d"}
    assert "DESCRIBE" in "\n".join(r.getMessage() for r in caplog.records)


def test_undeclared_time_column_type_is_described(adapter, caplog):
    """A time column whose type the model does not say: SQLMesh asks the table, as before."""
    model = _model("INCREMENTAL_BY_TIME_RANGE (time_column d)", "SELECT s.k, s.d FROM t.src AS s")
    failing, sql, logged = _audit(model, adapter, caplog)
    assert 'DESCRIBE "t"."m"' in logged, logged
    assert "CAST('2026-03-02' AS DATE)" in sql, sql
    assert failing == 0


def test_model_without_time_column_needs_no_describe(adapter, caplog):
    model = _model("FULL", "SELECT s.k::INT AS k, s.d::DATE AS d FROM t.src AS s")
    failing, _, logged = _audit(model, adapter, caplog)
    assert "DESCRIBE" not in logged, logged
    assert failing == 1  # the whole table: its NULL key counts
