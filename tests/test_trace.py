"""`benefits-mesh trace` (issue 21) on a generated landing root through a real plan.

For every spike row of marts.fct_claims_cost_spikes the traced amounts of each window re-add
exactly (Decimal) to the mart row, and every (source_file, row_number) is the line of the landing
file holding that claim_id and amount (read here with Python's csv module, header excluded).
For a claims file with duplicates or quarantined rows, the load-accounting trace lists exactly
the file's non-staged records, with their raw values. For every gap row of marts.fct_plan_gaps the
two islands' plans re-make the gap (before: latest end + 1 = gap_start; after: earliest start
- 1 = gap_end) and carry their current version's line of landing/plans; for every row of
marts.fct_employee_roster_mismatches the employee records number observed_headcount, each the
line of landing/employees holding that person, and the lookup entry is the company's object in
reference/company_lookup.json. Bad keys are one-line errors (exit 1).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
import reference

from benefits_mesh.generate import generate


def _records(path: Path) -> list[dict]:
    """Data records of a landing file by 1-based number (header excluded; DuckDB skips
    completely empty lines, so they are not counted), as {column: raw value}."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        records = [rec for rec in csv.reader(handle) if rec != []]
    header = [name.strip().lower() for name in records[0]]
    return [dict(zip(header, rec, strict=True)) for rec in records[1:]]


def _csv(stdout: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(stdout)))


def _trace(planned, mart: str, keys: dict, *options: str):
    """`benefits-mesh trace MART --key K=V …` with ``options``; asserts it succeeded."""
    args = [arg for key, value in keys.items() for arg in ("--key", f"{key}={value}")]
    result = planned.cli("trace", mart, *args, *options)
    assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def planned(tmp_path_factory):
    from conftest import Project

    tmp = tmp_path_factory.mktemp("trace")
    root = tmp / "root"
    (root / "reference").mkdir(parents=True)
    generate(
        out_dir=root,
        start=dt.date(2026, 3, 2),
        days=30,
        companies=5,
        employees=200,
        claims_per_day=120,
        seed=20260302,
        dirt_rate=0.02,
        history_days=200,
        progress=False,
    )
    project = Project(root=root, warehouse=tmp / "wh" / "warehouse.duckdb")
    claims_files = sorted((root / "landing" / "claims").iterdir())
    dates = [dt.date.fromisoformat(p.stem.split("_")[1]) for p in claims_files]
    for path in claims_files:
        for row in reference.read_delivery(path, "claims"):
            parsed = reference.parse_date(row["service_date"])
            if parsed is not None:
                dates.append(parsed)
    project.start = min(dates).isoformat()
    project.plan()
    return project


def test_every_spike_traces_to_its_lines_and_re_adds_exactly(planned):
    spikes = planned.query(
        "SELECT company_ein, window_end, current_90d_cost, prior_90d_cost "
        "FROM marts.fct_claims_cost_spikes ORDER BY ALL"
    )
    assert spikes, "the generated root must have spikes"
    files: dict[str, list[dict]] = {}
    for ein, window_end, current, prior in spikes:
        result = planned.cli(
            "trace",
            "fct_claims_cost_spikes",
            "--key",
            f"company_ein={ein}",
            "--key",
            f"window_end={window_end}",
            "--format",
            "csv",
        )
        assert result.returncode == 0, result.stderr
        rows = _csv(result.stdout)
        sums = {"current": Decimal("0"), "prior": Decimal("0")}
        for row in rows:
            sums[row["window"]] += Decimal(row["amount"])
            service = dt.date.fromisoformat(row["service_date"])
            days_back = (window_end - service).days
            assert 0 <= days_back <= 179
            assert row["window"] == ("current" if days_back <= 89 else "prior")
            name = row["source_file"]
            if name not in files:
                files[name] = _records(planned.root / "landing" / "claims" / name)
            raw = files[name][int(row["row_number"]) - 1]
            assert reference.text(raw["claim_id"]) == row["claim_id"], (name, row)
            assert reference.round_cents(reference.parse_amount(raw["amount"])) == Decimal(
                row["amount"]
            ), (name, row)
        assert sums == {"current": current, "prior": prior}, (ein, window_end)
        # one row per claim and spike row
        assert len({row["claim_id"] for row in rows}) == len(rows)

    # the table format prints the totals, equal to the mart row
    ein, window_end, current, prior = spikes[0]
    table = planned.cli(
        "trace",
        "fct_claims_cost_spikes",
        "--key",
        f"company_ein={ein}",
        "--key",
        f"window_end={window_end}",
    )
    assert table.returncode == 0, table.stderr
    assert f"current window: sum of amount: {current} = {current}  ok" in table.stdout
    assert f"prior window: sum of amount: {prior} = {prior}  ok" in table.stdout
    assert "MISMATCH" not in table.stdout


