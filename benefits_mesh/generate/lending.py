"""landing/lending/ (SPEC §5): two full-snapshot files, written only with lending_customers > 0.

<out>/landing/lending/customers.csv (CustomerID, Name, HasLoan) and accounts.csv (AccountID,
CustomerID, Balance, AccountType): a pure function of (seed, lending_customers, dirt_rate),
independent of the days and of the other sources, whose seeded streams it does not touch. Row
kinds occur at ``dirt_rate`` per row (reject kinds as extra rows); with ``dirt_rate > 0`` every
kind also occurs at least once (variants forced on the first rows, so from 12 customers on),
and each file carries file kinds: customers.csv a BOM, header variants and an extra column,
accounts.csv CRLF, reordered columns and header variants. Realism that does not depend on
``dirt_rate``: HasLoan spellings (half the rows), balances on a tier boundary or on a half-cent
tie of their rate (5 % each). Kinds count the rows written with the feature; what each row
becomes (a customer in a conflict makes its accounts unknown_customer too) is the staging's
business, checked against a reference in tests/test_lending.py.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from benefits_mesh.contract import LENDING_ACCOUNTS, LENDING_CUSTOMERS
from benefits_mesh.generate.common import (
    FileStyle,
    Params,
    _count,
    _exact_duplicates,
    _insert_junk,
    _pick,
    _rng,
    _share,
    _styled_file,
    _write_small_csv,
)
from benefits_mesh.generate.world import FIRST_NAMES, LAST_NAMES

#: Contract columns of the lending files as a delivery writes them.
LENDING_FILES: dict[str, tuple[str, ...]] = {
    name: tuple(description["headers"][column] for column in description["columns"])
    for name, description in (("customers", LENDING_CUSTOMERS), ("accounts", LENDING_ACCOUNTS))
}
LENDING_EXTRA = {"customers": "Segment", "accounts": "Branch"}
#: Row kinds of the lending files. SPEC §5 reject reasons keep their names (the accounts'
#: missing CustomerID is ``account_missing_customer_id``); the others are staged variants.
LENDING_ROW_KINDS: tuple[str, ...] = (
    # customers.csv
    "missing_customer_id",
    "invalid_has_loan",
    "has_loan_variant",  # y, TRUE, " no ", NONE, ...: staged as Yes / No / None
    "has_loan_blank",  # empty or whitespace-only: None
    "name_missing",
    "name_spacing",
    "customer_exact_duplicate",
    "customer_conflicting_duplicate",
    # accounts.csv
    "missing_account_id",
    "account_missing_customer_id",
    "unknown_account_type",
    "missing_balance",
    "invalid_balance",
    "negative_balance",
    "unknown_customer",
    "account_type_variant",  # savings, " SAVINGS ", checking: staged
    "balance_dollar",  # $1,234.50
    "balance_commas",  # 1,234.50
    "balance_three_decimals",  # rounded half-up to cents when staged
    "tier_boundary",  # 9,999.99 / 10,000.00 / 19,999.99 / 20,000.00
    "half_cent_tie",  # balance x rate is exactly half a cent past a cent (clean customer)
    "account_exact_duplicate",
    "account_conflicting_duplicate",
    # both
    "key_spaces",  # a CustomerID / AccountID with surrounding spaces (trimmed key)
    "quoted_comma",
)
LENDING_FILE_KINDS: tuple[str, ...] = (
    "bom",
    "crlf",
    "reordered_columns",
    "header_variant",
    "extra_column",
)
LENDING_KINDS: tuple[str, ...] = LENDING_ROW_KINDS + LENDING_FILE_KINDS
HAS_LOAN_SPELLINGS: dict[str, tuple[str, ...]] = {
    "Yes": ("yes", "y", "Y", "true", "TRUE", "True", "YES", " yes "),
    "No": ("no", "n", "N", "false", "FALSE", "False", "NO", " No "),
    "None": ("none", "NONE", " None "),
}
INVALID_HAS_LOAN = ("maybe", "1", "0", "ja", "unknown", "yes please", "t", "N/A")
ACCOUNT_TYPE_SPELLINGS: dict[str, tuple[str, ...]] = {
    "Savings": ("savings", "SAVINGS", " Savings ", "Savings  "),
    "Checking": ("checking", "CHECKING", " Checking"),
}
UNKNOWN_ACCOUNT_TYPES = ("Brokerage", "CD", "Savings Plus", "Money Market", "chequing", "")
INVALID_BALANCES = ("12.34.56", "$-5.00", "-$5.00", ".50", "1e3", "(5.00)", "N/A", "1 000.00")
NEGATIVE_BALANCES = ("-250.00", "-0.01", "-1,200.50", "-0.001")
TIER_BOUNDARIES = (999999, 1000000, 1999999, 2000000)  # cents
#: Cents c with c x R = 5000 (mod 10000), R the rate in ten-thousandths: c = residue (mod m).
HALF_CENT_RESIDUES = {100: (100, 50), 150: (200, 100), 200: (50, 25), 250: (40, 20)}


def _cents_text(cents: int) -> str:
    return f"{'-' if cents < 0 else ''}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def _with_commas(cents: int) -> str:
    return f"{cents // 100:,}.{cents % 100:02d}"


def lending_rate(cents: int, loan: bool) -> int:
    """SPEC §5's interest rate of a balance in cents, in ten-thousandths (0.015 -> 150)."""
    base = 100 if cents < 1000000 else 150 if cents < 2000000 else 200
    return base + (50 if loan else 0)


