"""The same project on Spark (issue 19): BENEFITS_ENGINE=spark, no model edits, same results.

One JVM for the whole module (SparkSession.getOrCreate in this process; a JVM start costs
10-15 s): the module drives SQLMesh's Python API (``Context.plan`` / ``Context.run`` /
``Context.test``), the same calls the ``sqlmesh`` commands make, on two contexts over ONE landing
root: the Spark gateway and the DuckDB one. Time is the scheduler's ``execution_time`` (a JVM
under libfaketime is not something to rely on); days without a file stay open
(``BENEFITS_FILE_WAIT_DAYS`` = 3650), so a late file is loaded by the later run whatever the real
date.

Steps: the YAML unit tests executed on Spark; a plan on generated data with dirt whose third day
is missing; then a later run after the late file, two new days (with corrections of earlier
claims, so the unique-key model's batches carry updates) and a replaced lending snapshot landed.
After each step every model of both warehouses is compared row for row (every column but
``_loaded_at``, the time of the load).

Plain local Spark tables cannot MERGE (DESIGN.md, "Engines"): the later run of
intermediate.int_claims_current fails on Spark with SQLMesh's MERGE, so the second step compares
everything else and checks that failure is the only one; that model's later runs are proven on
an engine with MERGE (PostgreSQL) by tests/test_postgres.py.

Skips only when Java is missing (and says so). pyspark comes from the project's own dependency
group (pyproject.toml, ``spark``), installed here when missing.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import shutil
import subprocess
import sys
import tomllib
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import PROJECT

from benefits_mesh.generate import generate

pytestmark = pytest.mark.spark  # one module = one xdist unit (loadscope): one JVM

START = dt.date(2026, 3, 2)
DAYS = 8
#: the plan (at day 6) sees days 1-4: day 5's file is late, landed for the later run (day 9)
LATE_DAY = START + dt.timedelta(days=4)
LAST_DAY = START + dt.timedelta(days=DAYS - 1)
UNIQUE_KEY_MODEL = "intermediate.int_claims_current"


def _install_pyspark() -> None:
    """pyspark from the project's `spark` dependency group, into this venv, when missing."""
    if importlib.util.find_spec("pyspark") is not None:
        return
    groups = tomllib.loads((PROJECT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", *groups["spark"]], check=True
    )


def _land(source: Path, root: Path, day: dt.date) -> None:
    for path in sorted((source / "landing").glob(f"*/*_{day.isoformat()}.csv")):
        target = root / "landing" / path.parent.name / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)


def _land_lending(source: Path, root: Path) -> None:
    folder = root / "landing" / "lending"
    folder.mkdir(parents=True, exist_ok=True)
    for path in sorted((source / "landing" / "lending").glob("*.csv")):
        shutil.copy2(path, folder / path.name)


def _clock(day: dt.date) -> str:
    """The scheduler's clock on `day`: 06:00 UTC, after the day before has closed."""
    return f"{day.isoformat()} 06:00:00"


def _normalise(value):
    """One Python value per SQL value, whichever engine returned it."""
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, Decimal):
        return value.normalize() if value == value.to_integral() else value
    return value


class Engines:
    """The Spark and DuckDB contexts over one landing root (environment set per context)."""

    def __init__(self, tmp: Path, root: Path) -> None:
        from sqlmesh import Context

        self.env = {
            "BENEFITS_ENGINE": "spark",
            "BENEFITS_SPARK_DIR": str(tmp / "spark"),
            "BENEFITS_WAREHOUSE": str(tmp / "duckdb" / "warehouse.duckdb"),
            "BENEFITS_DATA_DIR": str(root),
            "BENEFITS_START": START.isoformat(),
            "BENEFITS_FILE_WAIT_DAYS": "3650",
            "BENEFITS_FILE_SETTLE_SECONDS": "0",
            "SQLMESH__DISABLE_ANONYMIZED_ANALYTICS": "1",
        }
        self.saved = {name: os.environ.get(name) for name in self.env}
        os.environ.update(self.env)
        self.spark = Context(paths=str(PROJECT), gateway="spark")
        self.duckdb = Context(paths=str(PROJECT), gateway="local")

    def close(self) -> None:
        for context in (self.duckdb, self.spark):
            context.close()
        for name, value in self.saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    def tables(self, context, models: list[str]) -> dict[str, Counter]:
        """Every model's rows in prod (every column but `_loaded_at`), as multisets."""
        tables = {}
        for name in models:
            model = context.get_model(name)
            columns = [c for c in model.columns_to_types if c != "_loaded_at"]
            select = ", ".join(f"t.{column}" for column in columns)
            rows = context.engine_adapter.fetchall(f"SELECT {select} FROM {name} AS t")
            tables[name] = Counter(tuple(_normalise(v) for v in row) for row in rows)
        return tables

    def downstream(self, model: str) -> set[str]:
        fqn = self.duckdb.get_model(model).fqn
        return {self._short(name) for name in self.duckdb.dag.downstream(fqn)}

    @staticmethod
    def _short(fqn: str) -> str:
        return fqn.replace('"', "").split(".", 1)[1]

    def failed_run(self, context, clock: str) -> dict[str, str]:
        """Run ``context`` at ``clock``; {model: first line of its error} of the failed ones."""
        from sqlmesh.core.console import get_console

        console = get_console()
        failures: dict[str, str] = {}
        original = console.log_failed_models

        def record(errors):
            for error in errors:
                name = getattr(error.node, "snapshot_name", None) or error.node.name
                cause = str(error.__cause__ or error).strip().splitlines()[0]
                failures[self._short(name)] = cause
            return original(errors)

        console.log_failed_models = record
        try:
            context.run(execution_time=clock)
        finally:
            console.log_failed_models = original
        return failures

    def models(self) -> list[str]:
        """The models with a table or view (not the EMBEDDED landing reads)."""
        return sorted(
            self._short(name)
            for name, model in self.duckdb.models.items()
            if not model.kind.is_embedded
        )


