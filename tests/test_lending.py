"""SPEC §5, the savings-account summary (issue 18): the lending files through a real
`sqlmesh plan` against an independent plain-Python reference (below), compared to the cent with
Decimals; a root without lending files; the generator's lending snapshot.

The lending sources run through the shared classifier (benefits_mesh/contract.py); the staged
rows, the quarantine, the load accounting and the mart are compared with the reference.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import shutil
from collections import Counter
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

from conftest import PROJECT, Project

from benefits_mesh.generate import LENDING_KINDS, generate

#: Only the lending models (tag lending) are built by these plans.
SELECT = ("--select-model", "tag:lending")
REASONS = {
    "customers": ("missing_customer_id", "invalid_has_loan"),
    "accounts": (
        "missing_account_id",
        "missing_customer_id",
        "unknown_account_type",
        "missing_balance",
        "invalid_balance",
        "negative_balance",
        "unknown_customer",
    ),
}
CENT = Decimal("0.01")


# ---------------------------------------------------------------------------------------------
# the reference: SPEC §1 file reading and SPEC §5 rules, written from the SPEC without SQL

WS = "[\t\n\f\r ]"  # RE2's \s, which the SQL uses


def _blank_as_none(value: str | None) -> str | None:
    return None if value is None or re.fullmatch(f"{WS}*", value) else value


def _trimmed(value: str | None) -> str | None:
    value = re.sub(f"^{WS}+|{WS}+$", "", value or "")
    return value or None


def _text(value: str | None) -> str | None:
    return _trimmed(re.sub(f"{WS}+", " ", value or ""))


def read_lending(path: Path, columns: tuple[str, ...]) -> list[dict[str, str]]:
    """Data records of a lending file keyed by contract column (header trimmed, any case)."""
    text = path.read_bytes().decode("utf-8").removeprefix("\ufeff")
    records = [r for r in csv.reader(io.StringIO(text, newline=""), strict=True) if r]
    header = [name.strip().lower() for name in records[0]]
    return [{c: row[header.index(c)] for c in columns} for row in records[1:]]


def _classify(rows: list[dict[str, str]], key: str, judge) -> list[tuple[dict, str | None]]:
    """SPEC §2's order of work: exact copies collapse (first kept), rows sharing a non-NULL
    trimmed key all conflict, else the first failing rule. Returns (row, reason) per kept row."""
    seen, kept = set(), []
    for row in rows:
        raw = tuple(_blank_as_none(v) for v in row.values())
        if raw not in seen:
            seen.add(raw)
            kept.append(row)
    keys = Counter(_trimmed(row[key]) for row in kept)
    return [
        (
            row,
            "conflicting_duplicate"
            if _trimmed(row[key]) and keys[_trimmed(row[key])] > 1
            else judge(row),
        )
        for row in kept
    ]


HAS_LOAN = {"yes": "Yes", "y": "Yes", "true": "Yes", "no": "No", "n": "No", "false": "No"}
HAS_LOAN |= {"none": "None", None: "None"}


def _customer_reason(row: dict) -> str | None:
    if _trimmed(row["customerid"]) is None:
        return "missing_customer_id"
    code = _trimmed(row["hasloan"])
    return None if (code.lower() if code else None) in HAS_LOAN else "invalid_has_loan"


def parse_balance(raw: str | None) -> tuple[str | None, Decimal | None]:
    """(reason or None, staged balance) per SPEC §2 amounts, no upper bound but DECIMAL(18,2)."""
    text = _text(raw)
    if text is None:
        return "missing_balance", None
    text = text.replace(",", "")
    if not re.fullmatch(r"[-$]?[0-9]+(\.[0-9]+)?", text):
        return "invalid_balance", None
    try:
        exact = Decimal(text.removeprefix("$"))
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
        return "invalid_balance", None
    magnitude = abs(exact).quantize(CENT, rounding=ROUND_HALF_UP)
    if magnitude >= Decimal("1E16"):
        return "invalid_balance", None  # does not fit DECIMAL(18,2)
    if exact < 0:
        return "negative_balance", None
    return None, magnitude


def reference(root: Path) -> dict:
    """Staged customers and accounts, reasons per file, and the expected account_summary."""
    folder = root / "landing" / "lending"
    customers = read_lending(folder / "customers.csv", ("customerid", "name", "hasloan"))
    accounts = read_lending(
        folder / "accounts.csv", ("accountid", "customerid", "balance", "accounttype")
    )
    judged_customers = _classify(customers, "customerid", _customer_reason)
    staged_customers = {
        _trimmed(row["customerid"]): (
            _text(row["name"]),
            HAS_LOAN[(_trimmed(row["hasloan"]) or "").lower() or None],
        )
        for row, reason in judged_customers
        if reason is None
    }

    def account_reason(row: dict) -> str | None:
        if _trimmed(row["accountid"]) is None:
            return "missing_account_id"
        if _trimmed(row["customerid"]) is None:
            return "missing_customer_id"
        if (_text(row["accounttype"]) or "").lower() not in ("savings", "checking"):
            return "unknown_account_type"
        reason, _ = parse_balance(row["balance"])
        if reason:
            return reason
        if _trimmed(row["customerid"]) not in staged_customers:
            return "unknown_customer"
        return None

    judged_accounts = _classify(accounts, "accountid", account_reason)
    staged_accounts = {
        _trimmed(row["accountid"]): (
            _trimmed(row["customerid"]),
            parse_balance(row["balance"])[1],
            _text(row["accounttype"]).lower().capitalize(),
        )
        for row, reason in judged_accounts
        if reason is None
    }
    summary = []
    for account_id, (customer_id, balance, kind) in staged_accounts.items():
        if kind != "Savings":
            continue
        rate = (
            Decimal("0.01")
            if balance < 10000
            else Decimal("0.015")
            if balance < 20000
            else Decimal("0.02")
        )
        rate += Decimal("0.005") if staged_customers[customer_id][1] == "Yes" else 0
        interest = (balance * rate).quantize(CENT, rounding=ROUND_HALF_UP)  # ties away from 0
        summary.append((customer_id, account_id, balance, rate, interest, balance + interest))
    return {
        "customers": sorted((k, *v) for k, v in staged_customers.items()),
        "accounts": sorted((k, *v) for k, v in staged_accounts.items()),
        "summary": sorted(summary, key=lambda r: r[1]),
        "reasons": {
            "customers": Counter(r for _, r in judged_customers if r),
            "accounts": Counter(r for _, r in judged_accounts if r),
        },
        "raw_rows": {"customers": len(customers), "accounts": len(accounts)},
        "kept_rows": {"customers": len(judged_customers), "accounts": len(judged_accounts)},
    }


def warehouse_rows(project: Project) -> dict:
    """The three lending relations as the reference shapes them (Decimals kept exact)."""
    summary = project.query(
        "SELECT customer_id, account_id, original_balance, interest_rate, annual_interest, "
        "new_balance FROM marts.account_summary ORDER BY account_id"
    )
    types = project.query(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = "
        "'marts' AND table_name = 'account_summary' ORDER BY ordinal_position"
    )
    assert types == [
        ("customer_id", "VARCHAR"),
        ("account_id", "VARCHAR"),
        ("original_balance", "DECIMAL(18,2)"),
        ("interest_rate", "DECIMAL(6,4)"),
        ("annual_interest", "DECIMAL(18,2)"),
        ("new_balance", "DECIMAL(18,2)"),
    ]
    return {
        "customers": sorted(
            project.query("SELECT customer_id, name, has_loan FROM staging.stg_lending_customers")
        ),
        "accounts": sorted(
            project.query(
                "SELECT account_id, customer_id, balance, account_type "
                "FROM staging.stg_lending_accounts"
            )
        ),
        "summary": summary,
    }


def assert_load_accounting(project: Project, expected: dict) -> None:
    """Each snapshot's row in the load accounting and its quarantine against the reference:
    raw = staged + duplicate + quarantined, one count per reason, nothing lost."""
    from benefits_mesh.contract import all_reasons

    reasons = all_reasons()
    for name, file in (("customers", "customers.csv"), ("accounts", "accounts.csv")):
        rows = project.query(
            "SELECT source, source_file, raw_rows, staged_rows, duplicate_rows, "
            f"quarantined_rows, {', '.join(reasons)} "
            f"FROM intermediate.int_lending_{name}__load_accounting"
        )
        assert len(rows) == 1, (name, rows)
        source, source_file, raw, staged, duplicate, quarantined, *counts = rows[0]
        kept = expected["kept_rows"][name]
        assert (source, source_file) == (f"lending_{name}", file)
        assert raw == expected["raw_rows"][name]
        assert staged == len(expected[name])
        assert duplicate == raw - kept
        assert quarantined == kept - staged
        by_reason = {reason: n for reason, n in zip(reasons, counts, strict=True) if n}
        assert by_reason == dict(expected["reasons"][name]), name
        held = project.query(
            f"SELECT _reject_reason, COUNT(*) FROM staging.stg_lending_{name}__quarantine "
            "GROUP BY ALL"
        )
        assert dict(held) == dict(expected["reasons"][name]), name


def assert_matches_reference(project: Project) -> dict:
    expected = reference(project.root)
    actual = warehouse_rows(project)
    for name in ("customers", "accounts", "summary"):
        assert actual[name] == expected[name], name
    assert_load_accounting(project, expected)
    # to the cent, not merely equal as numbers: every amount is a 2-decimal Decimal
    for row in actual["summary"]:
        assert all(v.as_tuple().exponent == -2 for v in (row[2], row[4], row[5])), row
        assert row[3].as_tuple().exponent == -4, row
    return expected


# ---------------------------------------------------------------------------------------------
# the bundled sample, and a root without lending files


def _bare_root(tmp_path: Path) -> Project:
    root = tmp_path / "root"
    (root / "reference").mkdir(parents=True)
    shutil.copy(PROJECT / "data" / "reference" / "company_lookup.json", root / "reference")
    (root / "landing").mkdir()
    return Project(root=root, warehouse=tmp_path / "wh" / "warehouse.duckdb")


def test_root_without_lending_then_the_bundled_sample(tmp_path: Path) -> None:
    """No landing/lending/: an empty summary and one warning saying so. Then the bundled sample
    lands (full snapshots are re-read whenever the models run; here a restatement): every rule
    of SPEC §5 is hit and the models equal the reference to the cent."""
    project = _bare_root(tmp_path)
    result = project.plan(*SELECT)
    out = result.stdout + result.stderr
    assert project.query("SELECT COUNT(*) FROM marts.account_summary") == [(0,)]
    assert project.query("SELECT COUNT(*) FROM staging.stg_lending_accounts") == [(0,)]
    flat = " ".join(out.split())
    assert flat.count("[WARNING] lending: no ") == 1, out[-3000:]
    assert "folder, so marts.account_summary is empty" in flat, out[-3000:]

    shutil.copytree(PROJECT / "data" / "landing" / "lending", project.root / "landing" / "lending")
    late = project.cli("late-files")
    assert "pending  lending/customers.csv: a full snapshot: the next run reads it" in late.stdout
    result = project.plan("--restate-model", "tag:lending", *SELECT)
    assert "[WARNING] lending" not in result.stdout + result.stderr
    expected = assert_matches_reference(project)
    assert "lending/" not in project.cli("late-files").stdout  # both loaded

    # the sample is small and hits every rule and variant at least once
    for name, reasons in REASONS.items():
        assert set(expected["reasons"][name]) == {"conflicting_duplicate", *reasons}, name
    assert expected["raw_rows"] == {"customers": 17, "accounts": 28}
    assert expected["kept_rows"]["customers"] < 17 and expected["kept_rows"]["accounts"] < 28
    customers = read_lending(
        project.root / "landing" / "lending" / "customers.csv", ("customerid", "name", "hasloan")
    )
    spellings = {(r["hasloan"].strip().lower() or None) for r in customers}
    assert {"yes", "y", "true", "no", "n", "false", "none", None} <= spellings
    has_loan = dict(
        project.query("SELECT customer_id, has_loan FROM staging.stg_lending_customers")
    )
    assert has_loan == {
        "C001": "Yes",  # Yes
        "C002": "No",  # no
        "C003": "Yes",  # y (key " C003 " trimmed)
        "C004": "Yes",  # TRUE
        "C005": "No",  # N
        "C006": "No",  # false
        "C007": "None",  # None
        "C008": "None",  # empty
        "C009": "None",  # "  NONE  "
        "C011": "No",  # an exact duplicate collapsed
        "C013": "Yes",  # Y
        "C014": "None",  # whitespace only
    }
    summary = {row[1]: row for row in expected["summary"]}
    assert set(summary) == {f"A{n:03d}" for n in (1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 12, 13, 22, 25)}
    assert summary["A007"][4] == Decimal("0.05")  # 4.50 x 0.01 = 0.045: tie away from zero
    assert summary["A010"][4] == Decimal("12.35")  # $1,234.50 x 0.01 = 12.345
    assert summary["A025"][4] == Decimal("500.01")  # 20,000.20 x 0.025 = 500.005
    assert summary["A013"][2] == Decimal("1.01")  # balance 1.005 rounds half-up


# ---------------------------------------------------------------------------------------------
# generated roots


GENERATED = dict(start=dt.date(2026, 3, 2), days=1, companies=3, employees=40, claims_per_day=20)


def test_generated_lending_root_matches_reference(tmp_path: Path) -> None:
    project = _bare_root(tmp_path)
    summary = generate(
        project.root, seed=18, dirt_rate=0.05, progress=False, lending_customers=80, **GENERATED
    )
    project.plan(*SELECT)
    expected = assert_matches_reference(project)
    for name, reasons in REASONS.items():
        assert set(expected["reasons"][name]) == {"conflicting_duplicate", *reasons}, name
    assert expected["raw_rows"] == summary["lending"]["rows"]
    assert len(expected["summary"]) > 50
    # ties, tier boundaries and three-decimal balances reached the mart
    assert any(abs(r[2] * r[3] - r[4]) == Decimal("0.005") for r in expected["summary"])
    balances = {r[2] for r in expected["summary"]} | {r[2] for r in expected["accounts"]}
    assert {
        Decimal("9999.99"),
        Decimal("10000.00"),
        Decimal("19999.99"),
        Decimal("20000.00"),
    } & balances


def _snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "generator.json"
    }


def test_generator_lending_is_optional_deterministic_and_dirty(tmp_path: Path) -> None:
    plain = generate(tmp_path / "plain", seed=5, dirt_rate=0.05, progress=False, **GENERATED)
    one = generate(
        tmp_path / "one", seed=5, dirt_rate=0.05, progress=False, lending_customers=30, **GENERATED
    )
    two = generate(
        tmp_path / "two", seed=5, dirt_rate=0.05, progress=False, lending_customers=30, **GENERATED
    )
    generate(
        tmp_path / "other",
        seed=6,
        dirt_rate=0.05,
        progress=False,
        lending_customers=30,
        **GENERATED,
    )
    # off by default: no lending folder, no summary key, no parameter in generator.json
    assert not (tmp_path / "plain" / "landing" / "lending").exists()
    assert "lending" not in plain
    assert "lending_customers" not in (tmp_path / "plain" / "generator.json").read_text()
    # the other sources are the same bytes with or without lending
    lending = {"landing/lending/customers.csv", "landing/lending/accounts.csv"}
    assert set(_snapshot(tmp_path / "one")) - set(_snapshot(tmp_path / "plain")) == lending
    assert {k: v for k, v in _snapshot(tmp_path / "one").items() if k not in lending} == _snapshot(
        tmp_path / "plain"
    )
    unchanged = ("lending", "files_written", "out_dir")
    assert {k: v for k, v in plain.items() if k not in unchanged} == {
        k: v for k, v in one.items() if k not in unchanged
    }
    assert one["files_written"] == plain["files_written"] + 2
    # deterministic per seed
    assert _snapshot(tmp_path / "one") == _snapshot(tmp_path / "two")
    assert one == {**two, "out_dir": one["out_dir"]}
    assert (
        _snapshot(tmp_path / "one")["landing/lending/accounts.csv"]
        != _snapshot(tmp_path / "other")["landing/lending/accounts.csv"]
    )
    # every kind at least once, counted under its name
    assert set(one["lending"]["dirt"]) == set(LENDING_KINDS)
    assert [kind for kind, count in one["lending"]["dirt"].items() if not count] == []
    # regenerating without lending removes the generated snapshot (the root matches the run)
    generate(tmp_path / "one", seed=5, dirt_rate=0.05, progress=False, **GENERATED)
    assert not (tmp_path / "one" / "landing" / "lending" / "customers.csv").exists()


def test_a_clean_lending_snapshot_rejects_nothing(tmp_path: Path) -> None:
    summary = generate(
        tmp_path, seed=3, dirt_rate=0.0, progress=False, lending_customers=40, **GENERATED
    )
    expected = reference(tmp_path)
    assert expected["reasons"] == {"customers": Counter(), "accounts": Counter()}
    assert len(expected["customers"]) == 40 == summary["lending"]["rows"]["customers"]
    assert (
        summary["lending"]["dirt"]["tier_boundary"] and summary["lending"]["dirt"]["half_cent_tie"]
    )
    for kind in ("bom", "crlf", "missing_customer_id", "invalid_balance", "balance_dollar"):
        assert summary["lending"]["dirt"][kind] == 0, kind


def test_a_replaced_snapshot_is_reported_until_read_again(tmp_path: Path) -> None:
    """Each delivery replaces the snapshot. A FULL model is rebuilt by the first run of a day, so
    a snapshot replaced after that is reported as changed (late-files exit 1, with the one
    command that reads it now); that command makes the warehouse equal the new file."""
    project = _bare_root(tmp_path)
    shutil.copytree(PROJECT / "data" / "landing" / "lending", project.root / "landing" / "lending")
    project.plan(*SELECT)
    assert_matches_reference(project)
    accounts = project.root / "landing" / "lending" / "accounts.csv"
    text = accounts.read_bytes().decode("utf-8-sig")
    newline = "\r\n" if "\r\n" in text else "\n"
    header = [c.strip().lower() for c in text.splitlines()[0].split(",")]
    values = {"accountid": "A900", "customerid": "C001", "balance": '"$12,345.67"'}
    values["accounttype"] = "savings"
    row = ",".join(values.get(column, "") for column in header)
    accounts.write_bytes(accounts.read_bytes() + (row + newline).encode())

    late = project.cli("late-files")
    assert late.returncode == 1, late.stdout + late.stderr
    line = next(x for x in late.stdout.splitlines() if "lending/accounts.csv" in x)
    assert line.startswith("changed  lending/accounts.csv: changed after it was read"), line
    assert "sqlmesh plan --restate-model 'tag:lending' --auto-apply --no-prompts" in line
    assert "A900" not in dict(project.query("SELECT account_id, 1 FROM marts.account_summary"))

    project.plan("--restate-model", "tag:lending", *SELECT)
    expected = assert_matches_reference(project)
    assert "A900" in {row[1] for row in expected["summary"]}
    assert "lending/" not in project.cli("late-files").stdout
