"""Row-count stability of the marts between runs (issue 6): the after_all check of config.py.

A healthy history (8 days of claims, a roster, a plan) is built once with a real
`sqlmesh plan` under faketime and copied, warehouse included, for each case; each case lands
the next day's files and runs the real scheduled `sqlmesh run`, then reads the warning a user
sees and the records in ops.mart_row_counts. The check is non-blocking: every run exits 0.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import re
from pathlib import Path

import pytest
from conftest import PROJECT, Project

from benefits_mesh import settings

DAYS = [dt.date(2026, 3, 1) + dt.timedelta(days=k) for k in range(8)]
NEXT_DAY = dt.date(2026, 3, 9)
CLAIMS_PER_DAY = 20
HEADERS = {
    "employees": "person_id,full_name,email,title,company_ein,start_date,notes",
    "plans": "plan_id,company_ein,plan_type,carrier_name,start_date,end_date",
    "claims": "claim_id,person_id,company_ein,claim_type,service_date,amount",
}
LOOKUP = (
    '[{"ein": "11-1111111", "company_name": "Alpha", "domains": ["alpha.com"], '
    '"industry": null, "expected_headcount": 3, "state": "NY"}]\n'
)
MARTS = {
    "marts.account_summary",
    "marts.dim_companies",
    "marts.dim_employees",
    "marts.fct_claims",
    "marts.fct_claims_cost_spikes",
    "marts.fct_employee_roster_mismatches",
    "marts.fct_load_accounting",
    "marts.fct_plan_gaps",
}


def _write(root: Path, source: str, day: dt.date, rows: list[str]) -> None:
    path = root / "landing" / source / f"{source}_{day.isoformat()}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([HEADERS[source], *rows]) + "\n")


def _claims(root: Path, day: dt.date, rows: int) -> None:
    service = day - dt.timedelta(days=2)
    _write(
        root,
        "claims",
        day,
        [f"C{day:%m%d}-{i},P{i % 3},11-1111111,medical,{service},10.00" for i in range(rows)],
    )


def _employees(root: Path, day: dt.date, persons: range) -> None:
    _write(
        root,
        "employees",
        day,
        [f"P{i},Person {i},p{i}@alpha.com,Eng,11-1111111,2025-01-01," for i in persons],
    )


@pytest.fixture(scope="module")
def history(tmp_path_factory, faketime) -> Project:
    base = tmp_path_factory.mktemp("stability")
    project = Project(
        root=base / "root", warehouse=base / "wh" / "warehouse.duckdb", start="2026-02-20"
    )
    (project.root / "reference").mkdir(parents=True)
    (project.root / "reference" / "company_lookup.json").write_text(LOOKUP)
    _employees(project.root, DAYS[0], range(3))
    _write(project.root, "plans", DAYS[0], ["PL1,11-1111111,medical,Aetna Inc.,2025-01-01,"])
    for day in DAYS:
        _claims(project.root, day, CLAIMS_PER_DAY)
    project.clock = f"{NEXT_DAY} 06:00:00"
    result = project.plan()
    assert "row-count check" not in _flat(result)  # the first check has no baseline
    return project


def _case(history: Project, tmp_path: Path, **env: str) -> Project:
    return history.copy_to(tmp_path, f"{NEXT_DAY + dt.timedelta(days=1)} 06:00:00", env)


def _flat(result) -> str:
    """stdout + stderr as one line (Rich wraps the console at 80 columns)."""
    return " ".join((result.stdout + " " + result.stderr).split())


def _records(project: Project, check_id: int) -> dict[str, dict]:
    rows = project.query(
        "SELECT model, environment, row_count, previous_row_count, baseline_environment, "
        "change_pct, tolerance, min_change, status FROM ops.mart_row_counts "
        f"WHERE check_id = {check_id}"
    )
    keys = (
        "environment row_count previous_row_count baseline_environment change_pct tolerance "
        "min_change status"
    ).split()
    return {model: dict(zip(keys, rest, strict=True)) for model, *rest in rows}


def _checks(project: Project) -> int:
    return project.query("SELECT COUNT(DISTINCT check_id) FROM ops.mart_row_counts")[0][0]


def test_plan_records_first_counts_of_every_mart(history):
    records = _records(history, 1)
    assert set(records) == MARTS
    assert {r["status"] for r in records.values()} == {"first"}
    assert records["marts.fct_claims"]["row_count"] == len(DAYS) * CLAIMS_PER_DAY
    assert records["marts.fct_load_accounting"]["row_count"] == len(DAYS) + 2  # + roster, plan
    assert records["marts.dim_employees"]["row_count"] == 3
    assert records["marts.fct_claims"]["previous_row_count"] is None


def test_similar_delivery_is_ok_and_silent(history, tmp_path):
    project = _case(history, tmp_path)
    _claims(project.root, NEXT_DAY, CLAIMS_PER_DAY)  # +20 rows on 160: +12.5 %
    logs = tmp_path / "logs"
    result = project.sqlmesh("--log-file-dir", str(logs), "run")
    assert "row-count check" not in _flat(result), _flat(result)[-3000:]
    # the unique-key merge of the new claims staged its batch in DuckDB's temp catalog, not in
    # the warehouse file (sqlmesh_api.merge_batches_in_memory), then deleted and inserted by key
    logged = " ".join(path.read_text() for path in logs.glob("sqlmesh_*.log"))
    temp_table = r'"temp"\."main"\."(__temp_intermediate__int_claims_current_\w+)"'
    staged = re.search(r"CREATE TEMPORARY TABLE " + temp_table, logged)
    assert staged, logged[-3000:]
    assert f'WHERE "claim_id" IN (SELECT "claim_id" FROM "temp"."main"."{staged[1]}")' in logged
    assert f'DROP TABLE IF EXISTS "temp"."main"."{staged[1]}"' in logged
    # the day's claim ids are unique (staging's grain): inserted without DISTINCT ON
    inserted = re.search(r'INSERT INTO "[^\n]*int_claims_current[^\n]*', logged)
    assert inserted and "DISTINCT ON" not in inserted[0], logged[-3000:]
    records = _records(project, 2)
    assert set(records) == MARTS
    assert {r["status"] for r in records.values()} == {"ok"}, records
    claims = records["marts.fct_claims"]
    assert (claims["previous_row_count"], claims["row_count"]) == (160, 180)
    assert float(claims["change_pct"]) == 12.5
    assert (claims["environment"], claims["baseline_environment"]) == ("prod", "prod")
    assert (claims["tolerance"], claims["min_change"]) == (0.5, 10)


def test_run_that_loads_nothing_neither_counts_nor_records(history, tmp_path):
    """A run whose every interval waits for a file writes nothing: the marts cannot have moved,
    so the check is skipped (logged); the next run that loads a file counts and compares again."""
    project = _case(history, tmp_path)
    project.sqlmesh("run")  # a new day: the reference models (no signal) refresh, claims wait
    checks = _checks(project)
    assert checks == 2
    logs = tmp_path / "logs"
    for _ in range(2):  # the same day again: nothing is due or ready, nothing is written
        result = project.sqlmesh("--log-file-dir", str(logs), "run")
        assert "row-count check" not in _flat(result), _flat(result)[-3000:]
    assert _checks(project) == checks
    logged = " ".join(path.read_text() for path in logs.glob("sqlmesh_*.log"))
    assert f"row-count check: nothing written to prod since check {checks}; skipped" in logged
    _claims(project.root, NEXT_DAY, CLAIMS_PER_DAY)
    # an hour later: faketime restarts every process at the same instant, so without it this
    # run's writes could carry earlier timestamps than the check the first (longer) run recorded
    project.clock = project.clock.replace(" 06:", " 07:")
    project.sqlmesh("run")
    assert _checks(project) == checks + 1
    claims = _records(project, checks + 1)["marts.fct_claims"]
    assert (claims["previous_row_count"], claims["row_count"], claims["status"]) == (160, 180, "ok")


def test_multiplied_delivery_warns_records_unstable_and_run_succeeds(history, tmp_path):
    project = _case(history, tmp_path)
    _claims(project.root, NEXT_DAY, 20 * CLAIMS_PER_DAY)  # 160 -> 560 claims
    result = project.sqlmesh("run", check=False)
    text = _flat(result)
    assert result.returncode == 0, text[-3000:]  # non-blocking
    assert (
        "[WARNING] row-count check: marts.fct_claims in prod: 160 -> 560 rows (+250.00%), "
        "beyond the tolerance of +/-50% (more than 10 rows changed). Not blocking: check the "
        "latest deliveries or the change planned. Tolerance: "
        "BENEFITS_ROW_COUNT_TOLERANCE_FCT_CLAIMS; history: ops.mart_row_counts"
    ) in text, text[-3000:]
    assert "[WARNING] row-count check" in " ".join(result.stdout.split())  # the console: stdout
    assert len(re.findall(r"row-count check: ", text)) == 1  # only the claims mart moved
    records = _records(project, 2)
    assert records["marts.fct_claims"]["status"] == "unstable"
    assert float(records["marts.fct_claims"]["change_pct"]) == 250.0
    assert {r["status"] for m, r in records.items() if m != "marts.fct_claims"} == {"ok"}
    # the history is queryable over time
    history_rows = project.query(
        "SELECT check_id, row_count, status FROM ops.mart_row_counts "
        "WHERE model = 'marts.fct_claims' ORDER BY check_id"
    )
    assert history_rows == [(1, 160, "first"), (2, 560, "unstable")]


def test_per_mart_override_and_floor(history, tmp_path):
    """Global tolerance 0: every change beyond the floor warns, except where a mart's own
    tolerance allows it; changes of at most BENEFITS_ROW_COUNT_MIN_CHANGE rows never warn."""
    project = _case(
        history,
        tmp_path,
        BENEFITS_ROW_COUNT_TOLERANCE="0",
        BENEFITS_ROW_COUNT_TOLERANCE_FCT_CLAIMS="0.25",
        BENEFITS_ROW_COUNT_TOLERANCE_FCT_NOPE="1",
    )
    _claims(project.root, NEXT_DAY, CLAIMS_PER_DAY)  # fct_claims +12.5 %, within its own 25 %
    _employees(project.root, NEXT_DAY, range(3, 15))  # dim_employees 3 -> 15: +12 rows
    result = project.sqlmesh("run")
    text = _flat(result)
    warnings = re.findall(r"row-count check: (\S+) in prod: ([\d,]+ -> [\d,]+) rows", text)
    assert warnings == [("marts.dim_employees", "3 -> 15")], text[-3000:]
    assert "beyond the tolerance of +/-0%" in text
    assert "row-count check: BENEFITS_ROW_COUNT_TOLERANCE_FCT_NOPE names no mart of prod" in text
    records = _records(project, 2)
    assert records["marts.fct_claims"]["status"] == "ok"
    assert records["marts.fct_claims"]["tolerance"] == 0.25
    assert records["marts.dim_employees"]["status"] == "unstable"
    assert records["marts.dim_employees"]["tolerance"] == 0.0
    # two more files (+2 rows, +20 %) with tolerance 0: below the floor of 10 rows, so ok
    accounting = records["marts.fct_load_accounting"]
    assert accounting["row_count"] - accounting["previous_row_count"] == 2
    assert (accounting["status"], accounting["min_change"]) == ("ok", 10)

    # without the floor, the same kind of change warns
    project.extra_env["BENEFITS_ROW_COUNT_MIN_CHANGE"] = "0"
    project.extra_env["BENEFITS_ROW_COUNT_TOLERANCE_FCT_CLAIMS"] = "1"
    _claims(project.root, NEXT_DAY + dt.timedelta(days=1), 1)
    project.clock = f"{NEXT_DAY + dt.timedelta(days=2)} 06:00:00"
    text = _flat(project.sqlmesh("run"))
    warnings = re.findall(r"row-count check: (\S+) in prod: ([\d,]+ -> [\d,]+) rows", text)
    assert warnings == [("marts.fct_load_accounting", "12 -> 13")], text[-3000:]
    assert "(more than 0 rows changed)" in text
    records = _records(project, 3)
    assert records["marts.fct_load_accounting"]["status"] == "unstable"
    # the baseline is the latest record, unstable or not: dim_employees is steady again
    assert records["marts.dim_employees"]["previous_row_count"] == 15
    assert records["marts.dim_employees"]["status"] == "ok"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"BENEFITS_ROW_COUNT_TOLERANCE": "lots"},
            "BENEFITS_ROW_COUNT_TOLERANCE must be a non-negative fraction (0.5 = +/-50%), "
            "got 'lots'",
        ),
        (
            {"BENEFITS_ROW_COUNT_TOLERANCE": "-0.1"},
            "BENEFITS_ROW_COUNT_TOLERANCE must be a non-negative fraction (0.5 = +/-50%), "
            "got '-0.1'",
        ),
        (
            {"BENEFITS_ROW_COUNT_TOLERANCE_FCT_PLAN_GAPS": "nan"},
            "BENEFITS_ROW_COUNT_TOLERANCE_FCT_PLAN_GAPS must be a non-negative fraction "
            "(0.5 = +/-50%), got 'nan'",
        ),
        (
            {"BENEFITS_ROW_COUNT_MIN_CHANGE": "1.5"},
            "BENEFITS_ROW_COUNT_MIN_CHANGE must be a non-negative whole number of rows, got '1.5'",
        ),
    ],
)
def test_settings_reject_bad_values_naming_the_variable(monkeypatch, env, message):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    read = (
        settings.row_count_min_change
        if "BENEFITS_ROW_COUNT_MIN_CHANGE" in env
        else lambda: settings.row_count_tolerance("marts.fct_plan_gaps")
    )
    with pytest.raises(ValueError) as error:
        read()
    assert str(error.value) == message


def test_settings_defaults_and_override(monkeypatch):
    for name in list(settings.os.environ):
        if name.startswith("BENEFITS_ROW_COUNT_"):
            monkeypatch.delenv(name)
    assert settings.row_count_tolerance("marts.fct_claims") == 0.5
    assert settings.row_count_min_change() == 10
    monkeypatch.setenv("BENEFITS_ROW_COUNT_TOLERANCE", "0.2")
    monkeypatch.setenv("BENEFITS_ROW_COUNT_TOLERANCE_FCT_PLAN_GAPS", "0.1")
    assert settings.row_count_tolerance("marts.fct_claims") == 0.2
    assert settings.row_count_tolerance("marts.fct_plan_gaps") == 0.1
    assert settings.row_count_tolerance_overrides() == {"fct_plan_gaps": "0.1"}


def test_bad_tolerance_is_a_clear_warning_and_the_run_goes_on(history, tmp_path):
    project = _case(history, tmp_path, BENEFITS_ROW_COUNT_TOLERANCE="lots")
    _claims(project.root, NEXT_DAY, 20 * CLAIMS_PER_DAY)
    result = project.sqlmesh("run", check=False)
    text = _flat(result)
    assert result.returncode == 0, text[-3000:]
    assert (
        "[WARNING] row-count check skipped: BENEFITS_ROW_COUNT_TOLERANCE must be a "
        "non-negative fraction (0.5 = +/-50%), got 'lots'"
    ) in text, text[-3000:]
    assert _checks(project) == 1  # nothing compared, nothing recorded
    assert project.query("SELECT COUNT(*) FROM marts.fct_claims") == [(560,)]  # data loaded


def _stability_module():
    spec = importlib.util.spec_from_file_location("stability", PROJECT / "macros/stability.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("previous", "current", "tolerance", "min_change", "unstable"),
    [
        (2, 5, 0.5, 10, False),  # a tiny mart: +150 % but 3 rows
        (0, 10, 0.5, 10, False),  # 0 -> 10: at the floor
        (0, 11, 0.5, 10, True),  # 0 -> N above the floor
        (100, 150, 0.5, 10, False),  # exactly +50 % is within
        (100, 151, 0.5, 10, True),
        (100, 50, 0.5, 10, False),
        (100, 49, 0.5, 10, True),  # a collapse
        (1000, 1100, 0.1, 10, False),  # exact: 0.1 x 1000 is 100, no float error
        (1000, 1101, 0.1, 10, True),
        (1000, 1000, 0, 0, False),
    ],
)
def test_instability_rule(previous, current, tolerance, min_change, unstable):
    assert _stability_module().is_unstable(previous, current, tolerance, min_change) is unstable