def _lending_style(params: Params, name: str) -> FileStyle:
    rng = _rng(params, "lending", "style", name)
    kinds: tuple[str, ...] = ()
    if params.dirt_rate > 0:
        kinds = (
            ("bom", "header_variant", "extra_column")
            if name == "customers"
            else ("crlf", "reordered_columns", "header_variant")
        )
    extra = LENDING_EXTRA[name]
    return _styled_file(rng, LENDING_FILES[name], extra, f"{extra.lower()}-1", kinds)


def _slot(rng: random.Random, rate: float, kinds: Sequence[str], forced: str | None) -> str:
    """One of ``kinds`` at ``rate`` each (else ""), or ``forced`` (a dirty root's first rows)."""
    return forced if forced is not None else _pick(rng, rate, kinds, "")


def _lending_customers(params: Params, kinds: Counter[str]) -> tuple[list[dict], dict[str, str]]:
    """Customer rows that stage (with variants), and each customer's HasLoan as staged."""
    rng, rate = _rng(params, "lending", "customers"), params.dirt_rate
    forced_names = ("quoted_comma", "name_spacing", "name_missing") if rate > 0 else ()
    rows, loans = [], {}
    for i in range(params.lending_customers):
        cid = f"CU{i + 1:05d}"
        loan = rng.choices(("Yes", "No", "None"), weights=(3, 5, 2))[0]
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        forced = forced_names[i] if i < len(forced_names) else None
        variant = _slot(rng, rate, ("quoted_comma", "name_spacing", "name_missing"), forced)
        name = {
            "quoted_comma": f"{last}, {first}",
            "name_spacing": f"  {first}   {last} ",
            "name_missing": rng.choice(("", "   ")),
        }.get(variant, f"{first} {last}")
        if variant:
            kinds[variant] += 1
        if rate > 0 and i == 3:
            loan = "None"  # forced blank HasLoan below
        spelled = loan
        if rate > 0 and i == 3 or loan == "None" and rng.random() < _share(rate, 1):
            spelled = rng.choice(("", "  "))
            kinds["has_loan_blank"] += 1
        elif rng.random() < 0.5 or rate > 0 and i == 4:
            spelled = rng.choice(HAS_LOAN_SPELLINGS[loan])
            kinds["has_loan_variant"] += 1
        key = cid
        if rng.random() < _share(rate, 1) or rate > 0 and i == 5:
            key = f" {cid}  "
            kinds["key_spaces"] += 1
        loans[cid] = loan
        rows.append({"CustomerID": key, "Name": name, "HasLoan": spelled})
    return rows, loans


