"""The per-source classification descriptions (benefits_mesh/contract.py) and their one renderer
(macros/classification.py).

- each ``@classify_<src>()`` stores only its own description in the model (SQLMesh serialises a
  macro's globals by value): a rule change of one source changes only that model's fingerprint;
  every cleaning macro is stored with it, so a run that renders from stored models has them;
- every macro of macros/cleaning.py can be called from a description;
- SPEC §5's lending descriptions (header ``CustomerID`` vs column ``customer_id``, a mapped code
  ``HasLoan`` → Yes/No/None, an enum output capitalised, the referential rule
  ``unknown_customer``: a sub-query against the staged customers) rendered alone and run on
  DuckDB;
- a description that reads an unknown name, a later value or an unknown macro is refused.

The five models themselves are covered by their YAML tests (tests/*.yaml).
"""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import pytest
from sqlmesh.core import constants
from sqlmesh.core.macros import MacroEvaluator
from sqlmesh.utils.metaprogramming import build_env

from benefits_mesh import contract

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))  # the project's macros/ folder, as SQLMesh's loader sees it

from macros import classification, cleaning  # noqa: E402

DESCRIPTIONS = {
    "employees": "EMPLOYEES",
    "plans": "PLANS",
    "claims": "CLAIMS",
    "lending_customers": "LENDING_CUSTOMERS",
    "lending_accounts": "LENDING_ACCOUNTS",
}


@pytest.mark.parametrize("source", sorted(DESCRIPTIONS))
def test_each_model_stores_only_its_own_description(source: str) -> None:
    entry = getattr(classification, f"classify_{source}")
    env: dict = {}
    build_env(entry, env=env, name=f"classify_{source}", path=PROJECT)
    stored = {name for name in DESCRIPTIONS.values() if name in env}
    assert stored == {DESCRIPTIONS[source]}
    assert env[DESCRIPTIONS[source]][0] == contract.CLASSIFICATION[source]
    assert set(classification.cleaning_macros()) <= set(env)


def test_every_cleaning_macro_can_be_called_from_a_description() -> None:
    defined = {
        name
        for name, value in vars(cleaning).items()
        if getattr(value, constants.SQLMESH_MACRO, False)
    }
    assert defined <= set(classification.cleaning_macros())


def test_derived_tables_match_the_descriptions() -> None:
    for source, description in contract.CLASSIFICATION.items():
        assert contract.REJECT_REASONS[source] == tuple(r for r, _ in description["rules"])
        if source in contract.DAILY:
            assert contract.COLUMNS[source] == description["columns"]
            assert contract.KEYS[source] == description["key"]
    assert set(contract.COLUMNS) == set(contract.DAILY) == {"employees", "plans", "claims"}
    assert contract.ACCOUNTED_SOURCES == (*contract.DAILY, *contract.SNAPSHOTS)
    assert contract.snapshot_headers("lending_accounts")[0] == ("accountid", "account_id")


# SPEC §5's lending descriptions rendered alone and run on DuckDB ------------------------------

CUSTOMERS = contract.LENDING_CUSTOMERS
ACCOUNTS = contract.LENDING_ACCOUNTS


def _render(description: dict) -> str:
    evaluator = MacroEvaluator(dialect="duckdb")
    return classification.classification_query(evaluator, description).sql(dialect="duckdb")


def _landed(
    con, table: str, columns: tuple[str, ...], rows: list[tuple], file: str = "lending.csv"
) -> None:
    """The landed records of one delivery file, numbered from 1 (the table made on first use)."""
    names = ", ".join(f"{c} VARCHAR" for c in columns)
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {table} (_source_file VARCHAR, _delivery_date DATE, "
        f"_row_number BIGINT, {names})"
    )
    for number, row in enumerate(rows, start=1):
        con.execute(
            f"INSERT INTO {table} VALUES (?, DATE '2026-03-07', ?, {', '.join('?' * len(row))})",
            [file, number, *row],
        )


def _classify(con, description: dict) -> dict[int, tuple]:
    query = _render(description)
    result = con.execute(
        f"SELECT _row_number, _row_status, _reject_reason, * EXCLUDE (_row_number, _row_status, "
        f"_reject_reason) FROM ({query})"
    )
    names = [d[0] for d in result.description]
    return {row[0]: dict(zip(names, row, strict=True)) for row in result.fetchall()}