def _differences(spark: dict[str, Counter], duckdb: dict[str, Counter]) -> list[str]:
    problems = []
    for name in sorted(duckdb):
        if spark[name] != duckdb[name]:
            only_spark = list((spark[name] - duckdb[name]).elements())[:3]
            only_duckdb = list((duckdb[name] - spark[name]).elements())[:3]
            problems.append(
                f"{name}: {sum(spark[name].values())} rows on Spark, "
                f"{sum(duckdb[name].values())} on DuckDB\n  only on Spark: {only_spark}\n"
                f"  only on DuckDB: {only_duckdb}"
            )
    return problems


@pytest.fixture(scope="module")
def engines(tmp_path_factory):
    if shutil.which("java") is None:
        pytest.skip(
            "Java is missing (no `java` on PATH): the Spark tests need a JDK 17, e.g. Debian's "
            "openjdk-17-jre-headless"
        )
    _install_pyspark()
    tmp = tmp_path_factory.mktemp("spark")
    source = tmp / "generated"
    generate(
        out_dir=source,
        start=START,
        days=DAYS,
        companies=5,
        employees=120,
        claims_per_day=80,
        seed=19,
        dirt_rate=0.03,
        history_days=40,
        progress=False,
        lending_customers=40,
    )
    root = tmp / "root"
    shutil.copytree(source / "reference", root / "reference")
    for sub in ("employees", "plans", "claims"):
        (root / "landing" / sub).mkdir(parents=True)
    engines = Engines(tmp, root)
    engines.source = source
    engines.root = root
    yield engines
    engines.close()
    from pyspark.sql import SparkSession

    session = SparkSession.getActiveSession()
    if session is not None:  # the JVM (~2.5 GB) would stay until the xdist worker ends
        session.stop()


def test_unit_tests_run_on_spark(engines, monkeypatch):
    """Every YAML unit test, executed by Spark (the gateway's test_connection).

    SQLMesh compares a test's output as a pandas frame. DuckDB hands DECIMAL columns to pandas
    as floats, Spark as ``Decimal`` objects, which never equal the floats the YAML's numbers
    become (``Decimal('100.15') != 100.15``): here Spark's decimals are handed over as DuckDB
    hands them, so both engines are compared the same way. Money is compared exactly elsewhere:
    tests/test_money_exact.py (the YAML expectations, on DuckDB) and the row-for-row comparison
    of the two warehouses below (``Decimal`` against ``Decimal``)."""
    from sqlmesh.core.test.definition import ModelTest

    execute = ModelTest._execute

    def decimals_as_duckdb_gives_them(self, query):
        frame = execute(self, query)
        for column in frame.columns:
            if any(isinstance(value, Decimal) for value in frame[column]):
                frame[column] = frame[column].map(
                    lambda value: float(value) if isinstance(value, Decimal) else value
                )
        return frame

    monkeypatch.setattr(ModelTest, "_execute", decimals_as_duckdb_gives_them)
    result = engines.spark.test()
    failed = [f"{test}: {text[-1500:]}" for test, text in [*result.failures, *result.errors]]
    assert result.wasSuccessful(), f"{len(failed)} failed:\n" + "\n".join(failed)
    assert result.testsRun >= 100


def _land_days(engines, first: dt.date, last: dt.date, skip: dt.date | None = None) -> None:
    day = first
    while day <= last:
        if day != skip:
            _land(engines.source, engines.root, day)
        day += dt.timedelta(days=1)


def _compare(engines, models: list[str], when: str) -> None:
    problems = _differences(
        engines.tables(engines.spark, models), engines.tables(engines.duckdb, models)
    )
    assert not problems, f"{when}:\n" + "\n".join(problems)