def _lending_customer_junk(
    params: Params, rows: list[dict], kinds: Counter[str], rng: random.Random
) -> list[dict]:
    """Customer rows SPEC §5 rejects (extra rows; a conflict also rejects the original row)."""
    rate, junk = params.dirt_rate, []
    conflicted: set[str] = set()
    for kind in ("missing_customer_id", "invalid_has_loan", "customer_conflicting_duplicate"):
        count = _count(rng, rate, len(rows))
        for j in range(max(count, 1) if rate > 0 and rows else count):
            base = dict(rng.choice(rows))
            if kind == "missing_customer_id":
                junk.append(dict(base, CustomerID=rng.choice(("", "   "))))
                kinds[kind] += 1
            elif kind == "invalid_has_loan":
                cid = f"CX{j + 1:04d}"
                junk.append(dict(base, CustomerID=cid, HasLoan=rng.choice(INVALID_HAS_LOAN)))
                kinds[kind] += 1
            elif base["CustomerID"].strip() not in conflicted:  # a second, different row
                conflicted.add(base["CustomerID"].strip())
                junk.append(dict(base, Name=(base["Name"] + " Jr.").strip()))
                kinds[kind] += 2
    return junk


def _account_cents(rng: random.Random, rate: float, i: int, loan: bool | None, kinds) -> int:
    """A staged account's balance in cents: spread over the three tiers, some on a tier boundary
    (the first four rows of a dirty root: each boundary) or on a half-cent tie of the rate
    (``loan`` is None when the customer does not stage: its rate is unknown)."""
    u = rng.random()
    if u < 0.5:
        cents = rng.randint(0, 999999)
    elif u < 0.8:
        cents = rng.randint(1000000, 1999999)
    else:
        cents = rng.randint(2000000, 25000000)
    if rate > 0 and i < len(TIER_BOUNDARIES) or rng.random() < 0.05:
        kinds["tier_boundary"] += 1
        return (
            TIER_BOUNDARIES[i]
            if rate > 0 and i < len(TIER_BOUNDARIES)
            else rng.choice(TIER_BOUNDARIES)
        )
    if loan is not None and (rate > 0 and not kinds["half_cent_tie"] or rng.random() < 0.05):
        modulus, residue = HALF_CENT_RESIDUES[lending_rate(cents, loan)]
        tied = cents - cents % modulus + residue
        if lending_rate(tied, loan) == lending_rate(cents, loan):
            kinds["half_cent_tie"] += 1
            return tied
    return cents


def _balance_text(rng: random.Random, rate: float, i: int, cents: int, kinds) -> str:
    forced = {4: "balance_dollar", 5: "balance_commas", 6: "balance_three_decimals"}
    variant = _slot(
        rng,
        rate,
        ("balance_dollar", "balance_commas", "balance_three_decimals"),
        forced.get(i) if rate > 0 else None,
    )
    if variant:
        kinds[variant] += 1
    if variant in ("balance_dollar", "balance_commas"):
        kinds["quoted_comma"] += cents >= 100000
        return ("$" if variant == "balance_dollar" else "") + _with_commas(cents)
    if variant == "balance_three_decimals":
        # a third decimal that rounds half-up to these cents: 5-9 on the cent below, 0-4 on it
        mill = rng.choice((5, 6, 9, 0, 1, 4)) if cents > 0 else 0
        return f"{_cents_text(cents - 1 if mill >= 5 else cents)}{mill}"
    return _cents_text(cents)


def _lending_accounts(
    params: Params, loans: dict[str, str], staged: set[str], kinds: Counter[str]
) -> list[dict]:
    """Account rows that stage when their customer does (with variants)."""
    rng, rate = _rng(params, "lending", "accounts"), params.dirt_rate
    rows: list[dict] = []
    for cid in sorted(loans):
        for _ in range(rng.choice((1, 1, 2, 2, 3))):
            i = len(rows)
            kind = rng.choices(("Savings", "Checking"), weights=(7, 3))[0]
            loan = loans[cid] == "Yes" if cid in staged else None
            cents = _account_cents(rng, rate, i, loan, kinds)
            spelled = kind
            if rng.random() < _share(rate, 1) or rate > 0 and i == 7:
                spelled = rng.choice(ACCOUNT_TYPE_SPELLINGS[kind])
                kinds["account_type_variant"] += 1
            account, customer = f"AC{i + 1:06d}", cid
            if rng.random() < _share(rate, 1) or rate > 0 and i == 8:
                account, customer = f"  {account} ", f" {cid}"
                kinds["key_spaces"] += 1
            balance = _balance_text(rng, rate, i, cents, kinds)
            rows.append(
                {
                    "AccountID": account,
                    "CustomerID": customer,
                    "Balance": balance,
                    "AccountType": spelled,
                }
            )
    return rows