def test_lending_sources_can_be_described() -> None:
    con = duckdb.connect()
    con.execute("CREATE SCHEMA staging")
    _landed(
        con,
        CUSTOMERS["landed"],
        CUSTOMERS["columns"],
        [
            (" C1 ", "Ann  Lee", "Yes"),  # 1 staged, has_loan Yes
            ("C2", None, " n "),  # 2 staged, No
            ("C3", "Bo", None),  # 3 staged, None
            ("C4", "Cy", "maybe"),  # 4 invalid_has_loan
            ("  ", "Di", "yes"),  # 5 missing_customer_id
            ("C5", "Ed", "TRUE"),  # 6 and 7: distinct rows sharing C5
            ("C5", "Ed", "false"),
            ("C2", None, " n "),  # 8 exact duplicate of 2
        ],
    )
    customers = _classify(con, CUSTOMERS)
    assert {n: (r["_row_status"], r["_reject_reason"]) for n, r in customers.items()} == {
        1: ("staged", None),
        2: ("staged", None),
        3: ("staged", None),
        4: ("quarantined", "invalid_has_loan"),
        5: ("quarantined", "missing_customer_id"),
        6: ("quarantined", "conflicting_duplicate"),
        7: ("quarantined", "conflicting_duplicate"),
        8: ("duplicate", None),
    }
    assert [customers[n]["has_loan"] for n in (1, 2, 3)] == ["Yes", "No", "None"]
    assert (customers[1]["customer_id"], customers[1]["name"]) == ("C1", "Ann Lee")
    assert customers[1]["raw_customer_id"] == " C1 "
    con.execute(
        "CREATE TABLE staging.stg_lending_customers AS SELECT customer_id FROM "
        f"({_render(CUSTOMERS)}) WHERE _row_status = 'staged'"
    )

    _landed(
        con,
        ACCOUNTS["landed"],
        ACCOUNTS["columns"],
        [
            ("A1", "C1", "$1,234.565", " SAVINGS "),  # 1 staged, Savings, 1234.57
            ("A2", "C2", "10", "checking"),  # 2 staged, Checking
            ("A3", "C9", "10", "Savings"),  # 3 unknown_customer (C9 not staged)
            ("A4", "C4", "10", "Savings"),  # 4 unknown_customer (C4 was quarantined)
            ("A5", "C1", "10", "brokerage"),  # 5 unknown_account_type
            ("A6", "C1", "-5", "Savings"),  # 6 negative_balance
            ("A7", "C1", "1e3", "Savings"),  # 7 invalid_balance
            ("A8", "C1", " ", "Savings"),  # 8 missing_balance
            ("A9", None, "10", "Savings"),  # 9 missing_customer_id
        ],
    )
    accounts = _classify(con, ACCOUNTS)
    assert {n: r["_reject_reason"] for n, r in accounts.items()} == {
        1: None,
        2: None,
        3: "unknown_customer",
        4: "unknown_customer",
        5: "unknown_account_type",
        6: "negative_balance",
        7: "invalid_balance",
        8: "missing_balance",
        9: "missing_customer_id",
    }
    assert (accounts[1]["account_type"], str(accounts[1]["balance"])) == ("Savings", "1234.57")
    assert accounts[2]["account_type"] == "Checking"
    assert list(accounts[1])[-3:] == ["_source_file", "_delivery_date", "_loaded_at"]
    assert list(accounts[1])[3:9] == [
        "account_id",
        "customer_id",
        "account_type",
        "raw_account_id",
        "raw_customer_id",
        "raw_balance",
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"values": (("claim_id", "@normalize_text(raw_claim_idd)"),)}, "unknown names"),
        (
            {"values": (("claim_id", "@normalize_text(raw_claim_id)"), ("a", "b"), ("b", "1"))},
            "defined after it",
        ),
        ({"values": (("claim_id", "@trim_it(raw_claim_id)"),)}, "not a cleaning macro"),
        ({"values": (("claim_id", "@normalize_text(raw_claim_id)"),), "key": "x"}, "not a value"),
        ({"rules": (("missing_claim_id", "claimid IS NULL"),)}, "unknown names"),
        ({"output": (("amount_txt", "TEXT"),)}, "neither a value nor raw"),
        ({"headers": {"claimid": "ClaimID"}}, "headers of unknown columns"),
        ({"metadata": ("_row_number",)}, "metadata"),
    ],
)
def test_a_broken_description_is_refused(change: dict, message: str) -> None:
    description = {**contract.CLAIMS, **change}
    if "values" in change:  # keep the rules and outputs to what the reduced values define
        description["rules"] = (("missing_claim_id", "claim_id IS NULL"),)
        description["output"] = (("claim_id", "TEXT"),)
    with pytest.raises(ValueError, match=message):
        _render(description)


