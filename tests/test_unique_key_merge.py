"""The unique-key merge on DuckDB as sqlmesh_api.merge_batches_in_memory changes it (issue 20):
the batch staged in DuckDB's temp catalog, and inserted without ``DISTINCT ON`` only when its
keys are unique. Real SQLMesh DuckDB adapter, real file, SQLMesh's own ``merge``."""

from __future__ import annotations

import logging

import pytest
from conftest import duckdb_adapter
from sqlglot import exp, parse_one

from benefits_mesh import sqlmesh_api

COLUMNS = {"k": exp.DataType.build("TEXT"), "v": exp.DataType.build("INT")}


@pytest.fixture
def adapter(tmp_path):
    sqlmesh_api.merge_batches_in_memory()
    with duckdb_adapter(
        tmp_path / "merge.duckdb",
        "CREATE TABLE target (k TEXT, v INT)",
        "INSERT INTO target VALUES ('a', 1), ('b', 2), ('c', 3)",
    ) as engine:
        yield engine


def _merge(adapter, caplog, batch: str) -> tuple[list[tuple], str]:
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="sqlmesh.core.engine_adapter.base"):
        adapter.merge("target", parse_one(batch), COLUMNS, unique_key=[exp.column("k")])
    rows = adapter.fetchall("SELECT k, v FROM target ORDER BY k, v")
    return rows, "\n".join(r.getMessage() for r in caplog.records)


def test_batch_of_unique_keys_is_inserted_as_it_is(adapter, caplog):
    batch = "SELECT * FROM (VALUES ('b', 20), ('d', 40)) AS t(k, v)"
    rows, logged = _merge(adapter, caplog, batch)
    assert rows == [("a", 1), ("b", 20), ("c", 3), ("d", 40)]
    assert 'CREATE TEMPORARY TABLE "temp"."main"."__temp_target_' in logged, logged
    assert "COUNT(DISTINCT" in logged, logged
    insert = [line for line in logged.splitlines() if 'INSERT INTO "target"' in line]
    assert insert and "DISTINCT ON" not in insert[0], logged


def test_batch_with_a_repeated_key_keeps_one_row_per_key(adapter, caplog):
    batch = "SELECT * FROM (VALUES ('b', 20), ('b', 20), ('e', 50)) AS t(k, v)"
    rows, logged = _merge(adapter, caplog, batch)
    assert rows == [("a", 1), ("b", 20), ("c", 3), ("e", 50)]
    insert = [line for line in logged.splitlines() if 'INSERT INTO "target"' in line]
    assert insert and 'DISTINCT ON ("k")' in insert[0], logged


def test_batch_with_a_null_key_keeps_distinct_on(adapter, caplog):
    """COUNT(DISTINCT k) leaves NULL out: a batch with a NULL key is never taken for unique."""
    batch = "SELECT * FROM (VALUES (NULL, 7), (NULL, 8), ('f', 60)) AS t(k, v)"
    rows, logged = _merge(adapter, caplog, batch)
    assert len([r for r in rows if r[0] is None]) == 1
    assert ("f", 60) in rows
    insert = [line for line in logged.splitlines() if 'INSERT INTO "target"' in line]
    assert insert and 'DISTINCT ON ("k")' in insert[0], logged
