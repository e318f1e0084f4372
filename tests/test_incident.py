"""Incident drill (issue 7) end to end at small scale, with the real CLI under faketime.

A healthy history (9 days, ~100 claims a day) is built in prod. `benefits-mesh incident` then
lands the seeds' bad feed for the next day: 20x the usual rows, one company holding most of
them, claim_ids re-sent 8 times each, and an e-mail domain that starts to repeat in the lookup.
`benefits-mesh sandbox` loads it into a dev environment only. The test proves that

- prod is untouched: every prod table and view has the same rows, and prod's environment
  record (its plan) is the same;
- the guardrails fire in the environment and not in prod: the audits named in EXPECTED_AUDITS
  fail there (new failures: they pass on prod's versions), and the sandbox exits 1;
- `table_diff` and the load accounting point at the offending file and keys: the file is the
  only row only in the environment, with its 20x raw rows, duplicates and conflicting
  duplicates; the skewed company and the repeated claim_ids are named; the repeated domain
  shows as the one changed row of dim_companies;
- `benefits-mesh explain` runs EXPLAIN ANALYZE on the environment's tables;
- a repeated EIN in the lookup is refused by the loader (the guardrail that needs no audit).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import statistics
import subprocess
from collections import Counter
from pathlib import Path

import duckdb
import pytest
import reference
from conftest import BIN, PROJECT, Project

from benefits_mesh.generate import generate
from benefits_mesh.incident import repeat_lookup_key
from benefits_mesh.landing import LandingFileError, company_lookup_rows

START = dt.date(2026, 3, 2)
DAY = dt.date(2026, 3, 11)  # the day after the generated history (2026-03-02 .. 2026-03-10)
CLOCK = "2026-03-12 06:00:00"
FILE = f"claims_{DAY.isoformat()}.csv"
ENV = "incident"
#: Audits that must fail in the environment (and pass on prod's versions of the same models):
#: (model, audit). Both are issue 6's data-quality audits (audits/*.sql), non-blocking.
EXPECTED_AUDITS = {
    ("intermediate.int_claims__load_accounting", "volume_anomaly"),  # 20x the trailing deliveries
    ("intermediate.int_company_daily_claim_cost_v2", "metric_anomaly"),  # the skewed company's day
}


def _run(project: Project, executable: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["faketime", project.clock, str(BIN / executable), *args],
        env=project.env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _flat(result: subprocess.CompletedProcess) -> str:
    return " ".join((result.stdout + "\n" + result.stderr).split())


def _prod_fingerprint(project: Project) -> dict[str, str]:
    """Every relation of prod's schemas (rows, order-free) and prod's environment record."""
    fingerprint = {}
    with duckdb.connect(str(project.warehouse), read_only=True) as con:
        names = con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema "
            "IN ('staging', 'intermediate', 'marts') ORDER BY 1, 2"
        ).fetchall()
        for schema, table in names:
            rows = sorted(map(repr, con.execute(f'SELECT * FROM "{schema}"."{table}"').fetchall()))
            fingerprint[f"{schema}.{table}"] = hashlib.sha256("\n".join(rows).encode()).hexdigest()
        (record,) = con.execute(
            "SELECT plan_id || snapshots FROM sqlmesh._environments WHERE name = 'prod'"
        ).fetchone()
        fingerprint["sqlmesh._environments[prod]"] = hashlib.sha256(record.encode()).hexdigest()
    return fingerprint


@pytest.fixture
def healthy(tmp_path: Path, faketime: str) -> Project:
    root = tmp_path / "root"
    generate(root, START, 9, 5, 120, 100, 5, 0.02, progress=False)
    project = Project(
        root=root,
        warehouse=tmp_path / "wh" / "warehouse.duckdb",
        start="2026-03-01",
        clock=CLOCK,
        extra_env={"COLUMNS": "250"},
    )
    project.plan()
    return project


def test_incident_drill_is_caught_in_a_dev_environment_and_prod_is_untouched(healthy: Project):
    project = healthy
    before = _prod_fingerprint(project)
    assert before["marts.fct_load_accounting"] and len(before) > 20

    lookup_path = project.root / "reference" / "company_lookup.json"
    lookup_before = json.loads(lookup_path.read_text())
    written = _run(project, "benefits-mesh", "incident", "--out", str(project.root))
    assert written.returncode == 0, _flat(written)
    facts = dict(line.split(": ", 1) for line in written.stdout.splitlines() if ": " in line)

    # ---- the drill's file and lookup, read independently (csv module, tests/reference.py):
    # the expected counts come from what was written, not from the drill's own report
    path = project.root / "landing" / "claims" / FILE
    history = sorted((project.root / "landing" / "claims").glob("claims_*.csv"))[:-1]
    assert [p.name for p in history][-1] == f"claims_{DAY - dt.timedelta(days=1)}.csv"
    typical = statistics.median(len(reference.read_delivery(p, "claims")) for p in history[-28:])
    rows = reference.read_delivery(path, "claims")
    counts, staged = reference.process_file("claims", rows, DAY)
    assert typical == 100 and len(rows) == 20 * typical  # the drill's parameters (scale 20)
    copies = Counter(reference.text(row["claim_id"]) for row in rows)
    resent = {claim_id: n for claim_id, n in copies.items() if n > 1}
    assert len(resent) > 10 and set(resent.values()) == {8}
    companies = Counter(reference.parse_ein(row["company_ein"]) for row in rows)
    (hot, hot_rows), (_, runner_up) = companies.most_common(2)
    assert hot_rows >= 0.5 * len(rows) > runner_up
    assert counts["duplicate_rows"] > 0 and counts["conflicting_duplicate"] > 0
    lookup_after = json.loads(lookup_path.read_text())
    domain = lookup_before[-1]["domains"][0]
    assert lookup_after[0]["domains"] == [*lookup_before[0]["domains"], domain]
    assert lookup_after[1:] == lookup_before[1:]
    # ... and the drill's report says the same
    assert facts["day"] == DAY.isoformat() and facts["typical_rows"] == str(int(typical))
    assert facts["rows"] == str(len(rows)) and facts["scale"] == "20.0"
    assert facts["hot_company_ein"] == hot
    assert 0.5 <= float(facts["hot_company_share"]) <= hot_rows / len(rows)
    assert facts["resent_claim_ids"] == str(len(resent)) and facts["copies_per_resent_id"] == "8"
    assert facts["expected_duplicate_rows"] == str(counts["duplicate_rows"])
    assert facts["expected_conflicting_rows"] == str(counts["conflicting_duplicate"])
    assert facts["lookup_change"].split()[:2] == ["domain", domain]
    assert "now also listed by" in facts["lookup_change"]

    # ---- the sandbox: the new delivery (and lookup) in environment `incident` only
    box = _run(
        project,
        "benefits-mesh",
        "sandbox",
        "--source",
        "claims",
        "--source",
        "reference",
        "--env",
        ENV,
        "--project",
        str(PROJECT),
    )
    report = _flat(box)
    assert box.returncode == 1, f"new audit failures must fail the sandbox:\n{report}"
    assert _prod_fingerprint(project) == before, "the sandbox changed prod"

    for model, audit in EXPECTED_AUDITS:
        assert f"{model} [" in report, report
        section = report.split(f"{model} [", 1)[1].split(" table_diff ", 1)[0]
        assert f"{audit} FAILED" in section and "new)" in section, (model, audit, section)
    assert f"claims_{DAY.isoformat()}.csv: 2,000 raw rows = 20.0x the usual 100" in report
    assert f"company_ein {hot}:" in report.split(FILE, 1)[1].split("claim_id repeated")[0]
    assert "claim_id repeated:" in report

    # ---- table_diff and the load accounting point at the file and the keys
    diff = _flat(
        project.sqlmesh("table_diff", f"prod:{ENV}", "marts.fct_load_accounting", "--show-sample")
    )
    assert "INCIDENT ONLY: 1 rows" in diff and FILE in diff.split("INCIDENT ONLY sample rows")[1]
    assert "PROD ONLY" not in diff, diff
    companies_diff = _flat(
        project.sqlmesh("table_diff", f"prod:{ENV}", "marts.dim_companies", "--show-sample")
    )
    assert "email_domains" in companies_diff and domain in companies_diff, companies_diff
    # the environment's accounting of the file, every count, equals the independent one
    columns = ", ".join(f'"{c}"' for c in counts)
    (accounting,) = project.query(
        f"SELECT {columns} FROM marts__{ENV}.fct_load_accounting WHERE source_file = '{FILE}'"
    )
    assert dict(zip(counts, accounting, strict=True)) == counts
    staged_by_company = Counter(row["company_ein"] for row in staged)
    top = project.query(
        f"SELECT company_ein, COUNT(*) FROM staging__{ENV}.stg_claims WHERE _source_file = "
        f"'{FILE}' GROUP BY 1 ORDER BY 2 DESC LIMIT 1"
    )
    assert top == [(hot, staged_by_company[hot])] and top[0][1] > 0.5 * counts["staged_rows"]
    assert not project.query(
        f"SELECT 1 FROM marts.fct_load_accounting WHERE source_file = '{FILE}'"
    )

    explained = _run(
        project,
        "benefits-mesh",
        "explain",
        "intermediate.int_claims_current",
        "--env",
        ENV,
        "--project",
        str(PROJECT),
    )
    assert explained.returncode == 0, _flat(explained)
    assert f"in {ENV} for {DAY.isoformat()}" in explained.stdout
    assert "Total Time" in explained.stdout and "TABLE_SCAN" in explained.stdout
    assert _prod_fingerprint(project) == before


def test_a_repeated_ein_in_the_lookup_is_refused_by_the_loader(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "reference").mkdir(parents=True)
    lookup = [
        {"ein": "12-3456789", "company_name": "A", "domains": ["a.com"]},
        {"ein": "98-7654321", "company_name": "B", "domains": ["b.com"]},
    ]
    (root / "reference" / "company_lookup.json").write_text(json.dumps(lookup))
    change = repeat_lookup_key(root, "ein")
    assert "listed twice" in change["lookup_change"]
    with pytest.raises(LandingFileError, match=r"company #3: EIN '12-3456789' repeats company #1"):
        company_lookup_rows(root)
    shutil.copyfile(change["lookup_backup"], root / "reference" / "company_lookup.json")
    assert len(company_lookup_rows(root)) == 2
