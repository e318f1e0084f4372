"""Independent plain-Python reference implementation of the data contract (SPEC.md §1-§3).

Written from the SPEC only, without reading the project's SQL models or macros, so that
`test_end_to_end.py` can compare the project's marts with it row by row.

Readings of the SPEC chosen here (the same as the project's documented choices):
- business keys (person_id, plan_id, claim_id) are text-normalised (trim + collapse internal
  whitespace) for conflict detection and as the staged value;
- amounts: text-normalise, drop every ',', then an optional single leading '$' or '-' followed by
  digits with optional '.digits'; negative / too large are decided on the exact value;
- notes: for each key the first occurrence wins even when its value is invalid (then ignored);
  `terminated <date>` needs a real date right after `terminated` + whitespace;
- an e-mail domain owned by several companies resolves to the first of them in lookup order;
- roster as-of D defaults to the latest employees delivery file date;
- dim_employees (SCD2): every staged employee record is a version of its person, valid from its
  delivery date to the next version's (exclusive); names and titles are text-normalised, notes
  are parsed from the raw text (the same fields as the roster uses).
"""

from __future__ import annotations

import csv
import json
import re
from collections import defaultdict
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from pathlib import Path

SOURCES = ("employees", "plans", "claims")

COLUMNS = {
    "employees": ("person_id", "full_name", "email", "title", "company_ein", "start_date", "notes"),
    "plans": ("plan_id", "company_ein", "plan_type", "carrier_name", "start_date", "end_date"),
    "claims": ("claim_id", "person_id", "company_ein", "claim_type", "service_date", "amount"),
}

KEYS = {"employees": "person_id", "plans": "plan_id", "claims": "claim_id"}

REASONS = {
    "employees": ("missing_person_id", "missing_start_date", "invalid_start_date"),
    "plans": (
        "missing_plan_id",
        "invalid_ein",
        "unknown_plan_type",
        "missing_start_date",
        "invalid_start_date",
        "invalid_end_date",
        "end_before_start",
    ),
    "claims": (
        "missing_claim_id",
        "invalid_ein",
        "unknown_claim_type",
        "missing_service_date",
        "invalid_service_date",
        "future_service_date",
        "missing_amount",
        "invalid_amount",
        "negative_amount",
        "amount_too_large",
    ),
}


def _all_reasons() -> list[str]:
    out = ["conflicting_duplicate"]
    for source in SOURCES:
        for reason in REASONS[source]:
            if reason not in out:
                out.append(reason)
    return out


ALL_REASONS = _all_reasons()

PLAN_TYPES = {"medical", "dental", "vision"}
CLAIM_TYPES = {"medical", "dental", "vision", "pharmacy"}

CARRIER_ALIASES = {
    "aetna": "Aetna",
    "aetna inc": "Aetna",
    "aetna inc.": "Aetna",
    "aetna health": "Aetna",
    "aetna health inc": "Aetna",
    "aetna health inc.": "Aetna",
}
CORPORATE_SUFFIXES = {"inc", "inc.", "llc", "corp", "corp.", "corporation", "co", "co.", "company"}

#: SPEC §1 makes a blank (empty or whitespace-only) field NULL, so two rows that differ only in
#: `""` vs `"  "` are identical on their raw values and collapse as exact duplicates (§2 step 1).
#: False: compare the exact raw strings instead (then such rows become conflicting duplicates).
BLANK_RAW_IS_NULL = True

MAX_AMOUNT = Decimal("1000000.00")
CENT = Decimal("0.01")
PCT_QUANTUM = Decimal("0.0001")