def _lending_account_junk(
    params: Params, rows: list[dict], kinds: Counter[str], rng: random.Random
) -> list[dict]:
    """Account rows SPEC §5 rejects, one kind per row (extra rows, on their own AccountIDs)."""
    rate, junk = params.dirt_rate, []
    conflicted: set[str] = set()
    reasons = (
        "missing_account_id",
        "account_missing_customer_id",
        "unknown_account_type",
        "missing_balance",
        "invalid_balance",
        "negative_balance",
        "unknown_customer",
        "account_conflicting_duplicate",
    )
    for kind in reasons:
        count = _count(rng, rate, len(rows))
        for j in range(max(count, 1) if rate > 0 and rows else count):
            first = rng.choice(rows)
            base = dict(first, AccountID=f"AX{len(junk) + 1:05d}")
            blank = rng.choice(("", "  "))
            if kind == "account_conflicting_duplicate":
                if first["AccountID"].strip() in conflicted:
                    continue
                conflicted.add(first["AccountID"].strip())
                junk.append(dict(first, Balance="1.00" if first["Balance"] != "1.00" else "2.00"))
                kinds[kind] += 2
                continue
            changed = {
                "missing_account_id": {"AccountID": blank},
                "account_missing_customer_id": {"CustomerID": blank},
                "unknown_account_type": {"AccountType": rng.choice(UNKNOWN_ACCOUNT_TYPES)},
                "missing_balance": {"Balance": blank},
                "invalid_balance": {"Balance": rng.choice(INVALID_BALANCES)},
                "negative_balance": {"Balance": rng.choice(NEGATIVE_BALANCES)},
                "unknown_customer": {"CustomerID": f"CZ{j + 1:05d}"},
            }[kind]
            junk.append(dict(base, **changed))
            kinds[kind] += 1
    return junk


def write_lending(out_dir: Path, params: Params) -> dict:
    """Write <out>/landing/lending/customers.csv and accounts.csv (SPEC §5, full snapshots);
    returns ``{"rows": {file: data records}, "dirt": {kind: count}}`` over LENDING_KINDS."""
    kinds: Counter[str] = Counter()
    customers, loans = _lending_customers(params, kinds)
    rng = _rng(params, "lending", "junk")
    customer_junk = _lending_customer_junk(params, customers, kinds, rng)
    rejected = {row["CustomerID"].strip() for row in customer_junk}
    accounts = _lending_accounts(params, loans, set(loans) - rejected, kinds)
    account_junk = _lending_account_junk(params, accounts, kinds, rng)
    folder = out_dir / "landing" / "lending"
    folder.mkdir(parents=True, exist_ok=True)
    rows: dict[str, int] = {}
    for name, clean, junk in (
        ("customers", customers, customer_junk),
        ("accounts", accounts, account_junk),
    ):
        _insert_junk(rng, clean, junk)
        copies: Counter[str] = Counter()
        dups = _count(rng, params.dirt_rate, len(clean))
        _exact_duplicates(rng, clean, max(dups, 1) if params.dirt_rate > 0 else dups, copies)
        kinds[f"{name[:-1]}_exact_duplicate"] += copies["exact_duplicate"]
        style = _lending_style(params, name)
        kinds.update(_write_small_csv(folder / f"{name}.csv", clean, style, rng))
        rows[name] = len(clean)
    return {"rows": rows, "dirt": {kind: kinds.get(kind, 0) for kind in LENDING_KINDS}}
