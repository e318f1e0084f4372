"""Every generic audit in audits/ fails on bad rows and passes on good ones (issue 6).

The audits are exercised through a real `sqlmesh plan` of a throw-away SQLMesh project that
holds the project's audits/ and macros/ and small models of literal rows: for each audit one
model it must pass on and one it must fail on. Attached non-blocking, so one plan reports them
all; the test reads the warnings a user sees. metric_anomaly also runs on the project's own
company x day cost model (intermediate.int_company_daily_claim_cost_v2's file, renamed, over
literal claims of two claim types): it fails on a spike of the company's day and passes on a
steady day, also when the cost only moves between claim types. One more plan shows a blocking
audit stopping the plan with a non-zero exit. Audits on real data (freshness, volume, duplicate
delivery, the blocking guards of the models) are exercised by tests/test_bad_input.py.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from benefits_mesh.contract import all_reasons

PROJECT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CLOCK = "2026-03-10 06:00:00"

CONFIG = """
from sqlmesh.core.config import Config, DuckDBConnectionConfig, GatewayConfig, ModelDefaultsConfig

config = Config(
    gateways={{"local": GatewayConfig(connection=DuckDBConnectionConfig(database={db!r}))}},
    default_gateway="local",
    model_defaults=ModelDefaultsConfig(dialect="duckdb", start="2026-03-01", cron="@daily"),
    disable_anonymized_analytics=True,
)
"""


def _accounting(raw: int, staged: int, duplicate: int, quarantined: int, reasons: int) -> str:
    columns = ", ".join(
        f"{reasons if i == 0 else 0} AS {reason}" for i, reason in enumerate(all_reasons())
    )
    return (
        f"SELECT 'claims_2026-03-05.csv' AS source_file, {raw} AS raw_rows, "
        f"{staged} AS staged_rows, {duplicate} AS duplicate_rows, "
        f"{quarantined} AS quarantined_rows, {columns}"
    )


def _files(rows: list[tuple[str, str, int, int]]) -> str:
    values = ", ".join(
        f"('{name}', DATE '{day}', {raw}, {size}, 'digest-{size}')" for name, day, raw, size in rows
    )
    return (
        "SELECT v.source_file, v.delivery_date, v.raw_rows, v.file_size_bytes, v.content_digest "
        f"FROM (VALUES {values}) AS v(source_file, delivery_date, raw_rows, file_size_bytes, "
        "content_digest)"
    )


HISTORY = [
    (f"claims_2026-02-{d:02d}.csv", f"2026-02-{d:02d}", 100 + d % 3, 9000 + d) for d in range(1, 21)
]
HISTORY += [
    ("claims_2026-02-21.csv", "2026-02-21", 5000, 400000),  # 50x the usual volume
    ("claims_2026-02-22.csv", "2026-02-22", 101, 9001),  # same bytes as 02-01
    ("claims_2026-02-23.csv", "2026-02-23", 102, 8000),
]


def _costs(last: int) -> str:
    days = ", ".join(f"('11-1111111', DATE '2026-02-01' + {d}, {100 + d % 5})" for d in range(30))
    return (
        "SELECT v.company_ein, CAST(v.service_date AS DATE) AS service_date, "
        "CAST(v.claim_cost AS DECIMAL(18, 2)) AS claim_cost "
        f"FROM (VALUES {days}, ('11-1111111', DATE '2026-03-03', {last})) "
        "AS v(company_ein, service_date, claim_cost)"
    )


def _claims(last_day: dict[str, int]) -> str:
    """Claims of one company: medical (80..84) and dental (20) every day from 2026-02-01 to
    03-02, a steady company total of 100..104 as in _costs; then 03-03 with the given cost per
    claim type."""
    days = [(f"DATE '2026-02-01' + {d}", {"medical": 80 + d % 5, "dental": 20}) for d in range(30)]
    days.append(("DATE '2026-03-03'", last_day))
    values = ", ".join(
        f"('{kind}-{i}', '11-1111111', '{kind}', {cost}, {day})"
        for i, (day, costs) in enumerate(days)
        for kind, cost in costs.items()
    )
    return (
        "SELECT v.claim_id, v.company_ein, v.claim_type, CAST(v.amount AS DECIMAL(18, 2)) AS "
        "amount, CAST(v.service_date AS DATE) AS service_date "
        f"FROM (VALUES {values}) AS v(claim_id, company_ein, claim_type, amount, service_date)"
    )


#: The project's company x day cost model (grain company x service day x claim type), which
#: carries metric_anomaly: its own file, renamed, without its signal, over literal claims.
COST_MODEL = PROJECT / "models" / "intermediate" / "int_company_daily_claim_cost_v2.sql"


def _cost_model(name: str, claims: str) -> str:
    text = COST_MODEL.read_text()
    assert "metric_anomaly()" in text, "metric_anomaly is no longer attached to the cost model"
    text, signals = re.subn(r"\n  signals \(\n.*?\n  \),", "", text, flags=re.DOTALL)
    text, named = re.subn(r"name intermediate\.\w+", f"name t.{name}", text)
    text, read = re.subn(r"FROM intermediate\.int_claims_current", f"FROM t.{claims}", text)
    assert (signals, named, read) == (1, 1, 1), text
    return text


#: model name -> (claims query, expected failing audit or None): the cost model's audits on
#: the same company totals as cost_steady / cost_spike, split over two claim types
COST_MODEL_CASES: dict[str, tuple[str, str | None]] = {
    "v2_steady": (_claims({"medical": 83, "dental": 20}), None),
    "v2_spike": (_claims({"medical": 4980, "dental": 20}), "metric_anomaly"),  # total 5,000
    # the guard judges the company's day (as on the former company x day model), not a type
    # and not a row: the total triples through types without history, each row unremarkable
    "v2_spike_over_types": (
        _claims({"medical": 82, "dental": 20, "vision": 100, "pharmacy": 100}),
        "metric_anomaly",
    ),
    # each type far outside its own history, the company's total (103) as usual
    "v2_types_shift": (_claims({"medical": 20, "dental": 83}), None),
}


def _freshness(newest: str | None, warn: int, error: int) -> str:
    day = f"DATE '{newest}'" if newest else "CAST(NULL AS DATE)"
    return (
        f"SELECT 'claims' AS source, {day} AS newest_delivery_date, "
        f"'claims_{newest}.csv' AS newest_file, {warn} AS warn_after_hours, "
        f"{error} AS error_after_hours"
    )


# model name -> (query, audits, expected failing audit or None)
CASES: dict[str, tuple[str, str, str | None]] = {
    "driving": ("SELECT v.k FROM (VALUES (1), (2), (3)) AS v(k)", "", None),
    "card_one_to_one_ok": (
        "SELECT d.k FROM t.driving AS d",
        "join_cardinality(relation := 'one_to_one', key := k, driving_model := t.driving, "
        "driving_key := k, blocking := false)",
        None,
    ),
    "card_fan_out": (
        "SELECT d.k FROM t.driving AS d JOIN (VALUES (1), (1), (2), (3)) AS l(k) ON l.k = d.k",
        "join_cardinality(relation := 'many_to_one', key := k, driving_model := t.driving, "
        "driving_key := k, blocking := false)",
        "join_cardinality",
    ),
    "card_filtering_ok": (
        "SELECT d.k FROM t.driving AS d WHERE d.k < 3",
        "join_cardinality(relation := 'filtering', key := k, driving_model := t.driving, "
        "driving_key := k, blocking := false)",
        None,
    ),
    "card_filtering_fan_out": (
        "SELECT d.k FROM t.driving AS d JOIN (VALUES (1), (1), (2), (3)) AS l(k) ON l.k = d.k",
        "join_cardinality(relation := 'filtering', key := k, driving_model := t.driving, "
        "driving_key := k, blocking := false)",
        "join_cardinality",
    ),
    "card_one_to_one_repeated_key": (
        # as many rows as driving keys, but key 1 twice and key 3 lost
        "SELECT l.k FROM t.driving AS d JOIN (VALUES (1), (1), (2)) AS l(k) ON l.k = d.k",
        "join_cardinality(relation := 'one_to_one', key := k, driving_model := t.driving, "
        "driving_key := k, blocking := false)",
        "join_cardinality",
    ),
    "card_lost_rows": (
        "SELECT d.k FROM t.driving AS d WHERE d.k < 3",
        "join_cardinality(relation := 'one_to_one', key := k, driving_model := t.driving, "
        "driving_key := k, blocking := false)",
        "join_cardinality",
    ),
    "card_fan_out_outside_condition": (
        # the fan-out (k = 1) lies outside the rows both conditions select (an incremental
        # model's batch): not this batch's doing
        "SELECT d.k FROM t.driving AS d JOIN (VALUES (1), (1), (2), (3)) AS l(k) ON l.k = d.k",
        "join_cardinality(relation := 'one_to_one', key := k, condition := k >= 2, "
        "driving_model := t.driving, driving_key := k, driving_condition := k >= 2, "
        "blocking := false)",
        None,
    ),
    "written_keys_ok": (
        # incremental (KINDS): the plan writes 2026-03-01 .. 2026-03-09, each key once
        "SELECT v.k, CAST(v.d AS DATE) AS d FROM (VALUES (1, '2026-03-05'), (2, '2026-03-06')) "
        "AS v(k, d)",
        "unique_written_keys(key := k, time_column := d, blocking := false)",
        None,
    ),
    "written_keys_repeated": (
        # key 1 written twice: what a broken merge would leave
        "SELECT v.k, CAST(v.d AS DATE) AS d FROM (VALUES (1, '2026-03-05'), (1, '2026-03-06'), "
        "(2, '2026-03-06')) AS v(k, d)",
        "unique_written_keys(key := k, time_column := d, blocking := false)",
        "unique_written_keys",
    ),
    "written_keys_held_outside": (
        # key 1 written on 2026-03-05 is also held by a row of 2026-02-27, before the interval
        # (the plan's interval 2026-03-01 .. 2026-03-09 is the audited one)
        "SELECT v.k, CAST(v.d AS DATE) AS d FROM (VALUES (1, '2026-02-27'), (1, '2026-03-05'), "
        "(2, '2026-03-06'), (3, '2026-02-27')) AS v(k, d)",
        "unique_written_keys(key := k, time_column := d, blocking := false)",
        "unique_written_keys",
    ),
    "written_keys_only_outside": (
        # keys repeated only outside the interval were not written by it: not this batch's doing
        "SELECT v.k, CAST(v.d AS DATE) AS d FROM (VALUES (3, '2026-02-26'), (3, '2026-02-27'), "
        "(2, '2026-03-06')) AS v(k, d)",
        "unique_written_keys(key := k, time_column := d, blocking := false)",
        None,
    ),
    "dates_future_outside_condition": (
        "SELECT DATE '2026-03-11' AS service_date, FALSE AS in_batch",
        "no_future_dates(column := service_date, condition := in_batch, blocking := false)",
        None,
    ),
    "dates_ok": (
        "SELECT DATE '2026-03-09' AS service_date",
        "no_future_dates(column := service_date, blocking := false)",
        None,
    ),
    "dates_future": (
        "SELECT DATE '2026-03-11' AS service_date",
        "no_future_dates(column := service_date, blocking := false)",
        "no_future_dates",
    ),
    "conservation_ok": (_accounting(10, 7, 1, 2, 2), "load_conservation(blocking := false)", None),
    "conservation_lost_row": (
        _accounting(10, 6, 1, 2, 2),
        "load_conservation(blocking := false)",
        "load_conservation",
    ),
    "conservation_reasonless": (
        _accounting(10, 7, 1, 2, 1),
        "load_conservation(blocking := false)",
        "load_conservation",
    ),
    "files_history": (_files(HISTORY), "", None),
    "volume_ok": (
        "SELECT h.* FROM t.files_history AS h WHERE h.source_file = 'claims_2026-02-23.csv'",
        "volume_anomaly(history := t.files_history)",
        None,
    ),
    "volume_50x": (
        "SELECT h.* FROM t.files_history AS h WHERE h.source_file = 'claims_2026-02-21.csv'",
        "volume_anomaly(history := t.files_history)",
        "volume_anomaly",
    ),
    "delivery_unique": (
        "SELECT h.* FROM t.files_history AS h WHERE h.source_file = 'claims_2026-02-23.csv'",
        "duplicate_delivery(history := t.files_history)",
        None,
    ),
    "delivery_twice": (
        "SELECT h.* FROM t.files_history AS h WHERE h.source_file = 'claims_2026-02-22.csv'",
        "duplicate_delivery(history := t.files_history)",
        "duplicate_delivery",
    ),
    "cost_steady": (_costs(103), "metric_anomaly()", None),
    "cost_spike": (_costs(5000), "metric_anomaly()", "metric_anomaly"),
    "reference": ("SELECT v.person_id FROM (VALUES ('P1'), ('P2')) AS v(person_id)", "", None),
    "reference_known": (
        "SELECT v.person_id FROM (VALUES ('P1'), (NULL)) AS v(person_id)",
        "known_reference(column := person_id, reference_model := t.reference, "
        "reference_column := person_id)",
        None,
    ),
    "reference_unknown": (
        "SELECT v.person_id FROM (VALUES ('P1'), ('P9'), ('P9')) AS v(person_id)",
        "known_reference(column := person_id, reference_model := t.reference, "
        "reference_column := person_id)",
        "known_reference",
    ),
    "fresh_ok": (_freshness("2026-03-09", 12, 24), "source_freshness(level := 'warn')", None),
    "fresh_warn": (
        _freshness("2026-03-09", 2, 24),
        "source_freshness(level := 'warn')",
        "source_freshness",
    ),
    "fresh_warn_not_error": (
        _freshness("2026-03-09", 2, 24),
        "source_freshness(level := 'error')",
        None,
    ),
    "fresh_error": (
        _freshness("2026-03-07", 12, 24),
        "source_freshness(level := 'error')",
        "source_freshness",
    ),
    "fresh_no_file": (
        _freshness(None, 12, 24),
        "source_freshness(level := 'error')",
        "source_freshness",
    ),
}


# models that are not FULL: audits using @start_date / @end_date need an incremental model
KINDS = {
    name: "INCREMENTAL_BY_TIME_RANGE (time_column d)"
    for name in ("written_keys_ok", "written_keys_repeated")
} | {  # rows outside the interval too (a time-range model filters its output to the interval)
    name: "INCREMENTAL_BY_UNIQUE_KEY (unique_key (k, d))"
    for name in ("written_keys_held_outside", "written_keys_only_outside")
}


def _write_project(
    folder: Path,
    cases: dict[str, tuple[str, str, str | None]],
    cost_models: dict[str, tuple[str, str | None]] | None = None,
) -> None:
    shutil.copytree(PROJECT / "audits", folder / "audits")
    shutil.copytree(
        PROJECT / "macros", folder / "macros", ignore=shutil.ignore_patterns("__pycache__")
    )
    (folder / "models").mkdir()
    (folder / "config.py").write_text(CONFIG.format(db=str(folder / "harness.duckdb")))
    for name, (claims, _) in (cost_models or {}).items():
        (folder / "models" / f"claims_{name}.sql").write_text(
            f"MODEL (name t.claims_{name}, kind FULL);\n\n{claims}\n"
        )
        (folder / "models" / f"{name}.sql").write_text(_cost_model(name, f"claims_{name}"))
    for name, (query, audits, _) in cases.items():
        audit_block = f",\n  audits ({audits})" if audits else ""
        # a model named in an audit must be a parent of the audited model (as in the project)
        parents = re.findall(r"(?:reference_model|history|driving_model) := (t\.\w+)", audits)
        if parents:
            audit_block += f",\n  depends_on ({', '.join(sorted(set(parents)))})"
        (folder / "models" / f"{name}.sql").write_text(
            textwrap.dedent(
                f"""\
                MODEL (
                  name t.{name},
                  kind {KINDS.get(name, "FULL")}{audit_block}
                );

                {query}
                """
            )
        )


def _sqlmesh(folder: Path, faketime: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    """`sqlmesh -p <folder> args` under faketime at CLOCK, with extra environment variables."""
    return subprocess.run(
        [faketime, CLOCK, str(BIN / "sqlmesh"), "-p", str(folder), *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "SQLMESH__DISABLE_ANONYMIZED_ANALYTICS": "1", **env},
    )


def _plan(folder: Path, faketime: str) -> subprocess.CompletedProcess:
    return _sqlmesh(folder, faketime, "plan", "--auto-apply", "--no-prompts")


def _warnings(output: str) -> dict[str, set[str]]:
    """model -> audits that printed `[WARNING] t.<model>: '<audit>' audit error: N rows failed`."""
    flat = " ".join(output.split())
    found: dict[str, set[str]] = {}
    for model, audit in re.findall(
        r"\[WARNING\] t\.(\w+): '(\w+)' audit error: \d+ rows? failed", flat
    ):
        found.setdefault(model, set()).add(audit)
    return found


def test_every_generic_audit_fails_on_bad_rows_and_passes_on_good_ones(tmp_path, faketime):
    _write_project(tmp_path, CASES, COST_MODEL_CASES)
    result = _plan(tmp_path, faketime)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    warnings = _warnings(output)
    expected = {name: {audit} for name, (_, _, audit) in CASES.items() if audit}
    expected |= {name: {audit} for name, (_, audit) in COST_MODEL_CASES.items() if audit}
    assert warnings == expected, output[-6000:]
    # metric_anomaly on the cost model flags what it flagged at the company x day grain: the
    # same company-day (one row) for the same totals
    for model in ("cost_spike", "v2_spike"):
        assert re.search(
            rf"\[WARNING\] t\.{model}: 'metric_anomaly' audit error: 1 row failed",
            " ".join(output.split()),
        ), model
    # the message names the model, the audit and how many rows failed, e.g.
    assert re.search(
        r"\[WARNING\] t\.volume_50x: 'volume_anomaly' audit error: 1 row failed",
        " ".join(output.split()),
    )


def test_a_blocking_audit_stops_the_plan_and_names_the_rows(tmp_path, faketime):
    cases = {
        "dates_future": (
            "SELECT DATE '2026-03-11' AS service_date, 'C1' AS claim_id",
            "no_future_dates(column := service_date)",
            "no_future_dates",
        )
    }
    _write_project(tmp_path, cases)
    result = _plan(tmp_path, faketime)
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0
    assert "no_future_dates" in output and "t.dates_future" in output
    assert "1 row failed" in output or "1 rows failed" in output, output[-3000:]
    # nothing was promoted: the environment has no view for the model
    import duckdb

    with duckdb.connect(str(tmp_path / "harness.duckdb"), read_only=True) as con:
        views = con.execute(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 't'"
        ).fetchone()
    assert views == (0,)


@pytest.mark.parametrize(
    ("clock", "env", "code", "word"),
    [
        ("2026-03-06 06:00:00", {}, 0, "ok"),
        ("2026-03-06 15:00:00", {}, 1, "warn"),
        ("2026-03-07 06:00:00", {}, 2, "error"),
        ("2026-03-07 06:00:00", {"BENEFITS_FRESHNESS_HOURS_CLAIMS": "24:72"}, 1, "warn"),
    ],
)
def test_freshness_command_exit_codes(tmp_path, faketime, clock, env, code, word):
    root = tmp_path / "root"
    for source in ("employees", "plans", "claims"):
        folder = root / "landing" / source
        folder.mkdir(parents=True)
        (folder / f"{source}_2026-03-05.csv").write_text("x\n")
    quiet = {f"BENEFITS_FRESHNESS_HOURS_{s.upper()}": "1000:2000" for s in ("employees", "plans")}
    result = subprocess.run(
        [faketime, clock, str(BIN / "benefits-mesh"), "freshness"],
        capture_output=True,
        text=True,
        env={**os.environ, "BENEFITS_DATA_DIR": str(root), **quiet, **env},
    )
    assert result.returncode == code, result.stdout + result.stderr
    line = next(row for row in result.stdout.splitlines() if " claims " in row)
    assert line.startswith(word), line
    assert "claims_2026-03-05.csv" in line


def _audit(folder: Path, faketime: str, start: str, end: str, **env: str):
    model = "t.written_keys_held_outside"
    return _sqlmesh(
        folder, faketime, "audit", "--model", model, "--start", start, "--end", end, **env
    )


def test_the_merge_re_proof_runs_monthly_or_on_demand(tmp_path, faketime):
    """unique_written_keys re-proves SQLMesh's merge: it reads the table in a batch holding the
    first day of a month, or with BENEFITS_FULL_AUDITS=1 (`sqlmesh audit` on demand), and not
    in the other batches (macros/audits.py). Key 1, written on 2026-03-05, is also held by a row
    of 2026-02-27: what a broken merge would leave."""
    cases = {name: CASES[name] for name in ("written_keys_held_outside",)}
    _write_project(tmp_path, cases)
    planned = _plan(tmp_path, faketime)  # 2026-03-01 .. 03-09 holds March 1st: it runs
    assert planned.returncode == 0, (planned.stdout + planned.stderr)[-4000:]
    assert _warnings(planned.stdout + planned.stderr) == {
        "written_keys_held_outside": {"unique_written_keys"}
    }

    def failed(result) -> bool:
        output = " ".join((result.stdout + result.stderr).split())
        if "unique_written_keys on model t.written_keys_held_outside ✅ PASS" in output:
            return False
        assert "unique_written_keys on model t.written_keys_held_outside ❌ FAIL [1]" in output
        assert "Failure in audit unique_written_keys" in output, output[-3000:]
        return True

    # a daily batch in mid-month: the re-proof is not due and reads nothing
    mid_month = _audit(tmp_path, faketime, "2026-03-05", "2026-03-05")
    assert not failed(mid_month), mid_month.stdout[-3000:]
    # the same batch on demand
    on_demand = _audit(tmp_path, faketime, "2026-03-05", "2026-03-05", BENEFITS_FULL_AUDITS="1")
    assert failed(on_demand), on_demand.stdout[-3000:]
    # a batch holding the first day of a month (a catch-up over the month start)
    month_start = _audit(tmp_path, faketime, "2026-02-28", "2026-03-05")
    assert failed(month_start), month_start.stdout[-3000:]