FILE_NAME = re.compile(r"^(employees|plans|claims)_(\d{4}-\d{2}-\d{2})\.csv$")
ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
AMOUNT = re.compile(r"^[$-]?\d+(\.\d+)?$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
NOTE_FIELD = re.compile(r"^([^:=]+?)\s*[:=]\s*(.*)$", re.S)
TERMINATED = re.compile(r"terminated\s+(\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}/\d{4})", re.I)
LETTER_RUN = re.compile(r"[^\W\d_]+")


# --------------------------------------------------------------------------- shared cleaning


def text(value: str | None) -> str | None:
    """Trim and collapse internal runs of whitespace; NULL stays NULL."""
    if value is None:
        return None
    out = " ".join(value.split())
    return out or None


def parse_date(value: str | None) -> date | None:
    """`YYYY-MM-DD` or `M/D/YYYY` after trimming, a real calendar date; else None."""
    if value is None:
        return None
    value = value.strip()
    m = ISO_DATE.match(value)
    if m:
        y, mo, d = (int(g) for g in m.groups())
    else:
        m = US_DATE.match(value)
        if not m:
            return None
        mo, d, y = (int(g) for g in m.groups())
    try:
        return date(y, mo, d)
    except ValueError:
        return None


def parse_ein(value: str | None) -> str | None:
    """Canonical `NN-NNNNNNN` when exactly 9 digits 0-9 remain, else None."""
    if value is None:
        return None
    digits = "".join(ch for ch in value if ch in "0123456789")
    if len(digits) != 9:
        return None
    return f"{digits[:2]}-{digits[2:]}"


def parse_enum(value: str | None) -> str | None:
    out = text(value)
    return out.lower() if out is not None else None


def parse_amount(value: str | None) -> Decimal | None:
    """The exact value of an amount, or None when unparseable (value must be non-NULL)."""
    normalised = text(value)
    if normalised is None:
        return None
    normalised = normalised.replace(",", "")
    if not AMOUNT.match(normalised):
        return None
    negative = normalised.startswith("-")
    digits = normalised.lstrip("$-")
    exact = Decimal(digits)
    return -exact if negative else exact


def round_cents(value: Decimal) -> Decimal:
    out = value.quantize(CENT, rounding=ROUND_HALF_UP)
    return out + Decimal("0.00")  # no negative zero


def round_pct(value: Fraction) -> Decimal:
    """Round an exact fraction half away from zero to 4 decimals."""
    scaled = abs(value) * 10000
    whole = scaled.numerator // scaled.denominator
    if scaled - whole >= Fraction(1, 2):
        whole += 1
    out = Decimal(whole).scaleb(-4).quantize(PCT_QUANTUM)
    return -out if value < 0 else out


def carrier(value: str | None) -> str | None:
    name = text(value)
    if name is None:
        return None
    alias = CARRIER_ALIASES.get(name.lower())
    if alias is not None:
        return alias
    name = LETTER_RUN.sub(lambda m: m.group(0)[0].upper() + m.group(0)[1:].lower(), name)
    tokens = name.split(" ")
    if len(tokens) > 1 and tokens[-1].lower() in CORPORATE_SUFFIXES:
        tokens = tokens[:-1]
    return " ".join(tokens).rstrip(", ")


# --------------------------------------------------------------------------- landing (SPEC §1)


class LandingError(Exception):
    pass


def read_delivery(path: Path, source: str) -> list[dict]:
    """Data records of one file: dicts of the contract columns (NULL for blank) + `_row_number`."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        records = [rec for rec in csv.reader(handle) if rec != []]
    if not records:
        raise LandingError(f"{path.name}: no header")
    header = [name.strip().lower() for name in records[0]]
    index: dict[str, int] = {}
    for i, name in enumerate(header):
        index.setdefault(name, i)
    for column in COLUMNS[source]:
        if column not in index:
            raise LandingError(f"{path.name}: missing column {column}")
    rows = []
    for number, rec in enumerate(records[1:], start=1):
        if len(rec) != len(header):
            raise LandingError(
                f"{path.name}: record {number} has {len(rec)} fields, header has {len(header)}"
            )
        row: dict = {"_row_number": number}
        for column in COLUMNS[source]:
            raw = rec[index[column]]
            row[column] = raw if raw.strip() != "" else None
        row["_raw"] = tuple(rec[index[column]] for column in COLUMNS[source])
        rows.append(row)
    return rows


def delivery_files(root: Path) -> list[tuple[str, str, date, Path]]:
    out = []
    for source in SOURCES:
        folder = root / "landing" / source
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            m = FILE_NAME.match(path.name)
            if not m or m.group(1) != source:
                continue
            try:
                delivered = date.fromisoformat(m.group(2))
            except ValueError:
                continue
            out.append((source, path.name, delivered, path))
    return out


# --------------------------------------------------------------------------- validation (§2)


def _validate_employee(row: dict, delivered: date) -> tuple[str | None, dict | None]:
    person_id = text(row["person_id"])
    if person_id is None:
        return "missing_person_id", None
    if row["start_date"] is None:
        return "missing_start_date", None
    start = parse_date(row["start_date"])
    if start is None:
        return "invalid_start_date", None
    email = row["email"].strip().lower() if row["email"] is not None else None
    if email is not None and not EMAIL.match(email):
        email = None
    return None, {
        "person_id": person_id,
        "full_name": text(row["full_name"]),
        "title": text(row["title"]),
        "email": email,
        "company_ein": parse_ein(row["company_ein"]),
        "start_date": start,
        "notes": row["notes"],
        "delivery_date": delivered,
    }


def _validate_plan(row: dict, delivered: date) -> tuple[str | None, dict | None]:
    plan_id = text(row["plan_id"])
    if plan_id is None:
        return "missing_plan_id", None
    ein = parse_ein(row["company_ein"])
    if ein is None:
        return "invalid_ein", None
    plan_type = parse_enum(row["plan_type"])
    if plan_type not in PLAN_TYPES:
        return "unknown_plan_type", None
    if row["start_date"] is None:
        return "missing_start_date", None
    start = parse_date(row["start_date"])
    if start is None:
        return "invalid_start_date", None
    end = None
    if row["end_date"] is not None:
        end = parse_date(row["end_date"])
        if end is None:
            return "invalid_end_date", None
        if end < start:
            return "end_before_start", None
    return None, {
        "plan_id": plan_id,
        "company_ein": ein,
        "plan_type": plan_type,
        "carrier_name": carrier(row["carrier_name"]),
        "start_date": start,
        "end_date": end,
        "delivery_date": delivered,
    }


def _validate_claim(row: dict, delivered: date) -> tuple[str | None, dict | None]:
    claim_id = text(row["claim_id"])
    if claim_id is None:
        return "missing_claim_id", None
    ein = parse_ein(row["company_ein"])
    if ein is None:
        return "invalid_ein", None
    claim_type = parse_enum(row["claim_type"])
    if claim_type not in CLAIM_TYPES:
        return "unknown_claim_type", None
    if row["service_date"] is None:
        return "missing_service_date", None
    service = parse_date(row["service_date"])
    if service is None:
        return "invalid_service_date", None
    if service > delivered:
        return "future_service_date", None
    if row["amount"] is None:
        return "missing_amount", None
    exact = parse_amount(row["amount"])
    if exact is None:
        return "invalid_amount", None
    if exact < 0:
        return "negative_amount", None
    if exact > MAX_AMOUNT:
        return "amount_too_large", None
    return None, {
        "claim_id": claim_id,
        "person_id": text(row["person_id"]),
        "company_ein": ein,
        "claim_type": claim_type,
        "amount": round_cents(exact),
        "service_date": service,
        "delivery_date": delivered,
    }


VALIDATORS = {
    "employees": _validate_employee,
    "plans": _validate_plan,
    "claims": _validate_claim,
}


def process_file(source: str, rows: list[dict], delivered: date) -> tuple[dict, list[dict]]:
    """Order of work within one delivery file: exact duplicates, conflicts, validation."""
    columns = COLUMNS[source]
    seen: set[tuple] = set()
    unique = []
    duplicates = 0
    for row in sorted(rows, key=lambda r: r["_row_number"]):
        signature = tuple(row[c] for c in columns) if BLANK_RAW_IS_NULL else row["_raw"]
        if signature in seen:
            duplicates += 1
            continue
        seen.add(signature)
        unique.append(row)

    key_counts: dict[str, int] = defaultdict(int)
    for row in unique:
        key = text(row[KEYS[source]])
        if key is not None:
            key_counts[key] += 1

    counts = {reason: 0 for reason in ALL_REASONS}
    staged = []
    for row in unique:
        key = text(row[KEYS[source]])
        if key is not None and key_counts[key] > 1:
            counts["conflicting_duplicate"] += 1
            continue
        reason, clean = VALIDATORS[source](row, delivered)
        if reason is not None:
            counts[reason] += 1
        else:
            clean["_row_number"] = row["_row_number"]
            staged.append(clean)
    accounting = {
        "raw_rows": len(rows),
        "staged_rows": len(staged),
        "duplicate_rows": duplicates,
        "quarantined_rows": sum(counts.values()),
        **counts,
    }
    return accounting, staged


# --------------------------------------------------------------------------- employees


def parse_notes(notes: str | None, delivered: date) -> dict:
    """status (active|terminated|leave), term_date, dept, ein from free-text notes."""
    first: dict[str, str] = {}
    if notes is not None:
        for segment in re.split(r"[;|]", notes):
            m = NOTE_FIELD.match(segment.strip())
            if not m:
                continue
            key = m.group(1).strip().lower()
            first.setdefault(key, m.group(2).strip())
    status = None
    if "status" in first and first["status"].lower() in ("active", "terminated", "leave"):
        status = first["status"].lower()
    term_date = parse_date(first.get("term_date"))
    ein = parse_ein(first.get("ein"))
    dept = text(first.get("dept"))
    if notes is not None:
        for m in TERMINATED.finditer(notes):
            phrase_date = parse_date(m.group(1))
            if phrase_date is not None:
                status = "terminated"
                if term_date is None:
                    term_date = phrase_date
                break
    status = status or "active"
    if status == "terminated" and term_date is None:
        term_date = delivered
    return {"status": status, "term_date": term_date, "ein": ein, "dept": dept}


def load_lookup(root: Path) -> list[dict]:
    path = root / "reference" / "company_lookup.json"
    if not path.exists():
        return []
    return json.loads(path.read_text(encoding="utf-8-sig"))


def domain_owners(lookup: list[dict]) -> dict[str, str]:
    """E-mail domain -> EIN; a domain listed by several companies goes to the first of them."""
    owners: dict[str, str] = {}
    for company in lookup:
        ein = parse_ein(company.get("ein")) or company.get("ein")
        for domain in company.get("domains") or []:
            owners.setdefault(domain, ein)
    return owners


def resolve_ein(row: dict, notes: dict, owners: dict[str, str]) -> tuple[str | None, str]:
    """SPEC §2 EIN resolution of one staged employee record: (EIN, rule that applied)."""
    if row["company_ein"] is not None:
        return row["company_ein"], "column"
    if notes["ein"] is not None:
        return notes["ein"], "notes"
    if row["email"] is not None:
        owner = owners.get(row["email"].split("@", 1)[1])
        if owner is not None:
            return owner, "email_domain"
    return None, "unresolved"


def employee_versions(employee_rows: list[dict], lookup: list[dict]) -> list[dict]:
    """marts.dim_employees, SCD type 2 (SPEC §2 employees): one version per staged record.

    Only staged records are versions (a rejected re-send never is one, so it neither becomes
    current nor hides the earlier version). A person's versions are ordered by delivery date:
    each is valid from its delivery date (inclusive) to the next version's delivery date
    (exclusive; None for the latest), and the latest is the current one. A person who was
    terminated and is delivered again later simply gets a new version that is current.
    """
    owners = domain_owners(lookup)
    by_person: dict[str, list[dict]] = defaultdict(list)
    for row in employee_rows:
        by_person[row["person_id"]].append(row)
    out = []
    for person_id, rows in by_person.items():
        rows = sorted(rows, key=lambda r: r["delivery_date"])
        following = [r["delivery_date"] for r in rows[1:]] + [None]
        for row, valid_to in zip(rows, following, strict=True):
            notes = parse_notes(row["notes"], row["delivery_date"])
            ein, ein_source = resolve_ein(row, notes, owners)
            out.append(
                {
                    "person_id": person_id,
                    "company_ein": ein,
                    "ein_source": ein_source,
                    "full_name": row["full_name"],
                    "email": row["email"],
                    "title": row["title"],
                    "dept": notes["dept"],
                    "status": notes["status"],
                    "start_date": row["start_date"],
                    "term_date": notes["term_date"],
                    "source_file": row["source_file"],
                    "valid_from": row["delivery_date"],
                    "valid_to": valid_to,
                    "is_current": valid_to is None,
                }
            )
    return out


def roster_mismatches(
    employee_rows: list[dict], lookup: list[dict], as_of: date | None
) -> list[dict]:
    if as_of is None:
        return []
    domain_owner = domain_owners(lookup)
    expected: dict[str, int | None] = {}
    for company in lookup:
        ein = parse_ein(company.get("ein")) or company.get("ein")
        expected.setdefault(ein, company.get("expected_headcount"))

    current: dict[str, dict] = {}
    for row in employee_rows:
        if row["delivery_date"] > as_of:
            continue
        held = current.get(row["person_id"])
        if held is None or row["delivery_date"] > held["delivery_date"]:
            current[row["person_id"]] = row

    observed: dict[str, set] = defaultdict(set)
    companies = list(expected)
    for person_id, row in current.items():
        notes = parse_notes(row["notes"], row["delivery_date"])
        ein, _ = resolve_ein(row, notes, domain_owner)
        if ein is None:
            continue
        if ein not in expected and ein not in companies:
            companies.append(ein)
        term = notes["term_date"]
        if row["start_date"] <= as_of and not (term is not None and term <= as_of):
            observed[ein].add(person_id)

    out = []
    for ein in companies:
        obs = len(observed.get(ein, ()))
        exp = expected.get(ein)
        diff = pct = None
        exact = None
        if exp is not None:
            diff = obs - exp
            if exp != 0:
                exact = Fraction(diff * 100, exp)
                pct = round_pct(exact)
        if ein not in expected:
            kind, severity = "unknown_company", "high"
        elif exp is None:
            kind, severity = "no_expectation", "low"
        elif exp == 0:
            kind, severity = ("ok", "none") if obs == 0 else ("headcount_mismatch", "critical")
        elif obs == 0:
            kind, severity = "missing_roster", "critical"
        elif abs(exact) >= 50:
            kind, severity = "headcount_mismatch", "critical"
        elif abs(exact) >= 25:
            kind, severity = "headcount_mismatch", "high"
        elif abs(exact) >= 10:
            kind, severity = "headcount_mismatch", "medium"
        else:
            kind, severity = "ok", "none"
        out.append(
            {
                "company_ein": ein,
                "mismatch_type": kind,
                "severity": severity,
                "expected_headcount": exp,
                "observed_headcount": obs,
                "diff": diff,
                "pct_diff": pct,
                "as_of_date": as_of,
            }
        )
    return out


# --------------------------------------------------------------------------- plans


def _current(rows: list[dict], key: str) -> list[dict]:
    """The staged version from the latest delivery per business key."""
    latest: dict[str, dict] = {}
    for row in rows:
        held = latest.get(row[key])
        if held is None or row["delivery_date"] > held["delivery_date"]:
            latest[row[key]] = row
    return list(latest.values())


def _name_key(name: str | None) -> tuple:
    return (1, "") if name is None else (0, name)


def plan_gaps(plan_rows: list[dict]) -> list[dict]:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for plan in _current(plan_rows, "plan_id"):
        groups[(plan["company_ein"], plan["plan_type"])].append(plan)

    out = []
    for (ein, plan_type), plans in sorted(groups.items()):
        islands: list[dict] = []
        for plan in sorted(plans, key=lambda p: p["start_date"]):
            island = islands[-1] if islands else None
            if island is not None and (
                island["open"] or plan["start_date"] <= island["end"] + timedelta(days=1)
            ):
                island["plans"].append(plan)
                if plan["end_date"] is None:
                    island["open"] = True
                elif not island["open"]:
                    island["end"] = max(island["end"], plan["end_date"])
            else:
                islands.append(
                    {
                        "plans": [plan],
                        "start": plan["start_date"],
                        "end": plan["end_date"],
                        "open": plan["end_date"] is None,
                    }
                )
        for before, after in zip(islands, islands[1:], strict=False):
            # `before` is closed: an open island swallows every later plan
            last = sorted(
                before["plans"],
                key=lambda p: (
                    -(p["end_date"] or date.max).toordinal(),
                    -p["start_date"].toordinal(),
                    _name_key(p["carrier_name"]),
                ),
            )[0]
            first = sorted(
                after["plans"],
                key=lambda p: (
                    p["start_date"],
                    -(p["end_date"] or date.max).toordinal(),
                    _name_key(p["carrier_name"]),
                ),
            )[0]
            gap_start = before["end"] + timedelta(days=1)
            gap_end = after["start"] - timedelta(days=1)
            out.append(
                {
                    "company_ein": ein,
                    "plan_type": plan_type,
                    "carrier_before": last["carrier_name"],
                    "carrier_after": first["carrier_name"],
                    "gap_length_days": (gap_end - gap_start).days + 1,
                    "gap_start": gap_start,
                    "gap_end": gap_end,
                }
            )
    return out


# --------------------------------------------------------------------------- claims


def cost_spikes(current_claims: list[dict]) -> list[dict]:
    if not current_claims:
        return []
    daily: dict[str, dict[date, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for claim in current_claims:
        daily[claim["company_ein"]][claim["service_date"]] += claim["amount"]
    latest = max(claim["service_date"] for claim in current_claims)
    out = []
    for ein in sorted(daily):
        costs = daily[ein]
        first = min(costs)
        # prefix sums over the company's days
        origin = first - timedelta(days=200)
        span = (latest - origin).days + 1
        prefix = [Decimal("0.00")] * (span + 1)
        for i in range(span):
            day = origin + timedelta(days=i)
            prefix[i + 1] = prefix[i] + costs.get(day, Decimal("0.00"))

        def total(lo: date, hi: date, prefix=prefix, origin=origin) -> Decimal:
            a = max((lo - origin).days, 0)
            b = (hi - origin).days + 1
            return prefix[b] - prefix[a] if b > a else Decimal("0.00")

        window_end = first + timedelta(days=179)
        while window_end <= latest:
            current = total(window_end - timedelta(days=89), window_end)
            prior = total(window_end - timedelta(days=179), window_end - timedelta(days=90))
            if prior > 0 and current > 3 * prior:
                out.append(
                    {
                        "company_ein": ein,
                        "current_90d_cost": current,
                        "prior_90d_cost": prior,
                        "pct_change": round_pct(Fraction(current - prior) / Fraction(prior) * 100),
                        "window_end": window_end,
                    }
                )
            window_end += timedelta(days=1)
    return out


# --------------------------------------------------------------------------- entry point


def compute(root: Path, roster_as_of: date | None = None) -> dict[str, list[dict]]:
    """Every compared mart of a landing root, as lists of dicts keyed by SPEC column names."""
    root = Path(root)
    accounting = []
    staged: dict[str, list[dict]] = {source: [] for source in SOURCES}
    employee_file_dates = []
    for source, name, delivered, path in delivery_files(root):
        rows = read_delivery(path, source)
        counts, clean = process_file(source, rows, delivered)
        accounting.append(
            {"source": source, "source_file": name, "delivery_date": delivered, **counts}
        )
        for row in clean:
            row["source_file"] = name
        staged[source].extend(clean)
        if source == "employees":
            employee_file_dates.append(delivered)

    as_of = roster_as_of
    if as_of is None and employee_file_dates:
        as_of = max(employee_file_dates)

    claims = _current(staged["claims"], "claim_id")
    fct_claims = [
        {
            c: claim[c]
            for c in (
                "claim_id",
                "person_id",
                "company_ein",
                "claim_type",
                "amount",
                "service_date",
                "delivery_date",
            )
        }
        for claim in claims
    ]
    lookup = load_lookup(root)
    return {
        "fct_load_accounting": accounting,
        "fct_plan_gaps": plan_gaps(staged["plans"]),
        "fct_claims_cost_spikes": cost_spikes(claims),
        "fct_employee_roster_mismatches": roster_mismatches(staged["employees"], lookup, as_of),
        "fct_claims": fct_claims,
        "dim_employees": employee_versions(staged["employees"], lookup),
    }