def test_plan_then_later_run_equal_duckdb(engines):
    """A plan, then a later run (a late file, new days with corrections of earlier claims, the
    lending snapshot read again): every model equal on both engines, but the unique-key model's
    later batch."""
    models = engines.models()
    # the plan at day 6: days 1-4 (day 5's file is late: a day missing at the end leaves the
    # unique-key model one batch, a plain insert; a gap would make its second batch a MERGE)
    _land_days(engines, START, LATE_DAY - dt.timedelta(days=1))
    _land_lending(engines.source, engines.root)
    clock = _clock(LATE_DAY + dt.timedelta(days=1))
    for context in (engines.duckdb, engines.spark):
        context.plan(auto_apply=True, no_prompts=True, skip_tests=True, execution_time=clock)
    _compare(engines, models, "after the plan")

    # the run two days later: the late day 5, the new days 6-8, a replaced lending snapshot (its
    # last account gone)
    _land_days(engines, LATE_DAY, LAST_DAY)
    accounts = engines.root / "landing" / "lending" / "accounts.csv"
    lines = accounts.read_text().splitlines(keepends=True)
    accounts.write_text("".join(lines[:-1]))
    accounts_rows = len(lines) - 2
    clock = _clock(LAST_DAY + dt.timedelta(days=1))
    engines.duckdb.run(execution_time=clock)
    failures = engines.failed_run(engines.spark, clock)
    assert failures == {UNIQUE_KEY_MODEL: "MERGE INTO TABLE is not supported temporarily."}
    merged = {UNIQUE_KEY_MODEL, *engines.downstream(UNIQUE_KEY_MODEL)}
    _compare(engines, [m for m in models if m not in merged], f"after the run at {clock}")
    # the run did load the late and the new days, and the replaced snapshot, on Spark
    days = engines.spark.engine_adapter.fetchall(
        "SELECT source, MAX(delivery_date), SUM(raw_rows) FROM marts.fct_load_accounting "
        "GROUP BY source"
    )
    latest = {source: (day, rows) for source, day, rows in days}
    assert latest["claims"][0] == LAST_DAY and latest["lending_accounts"][
        0
    ] == LAST_DAY + dt.timedelta(days=1)
    assert latest["lending_accounts"][1] == accounts_rows
    late_files = len(list(engines.source.glob(f"landing/*/*_{LATE_DAY.isoformat()}.csv")))
    assert late_files >= 1
    assert engines.spark.engine_adapter.fetchall(
        "SELECT COUNT(*) FROM marts.fct_load_accounting WHERE delivery_date = "
        f"DATE '{LATE_DAY.isoformat()}'"
    ) == [(late_files,)]


def test_export_and_summary_equal_duckdb(engines, tmp_path, capsys):
    """`benefits-mesh export` and `summary` on Spark write what they write on DuckDB, byte for
    byte (the marts not downstream of the unique-key model: see the module doc)."""
    from benefits_mesh.cli import main

    if not engines.spark.engine_adapter.table_exists("marts.fct_load_accounting"):
        pytest.skip("needs test_plan_then_later_runs_equal_duckdb's warehouses")
    engines.duckdb.close()  # the commands open the DuckDB warehouse read-only themselves
    outputs = {}
    for engine in ("spark", "duckdb"):
        os.environ["BENEFITS_ENGINE"] = engine
        try:
            assert main(["export", "--out", str(tmp_path / engine)]) == 0
            capsys.readouterr()
            assert main(["summary"]) == 0
            outputs[engine] = capsys.readouterr().out
        finally:
            os.environ["BENEFITS_ENGINE"] = "spark"
    stale = {f"{name.split('.')[1]}.csv" for name in engines.downstream(UNIQUE_KEY_MODEL)}
    spark_files = sorted(p.name for p in (tmp_path / "spark").glob("*.csv"))
    assert spark_files == sorted(p.name for p in (tmp_path / "duckdb").glob("*.csv"))
    assert "fct_load_accounting.csv" in spark_files and "account_summary.csv" in spark_files
    for name in spark_files:
        if name not in stale:
            spark_bytes = (tmp_path / "spark" / name).read_bytes()
            assert spark_bytes == (tmp_path / "duckdb" / name).read_bytes(), name
    # the summary: rows per mart and per outcome and reject reason, the same (stale marts aside)
    stale_marts = {name.split(".")[1] for name in engines.downstream(UNIQUE_KEY_MODEL)}

    def fresh_lines(text: str) -> list[str]:
        return [line for line in text.splitlines() if not any(m in line for m in stale_marts)]

    assert fresh_lines(outputs["spark"]) == fresh_lines(outputs["duckdb"])
    assert "quarantined" in outputs["spark"]