def test_a_key_hash_collision_only_costs_work() -> None:
    """The classifier finds the (file, key) pairs delivered more than once by grouping a hash of
    the pair: a collision puts rows of a pair seen once through the duplicate windows too, which
    must classify them as they would otherwise. Forcing every pair onto one hash (all rows
    through the windows) gives the same rows, column for column."""
    claims = contract.CLAIMS
    con = duckdb.connect()
    con.execute("CREATE SCHEMA staging")
    rows = {
        "a.csv": [
            ("C1", "P1", "12-3456789", "medical", "2026-03-01", "10.00"),  # staged
            ("C2", "P2", "12-3456789", "dental", "2026-03-01", "20"),  # 2, 3: exact copies
            ("C2", "P2", "12-3456789", "dental", "2026-03-01", "20"),
            ("C3", "P3", "12-3456789", "vision", "2026-03-01", "5"),  # 4, 5: conflicting
            ("C3", "P3", "12-3456789", "vision", "2026-03-02", "5"),
            (None, "P4", "12-3456789", "vision", "2026-03-01", "5"),  # 6, 7: no key, copies
            (None, "P4", "12-3456789", "vision", "2026-03-01", "5"),
            (" C4", "P5", "bad", "medical", "2026-03-01", "1"),  # invalid EIN
            ("C4", "P5", "12-3456789", "medical", "2026-03-01", "1"),  # same key as 8
            ("C5", "P6", "12-3456789", "medical", " ", "1"),  # 10, 11: copies (blank = NULL)
            ("C5", "P6", "12-3456789", "medical", "", "1"),
        ],
        "b.csv": [
            ("C1", "P1", "12-3456789", "medical", "2026-03-01", "10.00"),  # C1 again: another file
            ("C2", "P2", "12-3456789", "dental", "2026-03-01", "20"),
        ],
    }
    for file, records in rows.items():
        _landed(con, claims["landed"], claims["columns"], records, file)
    query = _render(claims)
    hashes = query.count("HASH(k._source_file, k.claim_id)")
    assert hashes == 3, query  # the aggregate's key (selected, grouped) and the join's
    colliding = query.replace("HASH(k._source_file, k.claim_id)", "LENGTH(k._source_file) * 0")

    def result(sql: str) -> list[tuple]:
        return con.execute(
            f"SELECT * EXCLUDE (_loaded_at) FROM ({sql}) ORDER BY _source_file, _row_number"
        ).fetchall()

    hashed, everything_colliding = result(query), result(colliding)
    assert len(hashed) == 13
    assert hashed == everything_colliding
    statuses = {
        (file, number): (status, reason)
        for file, number, status, reason in con.execute(
            f"SELECT _source_file, _row_number, _row_status, _reject_reason FROM ({query})"
        ).fetchall()
    }
    assert statuses == {
        ("a.csv", 1): ("staged", None),
        ("a.csv", 2): ("staged", None),
        ("a.csv", 3): ("duplicate", None),
        ("a.csv", 4): ("quarantined", "conflicting_duplicate"),
        ("a.csv", 5): ("quarantined", "conflicting_duplicate"),
        ("a.csv", 6): ("quarantined", "missing_claim_id"),
        ("a.csv", 7): ("duplicate", None),
        ("a.csv", 8): ("quarantined", "conflicting_duplicate"),
        ("a.csv", 9): ("quarantined", "conflicting_duplicate"),
        ("a.csv", 10): ("quarantined", "missing_service_date"),
        ("a.csv", 11): ("duplicate", None),
        ("b.csv", 1): ("staged", None),
        ("b.csv", 2): ("staged", None),
    }