def test_load_accounting_trace_lists_the_files_rejected_lines(planned, tmp_path):
    (name, duplicates, quarantined) = planned.query(
        "SELECT source_file, duplicate_rows, quarantined_rows FROM marts.fct_load_accounting "
        "WHERE source = 'claims' AND duplicate_rows > 0 AND quarantined_rows > 0 "
        "ORDER BY source_file LIMIT 1"
    )[0]
    out = tmp_path / "trace.csv"
    result = planned.cli(
        "trace",
        "fct_load_accounting",
        "--key",
        f"source_file={name}",
        "--format",
        "csv",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    rows = _csv(out.read_text())
    assert sum(row["row_status"] == "duplicate" for row in rows) == duplicates
    assert sum(row["row_status"] == "quarantined" for row in rows) == quarantined
    records = _records(planned.root / "landing" / "claims" / name)
    columns = ("claim_id", "person_id", "company_ein", "claim_type", "service_date", "amount")
    for row in rows:
        raw = records[int(row["row_number"]) - 1]
        # DuckDB reads an empty field as NULL, rendered `col=`
        assert row["raw_values"] == "; ".join(f"{c}={raw[c]}" for c in columns), row
        assert (row["reject_reason"] == "") == (row["row_status"] == "duplicate")

    table = planned.cli("trace", "fct_load_accounting", "--key", f"source_file={name}")
    assert table.returncode == 0, table.stderr
    assert f"duplicate rows: {duplicates} = {duplicates}  ok" in table.stdout
    assert "MISMATCH" not in table.stdout


def test_every_plan_gap_traces_to_its_islands_plans_and_lines(planned):
    gaps = planned.query(
        "SELECT company_ein, plan_type, gap_start, gap_end, carrier_before, carrier_after "
        "FROM marts.fct_plan_gaps ORDER BY ALL"
    )
    assert gaps, "the generated root must have plan gaps"
    files: dict[str, list[dict]] = {}
    open_ended_after = 0
    for ein, plan_type, gap_start, gap_end, carrier_before, carrier_after in gaps:
        keys = {"company_ein": ein, "plan_type": plan_type, "gap_start": gap_start}
        rows = _csv(_trace(planned, "fct_plan_gaps", keys, "--format", "csv").stdout)
        before = [row for row in rows if row["side"] == "before"]
        after = [row for row in rows if row["side"] == "after"]
        assert before and after and len(before) + len(after) == len(rows), (ein, gap_start)
        assert {row["gap_end"] for row in rows} == {gap_end.isoformat()}
        # the before island ends the day before the gap; no plan of it reaches into the gap
        assert all(row["end_date"] for row in before), "an open-ended island has no gap after it"
        ends = [dt.date.fromisoformat(row["end_date"]) for row in before]
        assert max(ends) + dt.timedelta(days=1) == gap_start, (ein, plan_type, gap_start)
        starts = [dt.date.fromisoformat(row["start_date"]) for row in after]
        assert min(starts) - dt.timedelta(days=1) == gap_end, (ein, plan_type, gap_start)
        for side in (before, after):
            assert len({row["plan_id"] for row in side}) == len(side)
            assert {int(row["island_plan_count"]) for row in side} == {len(side)}
        open_ended_after += any(row["island_end"] == "" for row in after)
        # the mart's carriers are those of the edge plans (tie-breaks: the table format's totals)
        assert (carrier_before or "") in {row["carrier_name"] for row in before}
        assert (carrier_after or "") in {row["carrier_name"] for row in after}
        for row in rows:
            name = row["source_file"]
            if name not in files:
                files[name] = _records(planned.root / "landing" / "plans" / name)
            raw = files[name][int(row["row_number"]) - 1]
            assert reference.text(raw["plan_id"]) == row["plan_id"], (name, row)
            assert reference.parse_ein(raw["company_ein"]) == ein, (name, row)
            assert reference.parse_enum(raw["plan_type"]) == plan_type, (name, row)
            assert reference.parse_date(raw["start_date"]).isoformat() == row["start_date"]
            end = reference.parse_date(raw["end_date"]) if raw["end_date"] else None
            assert (end.isoformat() if end else "") == row["end_date"], (name, row)
            assert reference.carrier(raw["carrier_name"] or None) == (
                row["carrier_name"] or None
            ), (name, row)
            assert row["delivery_date"] == name.removesuffix(".csv").split("_")[1]

    # the generated root (fixed seed) has a gap at the start of an open-ended island
    assert open_ended_after > 0
    # the table format prints the totals, equal to the mart row
    ein, plan_type, gap_start, gap_end, carrier_before, _ = gaps[0]
    keys = {"company_ein": ein, "plan_type": plan_type, "gap_start": gap_start}
    table = _trace(planned, "fct_plan_gaps", keys)
    assert f"before island: latest end_date + 1 day: {gap_start} = {gap_start}  ok" in table.stdout
    assert f"after island: earliest start_date - 1 day: {gap_end} = {gap_end}  ok" in table.stdout
    assert "before island: plans:" in table.stdout
    assert "MISMATCH" not in table.stdout, table.stdout


def test_every_roster_row_traces_to_its_counted_records_and_lookup_entry(planned):
    roster = planned.query(
        "SELECT company_ein, expected_headcount, observed_headcount "
        "FROM marts.fct_employee_roster_mismatches ORDER BY ALL"
    )
    assert roster
    lookup = json.loads(
        (planned.root / "reference" / "company_lookup.json").read_text(encoding="utf-8-sig")
    )
    files: dict[str, list[dict]] = {}
    sources = set()
    for ein, expected, observed in roster:
        keys = {"company_ein": ein}
        rows = _csv(
            _trace(planned, "fct_employee_roster_mismatches", keys, "--format", "csv").stdout
        )
        employees = [row for row in rows if row["record_kind"] == "employee"]
        entries = [row for row in rows if row["record_kind"] == "lookup"]
        assert len(employees) == observed, ein
        assert len({row["person_id"] for row in employees}) == observed, ein
        assert len(employees) + len(entries) == len(rows)
        in_lookup = [c for c in lookup if (reference.parse_ein(c["ein"]) or c["ein"]) == ein]
        assert len(entries) == (1 if in_lookup else 0), ein
        for entry in entries:
            assert entry["source_file"] == "reference/company_lookup.json"
            company = lookup[int(entry["row_number"]) - 1]
            assert (reference.parse_ein(company["ein"]) or company["ein"]) == ein
            value = company.get("expected_headcount")
            assert entry["lookup_headcount"] == ("" if value is None else str(value))
            assert value == expected, ein
        for row in employees:
            sources.add(row["ein_source"])
            name = row["source_file"]
            if name not in files:
                files[name] = _records(planned.root / "landing" / "employees" / name)
            raw = files[name][int(row["row_number"]) - 1]
            assert reference.text(raw["person_id"]) == row["person_id"], (name, row)
            if row["ein_source"] == "column":
                assert reference.parse_ein(raw["company_ein"]) == ein, (name, row)
            else:
                assert reference.parse_ein(raw["company_ein"]) is None, (name, row)
            if row["ein_source"] == "email_domain":
                domain = raw["email"].strip().lower().split("@", 1)[1]
                assert reference.domain_owners(lookup)[domain] == ein, (name, row)
    # the generated root (fixed seed) resolves counted records by every rule
    assert sources == {"column", "notes", "email_domain"}

    ein, expected, observed = next(r for r in roster if r[1] is not None and r[2] > 0)
    table = _trace(planned, "fct_employee_roster_mismatches", {"company_ein": ein})
    assert f"employee records (observed_headcount): {observed} = {observed}  ok" in table.stdout
    assert f"expected_headcount): {expected} = {expected}  ok" in table.stdout
    assert "MISMATCH" not in table.stdout, table.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            [
                "fct_claims_cost_spikes",
                "--key",
                "company_ein=00-0000000",
                "--key",
                "window_end=2026-03-01",
            ],
            "no row of marts.fct_claims_cost_spikes has company_ein=00-0000000, "
            "window_end=2026-03-01",
        ),
        (
            ["fct_claims_cost_spikes", "--key", "claim_id=X", "--key", "window_end=2026-03-01"],
            "'claim_id' is not a key of marts.fct_claims_cost_spikes",
        ),
        (
            ["fct_claims_cost_spikes", "--key", "company_ein=00-0000000"],
            "missing --key for window_end",
        ),
        (
            ["fct_claims_cost_spikes", "--key", "company_ein=1", "--key", "window_end=soon"],
            "window_end='soon' is not a date",
        ),
        (
            ["fct_load_accounting", "--key", "source_file=claims_1999-01-01.csv"],
            "no row of marts.fct_load_accounting has source_file=claims_1999-01-01.csv",
        ),
        (
            [
                "fct_plan_gaps",
                "--key",
                "company_ein=1",
                "--key",
                "plan_type=medical",
                "--key",
                "gap_start=soon",
            ],
            "gap_start='soon' is not a date",
        ),
        (
            ["fct_plan_gaps", "--key", "company_ein=1", "--key", "gap_start=2026-03-01"],
            "missing --key for plan_type",
        ),
        (
            ["fct_employee_roster_mismatches", "--key", "company_ein=00-0000000"],
            "no row of marts.fct_employee_roster_mismatches has company_ein=00-0000000",
        ),
        (["dim_companies", "--key", "company_ein=1"], "cannot be traced"),
    ],
)
def test_bad_key_is_one_line_error(planned, args, message):
    result = planned.cli("trace", *args)
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("benefits-mesh: trace"), result.stderr
    assert message in lines[0]
