"""Synthetic landing-zone generator (SPEC §1–§2): deterministic, dirty on purpose, and scalable.

``generate()`` writes a landing root::

    <out>/landing/{employees,plans,claims}/<source>_YYYY-MM-DD.csv
    <out>/reference/company_lookup.json
    <out>/generator.json            (parameters + days generated, read by ``deliver()``)

Determinism: the *world* (companies, the day-0 roster, plan timelines) is a pure function of the
parameters without ``days``; day ``k``'s files are a pure function of (parameters, seed, k). So
``generate(days=10)`` followed by ``deliver(days=2)`` writes byte-identical files to
``generate(days=12)``. Small sources use ``random.Random`` seeded with strings; claims are built by
DuckDB from ``range()`` with ``hash(row + salt(seed, day, purpose))`` (same DuckDB ⇒ same bytes).

Claims: each day is one DuckDB ``COPY`` of a single unquoted VARCHAR column holding the whole line
(DuckDB's per-field CSV quoting is the bottleneck at 20M rows; the few fields that hold commas
are quoted in SQL), fed by a table scan with ``preserve_insertion_order`` (no sort), plus one small
GROUP BY for the summary counts. A 20M-row day takes ~16-22 s and ~0.5 GB on a 2-vCPU box.

Dirt: every kind in :data:`ROW_KINDS` / :data:`FILE_KINDS` is counted in the summary under that
name (row kinds in rows carrying them, file kinds in files). Row kinds occur at rate ``dirt_rate``
each (a dirty claim row carries exactly one field kind, so ~17 x dirt_rate of claim rows are
dirty); file kinds on ``min(0.5, 5 * dirt_rate)`` of the files. With ``dirt_rate > 0`` every kind
is also forced early (file kinds on each source's first two files, employee/plan row kinds on day
0 and the first re-delivery, claim kinds on rows 2-5 of days 0-4), so any run of >= 5 days with
>= 50 employees and >= 11 claims per day has every kind. ``amount_max`` (1,000,000.00, valid) is
forced once only: at any real share it would dominate every company's 90-day cost. Realism kinds
(terminations, plan structure and re-sends, carrier variants, corrections and 31-60-day late
claims at 3 % each) do not depend on ``dirt_rate``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import random
import re
import sys
import threading
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import duckdb

from benefits_mesh.contract import COLUMNS

SOURCES: tuple[str, ...] = ("employees", "plans", "claims")

#: Row-level kinds, counted in rows carrying them (``exact_duplicate``: the extra copies;
#: ``conflicting_duplicate``: every row of a conflicting group).
ROW_KINDS: tuple[str, ...] = (
    # every source
    "missing_key",
    "whitespace_only",
    "quoted_comma",
    "exact_duplicate",
    "conflicting_duplicate",
    "bad_ein",
    "ein_variant",
    "bad_date",
    "missing_date",
    "us_date",
    # plans + claims
    "unknown_type",
    "type_variant",
    # employees
    "ein_in_notes",
    "ein_from_email",
    "email_subdomain",
    "invalid_email",
    "email_case_space",
    "terminated_key_notes",
    "terminated_phrase_notes",
    "rejected_resend",
    # plans
    "carrier_variant",
    "bad_end_date",
    "end_before_start",
    "plan_overlap",
    "plan_adjacent",
    "plan_nested",
    "plan_gap",
    "plan_one_day_gap",
    "plan_open_ended",
    "plan_resend",
    "plan_gap_closed",
    # claims
    "late_claim",
    "correction",
    "future_service_date",
    "amount_dollar",
    "amount_three_decimals",
    "amount_invalid",
    "amount_negative",
    "amount_too_large",
    "amount_max",
    "amount_missing",
)
#: File-level kinds, counted in files.
FILE_KINDS: tuple[str, ...] = (
    "bom",
    "crlf",
    "reordered_columns",
    "header_variant",
    "extra_column",
    "blank_lines",
)
DIRT_KINDS: tuple[str, ...] = ROW_KINDS + FILE_KINDS

BOM = "\ufeff"
CORRECTION_RATE = 0.03
LATE_RATE = 0.03
SPIKE_DAYS = 28
SPIKE_FACTOR = 12
EXTRA_COLUMNS = {"employees": "source_system", "plans": "feed_version", "claims": "batch_id"}
PLAN_TYPES = ("medical", "dental", "vision")

FIRST_NAMES = (
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara "
    "Richard Susan Joseph Jessica Thomas Sarah Charles Karen Daniel Nancy Matthew Lisa Anthony "
    "Betty Mark Sandra Steven Ashley Andrew Emily Joshua Michelle Kevin Amanda Brian Melissa "
    "José Zoë Chloé Łukasz Søren Ngozi Aiko Björn Renée François Priya Mateo Ines Wei Olga"
).split()
LAST_NAMES = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez "
    "Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris "
    "Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill "
    "Müller O'Brien Dubois Kowalski Nakamura Okafor Jensen Núñez Schröder Patel Ivanova Chen"
).split()
TITLES = (
    "Software Engineer",
    "Senior Software Engineer",
    "Account Executive",
    "HR Generalist",
    "Financial Analyst",
    "Operations Manager",
    "Customer Support Specialist",
    "Data Analyst",
    "Nurse Practitioner",
    "Warehouse Associate",
    "Product Manager",
    "Marketing Coordinator",
    "Director, Sales",
    "VP, Engineering",
)
DEPTS = ("Sales", "Engineering", "Finance", "Operations", "HR", "Support", "Marketing", "Legal")
FREE_NOTES = (
    "relocated from Denver, CO",
    "badge reissued, see ticket 4411",
    "part-time, 30h/week",
    "prefers e-mail contact",
)
INDUSTRIES = ("Manufacturing", "Healthcare", "Retail", "Technology", "Logistics", "Finance")
STATES = ("CA", "NY", "TX", "WA", "IL", "MA", "CO", "GA", "FL", "OR")
NAME_ADJ = (
    "North Blue Silver Granite Cedar Summit Harbor Prairie Evergreen Atlas Beacon Crescent "
    "Pioneer Redwood Lakeside Ironwood Sterling Meridian Golden Riverbend"
).split()
NAME_NOUN = (
    "Wind Ridge Works Logistics Foods Health Systems Labs Freight Dynamics Partners Brewing "
    "Textiles Robotics Analytics Outfitters Energy Pharma Media Builders"
).split()
NAME_SUFFIX = ("Inc.", "LLC", "Corp", "Group", "Holdings", "Co.")

#: Carrier -> spellings seen in feeds. All spellings of one carrier normalise to the same name
#: under SPEC's rules (alias seed for Aetna, else title case minus a trailing Inc/LLC/Co/...).
CARRIERS: dict[str, tuple[str, ...]] = {
    "Aetna": ("Aetna", "AETNA INC.", "aetna health inc", "Aetna Health", "Aetna Inc", " aetna "),
    "Cigna": ("Cigna", "Cigna, Inc.", "CIGNA Corp", "cigna corporation"),
    "UnitedHealthcare": ("UnitedHealthcare", "UnitedHealthcare LLC", "unitedhealthcare inc."),
    "Kaiser Permanente": ("Kaiser Permanente", "kaiser permanente", "KAISER PERMANENTE"),
    "Blue Cross Blue Shield": (
        "Blue Cross Blue Shield",
        "Blue Cross Blue Shield Co.",
        "BLUE CROSS BLUE SHIELD",
    ),
    "Delta Dental": ("Delta Dental", "Delta Dental Inc.", "delta dental company"),
    "Guardian": ("Guardian", "Guardian, Inc.", "GUARDIAN"),
    "VSP": ("VSP", "VSP Inc.", "vsp"),
    "EyeMed": ("EyeMed", "EyeMed LLC", "EYEMED"),
}
CARRIERS_BY_TYPE: dict[str, tuple[str, ...]] = {
    "medical": (
        "Aetna",
        "Cigna",
        "UnitedHealthcare",
        "Kaiser Permanente",
        "Blue Cross Blue Shield",
    ),
    "dental": ("Delta Dental", "Guardian", "Cigna", "Aetna"),
    "vision": ("VSP", "EyeMed", "UnitedHealthcare"),
}
UNKNOWN_PLAN_TYPES = ("life", "std", "Medicl", "ltd")
PLAN_RELATIONS = ("adjacent", "overlap", "gap", "one_day_gap", "nested")
FORCED_RELATIONS = ("overlap", "adjacent", "nested", "gap", "one_day_gap")

# Roster category of lookup company i (i < len), later companies draw at random. The category
# sets expected_headcount against the company's day-0 observed headcount (see _set_expectations).
CATEGORY_ORDER = (
    "ok_exact",
    "missing_roster",
    "medium",
    "high",
    "critical",
    "no_expectation",
    "zero",
    "ok",
    "critical",
    "ok",
    "medium",
    "high",
)
# Target |pct_diff| (signed choices) per category; bands: ok < 10 <= medium < 25 <= high < 50.
CATEGORY_TARGETS: dict[str, tuple[float, ...]] = {
    "ok_exact": (0.0,),
    "ok": (-0.04, -0.02, 0.0, 0.03, 0.05),
    "medium": (-0.17, 0.15, 0.18),
    "high": (-0.36, 0.32, 0.40),
    "critical": (-0.65, 0.90, 1.50),
}
CATEGORY_BANDS: dict[str, tuple[float, float]] = {
    "ok_exact": (0.0, 0.10),
    "ok": (0.0, 0.10),
    "medium": (0.10, 0.25),
    "high": (0.25, 0.50),
    "critical": (0.50, 1e9),
}

# ----------------------------------------------------------------------------------------------
# parameters, randomness, schedules


@dataclass(frozen=True)
class Params:
    """Everything a day's files depend on (``days`` is deliberately not here)."""

    start: dt.date
    companies: int
    employees: int
    claims_per_day: int
    seed: int
    dirt_rate: float
    history_days: int = 0
    #: customers of the lending snapshot (SPEC §5); 0 writes no landing/lending/ folder
    lending_customers: int = 0

    def to_json(self) -> dict:
        data = asdict(self)
        data["start"] = self.start.isoformat()
        if not self.lending_customers:  # roots without lending keep their generator.json as is
            del data["lending_customers"]
        return data

    @classmethod
    def from_json(cls, data: dict) -> Params:
        fields = dict(data)
        fields["start"] = dt.date.fromisoformat(fields["start"])
        return cls(**fields)


def _rng(params: Params, *parts: object) -> random.Random:
    """A generator seeded from the seed and a label (string seeding is stable across runs)."""
    return random.Random("|".join(str(part) for part in (params.seed, *parts)))


def _day(params: Params, k: int) -> dt.date:
    return params.start + dt.timedelta(days=k)


def is_delivery_day(params: Params, source: str, k: int) -> bool:
    """Whether ``source`` has a file on day ``k`` (day 0 always)."""
    if k == 0:
        return True
    if source == "employees":
        weekday = _day(params, k).weekday() < 5
        return weekday and (k < 7 or _rng(params, "sched", source, k).random() >= 0.15)
    if source == "plans":
        return k % 7 == 0 or k == 3 or (k > 3 and _rng(params, "sched", source, k).random() < 0.1)
    return not (k >= 7 and k % 23 == 10)  # claims: occasional gaps


def _delivery_index(params: Params, source: str, k: int) -> int:
    return sum(is_delivery_day(params, source, i) for i in range(k))


def _share(rate: float, kinds: int) -> float:
    """Per-kind rate, capped so that mutually exclusive kinds of one field fit in 1."""
    return min(rate, 1.0 / kinds) if rate > 0 else 0.0


def _pick(rng: random.Random, rate: float, kinds: Sequence[str], default: str) -> str:
    """One of ``kinds`` each with probability ``rate`` (capped), else ``default``."""
    share = _share(rate, len(kinds))
    u = rng.random()
    if share and u < share * len(kinds):
        return kinds[min(int(u / share), len(kinds) - 1)]
    return default


def _count(rng: random.Random, rate: float, trials: int) -> int:
    return sum(rng.random() < rate for _ in range(trials))


# ----------------------------------------------------------------------------------------------
# formatting helpers


def _us(day: dt.date) -> str:
    return f"{day.month}/{day.day}/{day.year}"


def _bad_date(rng: random.Random, day: dt.date) -> str:
    """An unparseable rendering of ``day`` (never a valid ISO or US date, never empty)."""
    dm = day.strftime("%d/%m/%Y") if day.day > 12 else f"{day.day + 12}/{day.month:02d}/{day.year}"
    forms = (
        day.strftime("%Y/%m/%d"),
        dm,
        day.strftime("%Y%m%d"),
        f"{day.year}-02-30",
        day.strftime("%Y-%m-%d 10:00:00"),
        f"{day.year}-13-01",
    )
    return rng.choice(forms)


def _bad_ein(rng: random.Random, ein: str) -> str:
    return rng.choice((ein[:-1], ein[:5] + "X" + ein[6:], "EIN pending", ein[:2] + "-12AB567"))


def _ein_variant(rng: random.Random, ein: str) -> str:
    return rng.choice((ein.replace("-", ""), f"EIN: {ein}", f" {ein} "))


def _ascii(text: str) -> str:
    text = text.translate(str.maketrans({"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "ß": "ss"}))
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _kv(rng: random.Random, key: str, value: str) -> str:
    key = rng.choice((key, key, key.upper(), key.capitalize()))
    return f"{key}{rng.choice((': ', '=', ' = ', ':'))}{value}"


def _header_variant(rng: random.Random, name: str) -> str:
    return rng.choice(
        (name.upper(), name.title(), f"  {name} ", f" {name.title()}  ", name.capitalize())
    )


# ----------------------------------------------------------------------------------------------
# the world: companies, day-0 roster, expectations, spikes


@dataclass
class Company:
    idx: int
    ein: str
    name: str
    domains: tuple[str, ...]
    industry: str | None
    state: str | None
    in_lookup: bool
    category: str
    expected_headcount: int | None = None
    spike_start: dt.date | None = None

    def lookup_entry(self) -> dict:
        return {
            "ein": self.ein,
            "company_name": self.name,
            "domains": list(self.domains),
            "industry": self.industry,
            "expected_headcount": self.expected_headcount,
            "state": self.state,
        }


@dataclass
class Person:
    pid: str
    first: str
    last: str
    company: int
    title: str
    dept: str | None
    start_date: dt.date
    ein_mode: str  # column|ein_variant|bad_ein|ein_in_notes|ein_from_email|email_subdomain
    email_mode: str  # normal | invalid_email | email_case_space
    email: str
    comma_name: bool
    bad_ein: str = ""
    local: str = ""  # e-mail local part
    status: str = "active"  # active | leave | terminated
    term_date: dt.date | None = None
    term_form: str = ""


@dataclass
class World:
    params: Params
    companies: list[Company]
    persons: list[Person]  # the day-0 roster; claims refer to these by index


def build_world(params: Params) -> World:
    rng = _rng(params, "world")
    companies = _make_companies(params, rng)
    persons = _make_roster(params, companies, rng)
    _set_expectations(companies, persons, rng)
    _set_spikes(params, companies, persons, rng)
    return World(params, companies, persons)


def _make_companies(params: Params, rng: random.Random) -> list[Company]:
    names = [(a, n) for a in NAME_ADJ for n in NAME_NOUN]
    rng.shuffle(names)
    unknown = 1 if params.companies < 10 else 2
    eins: set[str] = set()
    companies = []
    for idx in range(params.companies + unknown):
        adj, noun = names[idx % len(names)]
        tag = "" if idx < len(names) else str(idx // len(names) + 1)
        ein = ""
        while not ein or ein in eins:
            ein = f"{rng.randint(10, 99)}-{rng.randint(1_000_000, 9_999_999)}"
        eins.add(ein)
        slug = _ascii(adj + noun) + tag
        domains: tuple[str, ...] = (f"{slug}.com",)
        if rng.random() < 0.4:
            domains += (f"{_ascii(noun)}{_ascii(adj)[:3]}{tag}.io",)
        in_lookup = idx < params.companies
        if not in_lookup:
            category = "unknown"
        elif idx < len(CATEGORY_ORDER):
            category = CATEGORY_ORDER[idx]
        else:
            category = rng.choices(
                ("ok", "medium", "high", "critical", "no_expectation"), (6, 2, 1, 1, 1)
            )[0]
        companies.append(
            Company(
                idx=idx,
                ein=ein,
                name=f"{adj} {noun}{tag} {rng.choice(NAME_SUFFIX)}",
                domains=domains,
                industry=rng.choice(INDUSTRIES) if rng.random() > 0.1 else None,
                state=rng.choice(STATES) if rng.random() > 0.1 else None,
                in_lookup=in_lookup,
                category=category,
            )
        )
    return companies


def _headcounts(params: Params, companies: list[Company], rng: random.Random) -> list[int]:
    """Persons per company (largest remainder); unknown companies get about 3 % in total."""
    staffed = [c for c in companies if c.category != "missing_roster"]
    weights = {c.idx: rng.uniform(0.6, 2.5) for c in staffed if c.in_lookup}
    unknown = [c for c in staffed if not c.in_lookup]
    for company in unknown:
        weights[company.idx] = 0.03 * sum(weights.values() or [1.0]) / len(unknown)
    total = sum(weights.values())
    exact = {idx: params.employees * w / total for idx, w in weights.items()}
    counts = {idx: int(v) for idx, v in exact.items()}
    rest = params.employees - sum(counts.values())
    for idx in sorted(exact, key=lambda i: (counts[i] - exact[i], i))[:rest]:
        counts[idx] += 1
    for company in unknown:  # at least one person at each unknown company when possible
        donor = max(counts, key=lambda i: (counts[i], -i))
        if counts[company.idx] == 0 and counts[donor] > 1:
            counts[donor] -= 1
            counts[company.idx] += 1
    return [counts.get(c.idx, 0) for c in companies]


def _new_person(
    params: Params,
    rng: random.Random,
    pid: str,
    company: Company,
    start_date: dt.date,
    emails: set[str],
    modes: tuple[str, str] | None = None,
) -> Person:
    rate = params.dirt_rate
    if modes is None:
        ein_mode = _pick(
            rng,
            rate,
            ("ein_variant", "bad_ein", "ein_in_notes", "ein_from_email", "email_subdomain"),
            "column",
        )
        email_mode = _pick(rng, rate, ("invalid_email", "email_case_space"), "normal")
        if ein_mode == "ein_from_email" and email_mode == "invalid_email":
            email_mode = "normal"
        modes = (ein_mode, email_mode)
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    local = base = f"{_ascii(first)}.{_ascii(last)}"
    n = 1
    while local in emails:
        n += 1
        local = f"{base}{n}"
    emails.add(local)
    return Person(
        pid=pid,
        first=first,
        last=last,
        company=company.idx,
        title=rng.choice(TITLES),
        dept=rng.choice(DEPTS) if rng.random() < 0.7 else None,
        start_date=start_date,
        ein_mode=modes[0],
        email_mode=modes[1],
        email=_email(rng, first, last, local, company, modes),
        comma_name=rng.random() < _share(rate, 1),
        bad_ein=_bad_ein(rng, company.ein),
        local=local,
    )


def _email(
    rng: random.Random, first: str, last: str, local: str, company: Company, modes: tuple[str, str]
) -> str:
    domain = rng.choice(company.domains)
    if modes[0] == "email_subdomain":  # must not resolve: sub-domains do not match
        domain = f"{rng.choice(('mail', 'corp', 'us'))}.{domain}"
    if modes[1] == "invalid_email":
        return rng.choice(
            (
                f"{local}@{domain.split('.')[0]}",
                f"{first} {last}@{domain}",
                f"{local}.{domain}",
                f"{local}@@{domain}",
            )
        )
    if modes[1] == "email_case_space":
        return f"  {local.title()}@{domain.upper()} "
    return f"{local}@{domain}"


def _force_roster_kinds(
    params: Params, companies: list[Company], persons: list[Person], rng: random.Random
) -> None:
    """Make sure the day-0 roster shows every employee kind at least once."""
    candidates = [p for p in persons if companies[p.company].in_lookup and p.status == "active"]
    rng.shuffle(candidates)
    wanted: list[tuple[str, str]] = [("term", "key"), ("term", "phrase")]
    if params.dirt_rate > 0:
        wanted += [("ein", m) for m in ("ein_variant", "bad_ein", "ein_in_notes")]
        wanted += [("ein", m) for m in ("ein_from_email", "email_subdomain")]
        wanted += [("email", m) for m in ("invalid_email", "email_case_space")] + [("name", "")]
    for (what, mode), person in zip(wanted, candidates, strict=False):
        if what == "term":
            if any(p.term_form.startswith(mode) for p in persons if p.status == "terminated"):
                continue
            person.status, person.term_form = "terminated", mode
            person.term_date = max(person.start_date, params.start - dt.timedelta(days=3))
        elif what == "name":
            person.comma_name = person.comma_name or not any(p.comma_name for p in persons)
        elif not any(getattr(p, f"{what}_mode") == mode for p in persons):
            modes = (mode, "normal") if what == "ein" else ("column", mode)
            person.ein_mode, person.email_mode = modes
            company = companies[person.company]
            person.email = _email(rng, person.first, person.last, person.local, company, modes)


def _make_roster(params: Params, companies: list[Company], rng: random.Random) -> list[Person]:
    persons: list[Person] = []
    emails: set[str] = set()
    for company, count in zip(companies, _headcounts(params, companies, rng), strict=True):
        for _ in range(count):
            roll = rng.random()
            if roll < 0.01:  # pre-hire: on the roster, starts within two weeks
                start = params.start + dt.timedelta(days=rng.randint(1, 14))
            else:
                start = params.start - dt.timedelta(days=rng.randint(1, 3650))
            pid = f"E{10_000_001 + len(persons)}"
            person = _new_person(params, rng, pid, company, start, emails)
            if 0.01 <= roll < 0.03:
                person.status = "terminated"
                person.term_date = start + dt.timedelta(days=rng.randint(0, 300))
                person.term_date = min(person.term_date, params.start - dt.timedelta(days=1))
                person.term_form = _term_form(rng)
            elif 0.03 <= roll < 0.05:
                person.status = "leave"
            persons.append(person)
    _force_roster_kinds(params, companies, persons, rng)
    return persons


def _domain_owner(companies: list[Company]) -> dict[str, int]:
    return {d: c.idx for c in companies if c.in_lookup for d in c.domains}


def _resolved_company(person: Person, companies: list[Company]) -> int | None:
    """The company index the SPEC's EIN resolution gives a clean row of ``person``."""
    if person.ein_mode in ("column", "ein_variant", "ein_in_notes"):
        return person.company
    if person.ein_mode == "email_subdomain" or person.email_mode == "invalid_email":
        return None
    domain = person.email.strip().lower().rsplit("@", 1)[-1]
    return _domain_owner(companies).get(domain)


def _expected(observed: int, category: str, rng: random.Random) -> int:
    """An expected headcount whose pct_diff against ``observed`` falls in the category's band."""
    if observed == 0:
        return rng.randint(20, 200)
    target = rng.choice(CATEGORY_TARGETS[category])
    low, high = CATEGORY_BANDS[category]
    guess = max(1, round(observed / (1 + target)))
    candidates = sorted(range(max(1, guess - 3), guess + 4), key=lambda e: (abs(e - guess), e))
    for expected in candidates:
        if low <= abs(observed - expected) / expected < high:
            return expected
    return guess


def _set_expectations(companies: list[Company], persons: list[Person], rng: random.Random) -> None:
    observed: Counter[int] = Counter()
    for person in persons:
        if person.status != "terminated":
            resolved = _resolved_company(person, companies)
            if resolved is not None:
                observed[resolved] += 1
    for company in companies:
        if not company.in_lookup:
            continue
        if company.category == "no_expectation":
            company.expected_headcount = None
        elif company.category == "zero":
            company.expected_headcount = 0
        elif company.category == "missing_roster":
            company.expected_headcount = rng.randint(20, 200)
        else:
            company.expected_headcount = _expected(observed[company.idx], company.category, rng)


def _set_spikes(
    params: Params, companies: list[Company], persons: list[Person], rng: random.Random
) -> None:
    staffed = sorted({p.company for p in persons if companies[p.company].in_lookup})
    count = min(len(staffed), max(1, round(params.companies / 6)))
    for idx in rng.sample(staffed, count):
        companies[idx].spike_start = params.start - dt.timedelta(days=rng.randint(20, 40))


# ----------------------------------------------------------------------------------------------
# file styles (file-level dirt) and the small-file writer


@dataclass(frozen=True)
class FileStyle:
    order: tuple[str, ...]  # column keys in file order (contract names + maybe the extra column)
    header: tuple[str, ...]  # names as written
    bom: bool = False
    crlf: bool = False
    extra_value: str = ""
    blank_lines: bool = False
    kinds: tuple[str, ...] = ()

    @property
    def newline(self) -> str:
        return "\r\n" if self.crlf else "\n"


def file_style(params: Params, source: str, k: int) -> FileStyle:
    rng = _rng(params, "style", source, k)
    rate = min(0.5, 5 * params.dirt_rate) if params.dirt_rate > 0 else 0.0
    forced: set[str] = set()
    if params.dirt_rate > 0:
        index = _delivery_index(params, source, k)
        if index == 0:
            forced = {"bom", "reordered_columns", "extra_column"}
        elif index == 1:
            forced = {"crlf", "header_variant", "blank_lines"}
    draws = {kind: rng.random() for kind in FILE_KINDS}
    kinds = {kind for kind in FILE_KINDS if kind in forced or draws[kind] < rate}
    order = list(COLUMNS[source])
    if "reordered_columns" in kinds:
        while tuple(order) == COLUMNS[source]:
            rng.shuffle(order)
    if "extra_column" in kinds:
        order.insert(rng.randint(0, len(order)), EXTRA_COLUMNS[source])
    header = list(order)
    if "header_variant" in kinds:
        while header == order:
            header = [_header_variant(rng, name) if rng.random() < 0.6 else name for name in order]
    return FileStyle(
        order=tuple(order),
        header=tuple(header),
        bom="bom" in kinds,
        crlf="crlf" in kinds,
        extra_value=f"{EXTRA_COLUMNS[source]}-v{k % 3 + 1}",
        blank_lines="blank_lines" in kinds,
        kinds=tuple(kind for kind in FILE_KINDS if kind in kinds),
    )


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _write_small_csv(
    path: Path, rows: list[dict[str, str]], style: FileStyle, rng: random.Random
) -> tuple[str, ...]:
    """Write rows per ``style``; returns the file kinds actually present."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=style.newline)
    writer.writerow(style.header)
    blanks: set[int] = set()
    if style.blank_lines and len(rows) >= 2:
        blanks = set(rng.sample(range(len(rows) - 1), min(3, len(rows) - 1)))
    for i, row in enumerate(rows):
        writer.writerow([row.get(column, style.extra_value) for column in style.order])
        if i in blanks:
            buffer.write(style.newline)
    text = (BOM if style.bom else "") + buffer.getvalue()
    _atomic_write_bytes(path, text.encode("utf-8"))
    return tuple(k for k in style.kinds if k != "blank_lines" or blanks)


def _generic_kinds(rows: list[dict[str, str]]) -> Counter[str]:
    """Kinds visible in any source's raw values: commas (quoted fields), whitespace-only."""
    found: Counter[str] = Counter()
    for row in rows:
        values = row.values()
        found["quoted_comma"] += any("," in v for v in values)
        found["whitespace_only"] += any(v and not v.strip() for v in values)
    return found


def _insert_junk(rng: random.Random, rows: list[dict[str, str]], junk: list[dict[str, str]]):
    for row in junk:
        rows.insert(rng.randint(0, len(rows)), row)


def _exact_duplicates(
    rng: random.Random, rows: list[dict[str, str]], count: int, kinds: Counter[str]
) -> None:
    for _ in range(count if rows else 0):
        i = rng.randrange(len(rows))
        rows.insert(rng.randint(i + 1, len(rows)), dict(rows[i]))
        kinds["exact_duplicate"] += 1


# ----------------------------------------------------------------------------------------------
# employees


def _term_form(rng: random.Random) -> str:
    return rng.choice(("key", "key_us", "key_nodate", "phrase", "phrase_iso"))


def _notes(rng: random.Random, person: Person, ein: str, kinds: Counter[str]) -> str:
    parts: list[str] = []
    if person.dept and rng.random() < 0.8:
        parts.append(_kv(rng, "dept", person.dept))
    if person.status == "leave":
        parts.append(_kv(rng, "status", rng.choice(("leave", "Leave", "LEAVE"))))
    if person.ein_mode == "ein_in_notes":
        parts.append(_kv(rng, "ein", rng.choice((ein, ein.replace("-", "")))))
    if person.status == "terminated":
        term = person.term_date or dt.date.min
        form = person.term_form
        if form == "key":
            parts += [_kv(rng, "status", "terminated"), _kv(rng, "term_date", term.isoformat())]
        elif form == "key_us":
            parts += [_kv(rng, "status", "Terminated"), _kv(rng, "term_date", _us(term))]
        elif form == "key_nodate":
            parts.append(_kv(rng, "status", "terminated"))
        elif form == "phrase":
            parts.append(f"Terminated {_us(term)}")
        else:
            parts.append(f"terminated {term.isoformat()} per HR")
        kinds[
            "terminated_phrase_notes" if form.startswith("phrase") else "terminated_key_notes"
        ] += 1
    if rng.random() < 0.05:
        parts.append(rng.choice(FREE_NOTES))
    return rng.choice(("; ", " | ", ";", "|")).join(parts)


def _employee_row(
    world: World, rng: random.Random, person: Person, kinds: Counter[str]
) -> dict[str, str]:
    rate = world.params.dirt_rate
    ein = world.companies[person.company].ein
    column = {
        "column": ein,
        "ein_variant": _ein_variant(rng, ein),
        "bad_ein": person.bad_ein,
    }.get(person.ein_mode, rng.choice(("", "", "  ")))
    if person.ein_mode != "column":
        kinds[person.ein_mode] += 1
    if person.email_mode != "normal":
        kinds[person.email_mode] += 1
    start = person.start_date.isoformat()
    if rng.random() < _share(rate, 1):
        start = _us(person.start_date)
        kinds["us_date"] += 1
    notes = _notes(rng, person, ein, kinds)
    title = person.title
    roll = rng.random()
    if roll < _share(rate, 2):
        title = rng.choice(("   ", " "))
    elif roll < 2 * _share(rate, 2) and not notes:
        notes = "  "
    name = (
        f"{person.last}, {person.first}" if person.comma_name else f"{person.first} {person.last}"
    )
    return {
        "person_id": person.pid,
        "full_name": name,
        "email": person.email,
        "title": title,
        "company_ein": column,
        "start_date": start,
        "notes": notes,
    }


@dataclass
class _EmployeeState:
    persons: list[Person]
    last_rows: dict[str, dict[str, str]]  # person_id -> last row delivered


def _employee_events(world: World, state: _EmployeeState, k: int, rng: random.Random):
    """Persons touched on day k > 0 (terminations with replacement hires, titles, leave)."""
    day = _day(world.params, k)
    touched: dict[str, Person] = {}
    emails = {p.local for p in state.persons}
    events = max(1, round(len(world.persons) * 0.004))
    for j in range(events):
        kind = rng.choices(("replace", "title", "resend", "leave"), (4, 3, 2, 1))[0]
        person = rng.choice(state.persons)
        if person.pid in touched or person.pid not in state.last_rows:
            continue
        started = person.start_date <= day and person.status != "terminated"
        if kind == "replace" and started:
            person.status = "terminated"
            person.term_date = max(person.start_date, day - dt.timedelta(days=rng.randint(0, 7)))
            person.term_form = _term_form(rng)
            company = world.companies[person.company]
            hire_start = day - dt.timedelta(days=rng.randint(0, 10))
            hire = _new_person(
                world.params,
                rng,
                f"H{k:04d}{j:03d}",
                company,
                hire_start,
                emails,
                (person.ein_mode, person.email_mode),
            )
            state.persons.append(hire)
            touched[hire.pid] = hire
        elif kind == "title" and started:
            person.title = rng.choice([t for t in TITLES if t != person.title])
        elif kind == "leave" and started:
            person.status = "active" if person.status == "leave" else "leave"
        touched[person.pid] = person
    return list(touched.values())


def _employee_junk(
    world: World, state: _EmployeeState, k: int, rows: list[dict[str, str]], rng: random.Random
) -> tuple[list[dict[str, str]], Counter[str]]:
    """Rows that must be rejected (on junk ids, or as rejected re-sends of known persons)."""
    rate, kinds = world.params.dirt_rate, Counter[str]()
    in_file = {row["person_id"] for row in rows}
    known = [pid for pid in state.last_rows if pid not in in_file]
    junk: list[dict[str, str]] = []
    day = _day(world.params, k)

    def base(j: int) -> dict[str, str]:
        if known and rng.random() < 0.5:
            pid = rng.choice(known)
            known.remove(pid)
            kinds["rejected_resend"] += 1
            return dict(state.last_rows[pid])
        return dict(rng.choice(rows), person_id=f"X{k:04d}{j:03d}")

    for kind in ("missing_key", "bad_date", "missing_date", "conflicting_duplicate"):
        count = _count(rng, rate, len(rows))
        count = max(count, 1) if (k == 0 and rate > 0 and rows) else count
        for _ in range(count if rows else 0):
            j = len(junk)
            if kind == "missing_key":
                junk.append(dict(rng.choice(rows), person_id=rng.choice(("", "   "))))
            elif kind == "bad_date":
                junk.append(dict(base(j), start_date=_bad_date(rng, day)))
            elif kind == "missing_date":
                junk.append(dict(base(j), start_date=rng.choice(("", " "))))
            else:
                first = base(j)
                other = rng.choice([t for t in TITLES if t != first["title"]])
                junk += [first, dict(first, title=other)]
                kinds[kind] += 1
            kinds[kind] += 1
    if _first_redelivery(world.params, "employees", k) and known and not kinds["rejected_resend"]:
        junk.append(dict(state.last_rows[rng.choice(known)], start_date=_bad_date(rng, day)))
        kinds.update(("rejected_resend", "bad_date"))
    return junk, kinds


def _first_redelivery(params: Params, source: str, k: int) -> bool:
    """The source's first delivery after day 0, where re-send kinds are forced (dirty runs)."""
    return params.dirt_rate > 0 and k > 0 and _delivery_index(params, source, k) == 1


def _employee_day(
    world: World, state: _EmployeeState, k: int
) -> tuple[list[dict[str, str]], Counter[str]]:
    rng = _rng(world.params, "employees", k)
    kinds: Counter[str] = Counter()
    persons = state.persons if k == 0 else _employee_events(world, state, k, rng)
    rows = [_employee_row(world, rng, person, kinds) for person in persons]
    junk, junk_kinds = _employee_junk(world, state, k, rows, rng)
    for row in rows:
        state.last_rows[row["person_id"]] = row
    kinds.update(junk_kinds)
    _insert_junk(rng, rows, junk)
    dup_rate = world.params.dirt_rate
    dups = _count(rng, dup_rate, len(rows))
    _exact_duplicates(rng, rows, max(dups, 1) if k == 0 and dup_rate > 0 else dups, kinds)
    return rows, kinds


def _employee_stream(world: World, until: int) -> Iterator[tuple[int, list[dict], Counter[str]]]:
    """(k, rows, kinds) for every employees delivery day k < until; state evolves every day."""
    persons = [replace(p) for p in world.persons]
    state = _EmployeeState(persons=persons, last_rows={})
    for k in range(until):
        if is_delivery_day(world.params, "employees", k):  # no delivery, no HRIS events
            rows, kinds = _employee_day(world, state, k)
            yield k, rows, kinds


# ----------------------------------------------------------------------------------------------
# plans


@dataclass(frozen=True)
class _PlanVersion:
    offset: int  # first delivery day index it may appear on
    plan_id: str
    company: int
    ptype: str
    carrier: str
    start: dt.date
    end: dt.date | None
    kinds: tuple[str, ...]


def _plan_sequence(params: Params, company: Company, ptype: str) -> list[_PlanVersion]:
    """Plan versions of one (company, plan_type): intervals with every relation, plus re-sends."""
    rng = _rng(params, "plans", company.idx, ptype)
    forced = company.idx == 0
    relations = iter(FORCED_RELATIONS if forced and ptype == "medical" else ())
    outer_start = params.start - dt.timedelta(days=rng.randint(420, 760))
    outer_end = outer_start - dt.timedelta(days=1)
    carrier = rng.choice(CARRIERS_BY_TYPE[ptype])
    horizon = params.start + dt.timedelta(days=400)
    plans: list[tuple[dt.date, dt.date, str, str]] = []  # start, end, carrier, relation
    while True:
        relation = "first"
        if plans:
            relation = next(relations, None) or rng.choices(PLAN_RELATIONS, (30, 20, 15, 15, 10))[0]
        length = rng.randint(60, 120) if forced else rng.randint(150, 400)
        if rng.random() < 0.3:
            carrier = rng.choice(CARRIERS_BY_TYPE[ptype])
        if relation == "nested" and (outer_end - outer_start).days > 20:
            start = outer_start + dt.timedelta(
                days=rng.randint(5, (outer_end - outer_start).days // 2)
            )
            end = start + dt.timedelta(days=rng.randint(1, (outer_end - start).days - 2))
            plans.append((start, end, carrier, relation))
            continue
        relation = "adjacent" if relation == "nested" else relation
        start = {
            "first": outer_start,
            "adjacent": outer_end + dt.timedelta(days=1),
            "overlap": outer_end - dt.timedelta(days=rng.randint(1, 30)),
            "gap": outer_end + dt.timedelta(days=rng.randint(3, 60)),
            "one_day_gap": outer_end + dt.timedelta(days=2),
        }[relation]
        if start > horizon:
            break
        outer_start, outer_end = start, start + dt.timedelta(days=length - 1)
        plans.append((outer_start, outer_end, carrier, relation))
    return _plan_versions(params, company, ptype, plans, rng)


def _plan_versions(
    params: Params,
    company: Company,
    ptype: str,
    plans: list[tuple[dt.date, dt.date, str, str]],
    rng: random.Random,
) -> list[_PlanVersion]:
    versions: list[_PlanVersion] = []
    # company 0 always shows a gap closed by a re-send (dental) and an open end closed (vision)
    pending = {"dental": 0.05, "vision": 0.25}.get(ptype) if company.idx == 0 else None
    open_last = rng.random() < 0.4 or (company.idx == 0 and ptype == "medical")
    for i, (start, end, carrier, relation) in enumerate(plans):
        plan_id = f"PL-{company.idx:03d}-{ptype[0].upper()}{i + 1:02d}"
        offset = max(0, (start - params.start).days - rng.randint(30, 90))
        kinds = () if relation == "first" else (f"plan_{relation}",)
        final_end: dt.date | None = None if (open_last and i == len(plans) - 1) else end
        successor = next((p for p in plans[i + 1 :] if p[3] != "nested"), None)
        roll = rng.random()
        resend_at = offset + rng.randint(3, 40)
        closable = bool(successor and final_end and successor[0] <= final_end + dt.timedelta(1))
        if pending is not None and offset == 0 and successor and relation != "nested":
            if closable or ptype == "vision":
                roll, resend_at, pending = pending, 3, None
        first_end = final_end
        resend_kinds: tuple[str, ...] = ()
        if roll < 0.15 and successor and relation != "nested" and final_end:
            # first sent ending early, later re-sent with the real end (closing a gap if any)
            first_end = final_end - dt.timedelta(days=rng.randint(10, 40))
            had_gap = successor[0] > first_end + dt.timedelta(days=1)
            gap_closed = had_gap and closable
            resend_kinds = ("plan_resend", "plan_gap_closed") if gap_closed else ("plan_resend",)
        elif roll < 0.30 and successor and final_end:
            first_end = None  # open-ended until the carrier announces the end
            resend_kinds = ("plan_resend",)
        elif roll < 0.40:
            resend_kinds = ("plan_resend",)  # unchanged re-send
        first_kinds = kinds + (("plan_open_ended",) if first_end is None else ())
        versions.append(
            _PlanVersion(
                offset, plan_id, company.idx, ptype, carrier, start, first_end, first_kinds
            )
        )
        if resend_kinds:
            versions.append(
                _PlanVersion(
                    resend_at, plan_id, company.idx, ptype, carrier, start, final_end, resend_kinds
                )
            )
    return versions


def _plan_row(
    world: World, rng: random.Random, version: _PlanVersion, kinds: Counter[str]
) -> dict[str, str]:
    rate = world.params.dirt_rate
    ein = world.companies[version.company].ein
    if rng.random() < _share(rate, 1):
        ein = _ein_variant(rng, ein)
        kinds["ein_variant"] += 1
    ptype = version.ptype
    if rng.random() < _share(rate, 1):
        ptype = rng.choice((ptype.upper(), f"  {ptype.title()} ", f"{ptype.title()} "))
        kinds["type_variant"] += 1
    spellings = CARRIERS[version.carrier]
    carrier = spellings[0] if rng.random() < 0.4 else rng.choice(spellings)
    kinds["carrier_variant"] += carrier != spellings[0]
    if rng.random() < _share(rate, 1):
        carrier = rng.choice(("   ", " "))
    start, end = version.start.isoformat(), version.end.isoformat() if version.end else ""
    if rng.random() < _share(rate, 1):
        start = _us(version.start)
        end = _us(version.end) if version.end and rng.random() < 0.5 else end
        kinds["us_date"] += 1
    kinds.update(version.kinds)
    return {
        "plan_id": version.plan_id,
        "company_ein": ein,
        "plan_type": ptype,
        "carrier_name": carrier,
        "start_date": start,
        "end_date": end,
    }


PLAN_JUNK = (
    "missing_key",
    "bad_ein",
    "unknown_type",
    "bad_date",
    "missing_date",
    "bad_end_date",
    "end_before_start",
    "conflicting_duplicate",
)


def _parse_date(text: str) -> dt.date | None:
    """SPEC date parsing (ISO or US M/D/YYYY), for values this module wrote."""
    text = text.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return dt.date.fromisoformat(text)
        if match := re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", text):
            month, day, year = (int(g) for g in match.groups())
            return dt.date(year, month, day)
    except ValueError:
        return None
    return None


def _corrupt_plan(rng: random.Random, row: dict[str, str], kind: str, day: dt.date) -> dict:
    start = _parse_date(row["start_date"]) or day
    if kind == "missing_key":
        return dict(row, plan_id=rng.choice(("", "  ")))
    if kind == "bad_ein":
        digits = re.sub(r"\D", "", row["company_ein"]).ljust(9, "0")[:9]
        return dict(row, company_ein=_bad_ein(rng, f"{digits[:2]}-{digits[2:]}"))
    if kind == "unknown_type":
        return dict(row, plan_type=rng.choice(UNKNOWN_PLAN_TYPES))
    if kind == "bad_date":
        return dict(row, start_date=_bad_date(rng, start))
    if kind == "missing_date":
        return dict(row, start_date=rng.choice(("", "  ")))
    if kind == "bad_end_date":
        return dict(row, end_date=_bad_date(rng, start + dt.timedelta(days=200)))
    return dict(row, end_date=(start - dt.timedelta(days=rng.randint(1, 30))).isoformat())


def _plan_junk(
    world: World,
    last_rows: dict[str, dict[str, str]],
    k: int,
    rows: list[dict[str, str]],
    rng: random.Random,
) -> tuple[list[dict[str, str]], Counter[str]]:
    rate, kinds = world.params.dirt_rate, Counter[str]()
    in_file = {row["plan_id"] for row in rows}
    known = [pid for pid in last_rows if pid not in in_file]
    templates = rows or list(last_rows.values())
    junk: list[dict[str, str]] = []
    day = _day(world.params, k)
    for kind in PLAN_JUNK:
        count = _count(rng, rate, len(rows))
        count = max(count, 1) if (k == 0 and rate > 0) else count
        for _ in range(count if templates else 0):
            if kind != "missing_key" and known and rng.random() < 0.5:
                pid = rng.choice(known)
                known.remove(pid)
                base = dict(last_rows[pid])
                kinds["rejected_resend"] += 1
            else:
                base = dict(rng.choice(templates), plan_id=f"PLX-{k:04d}-{len(junk):03d}")
            if kind == "conflicting_duplicate":
                other = _corrupt_plan(rng, base, "end_before_start", day)
                other["end_date"] = (day + dt.timedelta(days=rng.randint(30, 300))).isoformat()
                junk += [base, other]
                kinds[kind] += 2
                continue
            junk.append(_corrupt_plan(rng, base, kind, day))
            kinds[kind] += 1
    if _first_redelivery(world.params, "plans", k) and known and not kinds["rejected_resend"]:
        junk.append(_corrupt_plan(rng, dict(last_rows[rng.choice(known)]), "bad_end_date", day))
        kinds.update(("rejected_resend", "bad_end_date"))
    return junk, kinds


def _plan_stream(world: World, until: int) -> Iterator[tuple[int, list[dict], Counter[str]]]:
    versions = [
        v
        for company in world.companies
        for ptype in PLAN_TYPES
        if ptype == "medical" or _rng(world.params, "offers", company.idx, ptype).random() < 0.8
        for v in _plan_sequence(world.params, company, ptype)
    ]
    last_rows: dict[str, dict[str, str]] = {}
    previous = -1
    for k in range(until):
        if not is_delivery_day(world.params, "plans", k):
            continue
        rng = _rng(world.params, "plans-day", k)
        kinds: Counter[str] = Counter()
        due = [v for v in versions if previous < v.offset <= k or (k == 0 and v.offset <= 0)]
        due = list({v.plan_id: v for v in due}.values())  # latest version per plan in a file
        rows = [_plan_row(world, rng, v, kinds) for v in due]
        junk, junk_kinds = _plan_junk(world, last_rows, k, rows, rng)
        for row in rows:
            last_rows[row["plan_id"]] = row
        kinds.update(junk_kinds)
        _insert_junk(rng, rows, junk)
        dups = _count(rng, world.params.dirt_rate, len(rows))
        forced = k == 0 and world.params.dirt_rate > 0
        _exact_duplicates(rng, rows, max(dups, 1) if forced else dups, kinds)
        previous = k
        yield k, rows, kinds


# ----------------------------------------------------------------------------------------------
# claims (DuckDB)
#
# A day is one COPY of one unquoted VARCHAR column (the whole line; its name is the header line)
# plus one small GROUP BY over the packed kind code. Row p's decision hash h0 = hash(p + salt)
# makes it a pair row (an exact copy of row p-1, or row p-1's claim_id with other values), a
# correction (an earlier day's claim_id re-sent with one value changed) or dirty (one field-level
# kind of CLAIM_KINDS). Pairs, corrections and missing keys only occur at odd positions, so row
# p-1 of a pair is never one of them; rows p % 16 == 0 ("anchors") are clean originals, which is
# what corrections refer to. Content comes from hashes of key = (claim day << 36) + claim row, so
# a copy or a correction recomputes the original's values. Clean rows take a short path of cheap
# expressions: on this class of machine every per-row operation costs ~0.05 s per 20M rows.

MASK = (1 << 20) - 1
ROW_MASK = (1 << 36) - 1
FORCED_ZONE = 10  # rows 0..10 of days 0..4 hold forced kinds (no random pairs/corrections there)
BUCKETS = 1024  # claims pick a company by bucket (share = headcount), then a person in it
#: Field-level claim kinds; a dirty row carries exactly one (index = position in this list).
CLAIM_KINDS: tuple[str, ...] = (
    "missing_key",  # claim_id
    "whitespace_only",  # person_id
    "bad_ein",
    "ein_variant",
    "unknown_type",
    "type_variant",
    "bad_date",
    "missing_date",
    "us_date",
    "future_service_date",
    "amount_dollar",
    "amount_three_decimals",
    "amount_invalid",
    "amount_negative",
    "amount_too_large",
    "amount_max",
    "amount_missing",
)
K = {kind: i for i, kind in enumerate(CLAIM_KINDS)}
CLAIM_TYPE_SQL = (
    "CASE {t} WHEN 0 THEN 'medical' WHEN 1 THEN 'pharmacy' WHEN 2 THEN 'dental' ELSE 'vision' END"
)


def _salt(params: Params, *parts: object) -> int:
    """A 56-bit constant: key + salt stays below 2**63."""
    return _rng(params, "salt", *parts).getrandbits(56)


def _forced_claims(params: Params, k: int) -> dict[int, int]:
    """Row position -> kind index forced on day k (each claim kind once over days 0..4)."""
    if params.dirt_rate <= 0 or k > 4 or params.claims_per_day <= FORCED_ZONE:
        return {}
    return {2 + g // 5: g for g in range(len(CLAIM_KINDS)) if g % 5 == k}


def _spike_sql(world: World) -> str:
    """Cost multiplier for (company, service day): a few companies spike for SPIKE_DAYS days."""
    offset = {
        c.idx: (c.spike_start - world.params.start).days for c in world.companies if c.spike_start
    }
    whens = [
        f"WHEN cidx = {idx} AND sday BETWEEN {first} AND {first + SPIKE_DAYS - 1} "
        f"THEN {SPIKE_FACTOR}"
        for idx, first in offset.items()
    ]
    return f"CASE {' '.join(whens)} ELSE 1 END" if whens else "1"


@dataclass(frozen=True)
class _ClaimsDay:
    k: int
    total: int  # rows in the file
    prior: tuple[int, ...]  # earlier claims delivery days a correction may refer to


def _claims_day(params: Params, k: int) -> _ClaimsDay:
    prior = tuple(i for i in range(max(0, k - 45), k) if is_delivery_day(params, "claims", i))
    history = params.history_days if k == 0 else 0
    return _ClaimsDay(k, params.claims_per_day * (1 + history), prior[-30:])


@dataclass(frozen=True)
class _ClaimsSql:
    """The SQL snippets of one claims day."""

    rows: str  # CTEs ending in ``final``: one row per file position p, over table bm_rows
    clean: dict[str, str]  # contract column -> VARCHAR expression for clean rows
    special: dict[str, str]  # ... for dirty rows, pair rows and corrections
    code: str  # packed kinds (INTEGER), decoded by _decode_codes


def _claims_sql(world: World, day: _ClaimsDay) -> _ClaimsSql:
    params = world.params
    n, k, m, rate = params.claims_per_day, day.k, MASK, params.dirt_rate
    sd, sm = _salt(params, "d", k), _salt(params, "m", k)
    sv, sw = _salt(params, "v"), _salt(params, "w")
    forced = _forced_claims(params, k)
    zone = FORCED_ZONE if forced else 0
    # day 1 also forces a correction (row 7) and a late claim (row 9): realism, not dirt
    realism = k == 1 and n > FORCED_ZONE
    nk = len(CLAIM_KINDS)
    t_any = round(min(1.0, nk * rate) * (m + 1))
    t_key = min(m + 1 - t_any, round(rate * (m + 1)))  # odd rows: missing keys at twice the rate
    t_pair = round(min(1.0, 4 * rate) * 4096)  # odd rows only: twice the rate, two kinds
    t_corr = round(min(1.0, 2 * CORRECTION_RATE) * 65536) if day.prior else 0
    start = f"DATE '{params.start.isoformat()}'"
    today = _day(params, k)
    hm = f"hash(p + {sm})"

    is_pair = (
        f"(p % 2 = 1 AND p > {zone} AND ((h0 >> 48) & 4095) < {t_pair})" if t_pair else "FALSE"
    )
    corr0 = (
        f"(p % 2 = 1 AND p > {zone} AND p < {n} AND ((h0 >> 32) & 65535) < {t_corr})"
        if t_corr
        else "FALSE"
    )
    if realism:
        corr0 = f"({corr0} OR p = 7)"
    dirty = f"(p % 16 <> 0 AND (h0 & {m}) < {t_any} + (p % 2) * {t_key})" if t_any else "FALSE"
    if forced:
        dirty = f"(p IN ({', '.join(map(str, forced))}) OR {dirty})"
    own = f"{k << 36} + p - (pair_kind = 1)::BIGINT"
    key = own
    if day.prior:
        prior = "[" + ", ".join(str(i) for i in day.prior) + "]"
        key = (
            f"CASE WHEN is_corr THEN "
            f"({prior}[1 + ({hm} % {len(day.prior)})::BIGINT]::BIGINT << 36) "
            f"+ 16 * (({hm} >> 8) % {max(1, -(-n // 16))})::BIGINT ELSE {own} END"
        )
    r, hd = (
        "(p - (pair_kind = 1)::BIGINT)",
        f"CASE WHEN pair_kind = 1 THEN hash(p - 1 + {sd}) ELSE h0 END",
    )
    kind = "NULL::INTEGER"
    if t_any:
        pick = f"((({hd}) >> 20) & 4095) % {nk}"
        # 1,000,000.00 is valid: any share of it would dominate (and spike) every company's
        # 90-day cost, so it only appears on its forced row
        kind = f"""CASE WHEN {r} % 16 = 0 THEN NULL
            WHEN (({hd}) & {m}) < {t_any} THEN
                CASE WHEN {r} % 2 = 0 AND {pick} = 0 THEN NULL
                     WHEN {pick} = {K["amount_max"]} THEN NULL ELSE {pick} END
            WHEN {r} % 2 = 1 AND (({hd}) & {m}) < {t_any + t_key} THEN 0 END"""
    if forced:
        whens = " ".join(f"WHEN {pos} THEN {g}" for pos, g in sorted(forced.items()))
        kind = f"CASE p {whens} ELSE {kind} END"
    late = round(LATE_RATE * 1024)
    is_late = f"((hv >> 39) & 1023) < {late}" + (f" OR key = {(k << 36) + 9}" if realism else "")
    lag = f"(((hv >> 49) & 31) % 30 + 31 * ({is_late})::INTEGER)"
    sday = f"((key >> 36) - {lag})::INTEGER"  # service date as days since start
    if day.total > n:
        hist = f"(-1 - ((key & {ROW_MASK}) - {n}) % {params.history_days})::INTEGER"
        sday = f"CASE WHEN (key & {ROW_MASK}) >= {n} THEN {hist} ELSE {sday} END"
    rows = f"""
    pos AS (
      SELECT i AS p, hash(i + {sd}) AS h0 FROM bm_rows
    ),
    a AS (
      SELECT p, h0, {is_pair} AS is_pair, ((h0 >> 60) & 1) = 0 AS dupbit, {corr0} AS corr0,
        {dirty} AS dirty
      FROM pos
    ),
    b AS (
      SELECT p, h0, is_pair OR corr0 OR dirty AS special,
        CASE WHEN NOT is_pair THEN 0 WHEN dupbit THEN 1 ELSE 2 END AS pair_kind,
        corr0 AND NOT (is_pair AND dupbit) AS is_corr
      FROM a
    ),
    c AS (SELECT *, {key} AS key FROM b),
    d AS (
      SELECT *, hash(key + {sv}) AS hv, hash(key + {sw}) AS hw,
        CASE WHEN special THEN {kind} END AS kind
      FROM c
    ),
    e AS (
      SELECT *, getvariable('bm_bucket')[(hv & {BUCKETS - 1})::INTEGER + 1] AS cidx,
        ((hv >> 32) & 127)::INTEGER AS tbits
      FROM d
    ),
    f AS (
      SELECT *,
        getvariable('bm_start')[cidx + 1]
          + ((hv >> 10) & 4194303)::BIGINT % getvariable('bm_size')[cidx + 1] AS pidx,
        CASE WHEN tbits < 77 THEN 0 WHEN tbits < 109 THEN 1 WHEN tbits < 122 THEN 2
             ELSE 3 END AS t0,
        {sday} AS sday
      FROM e
    ),
    final AS (
      SELECT *,
        [90, 30, 60, 45][t0 + 1] * (512 + (hw & 511)::BIGINT * 4) // 512
          * (1 + 7 * (((hw >> 9) & 15) = 0)::INTEGER) * {_spike_sql(world)} AS d0,
        ((hw >> 13) % 100)::BIGINT AS c0,
        (hw >> 20) AS sub
      FROM f
    )"""
    # corrected values (a correction changes exactly one of amount, service date, type)
    cents = (
        f"(CASE WHEN is_corr AND ({hm} >> 40) % 3 = 0 "
        f"THEN (d0 * 100 + c0) * (101 + (({hm} >> 48) % 100)::BIGINT) // 100 "
        f"ELSE d0 * 100 + c0 END)"
    )
    svc = (
        f"(CASE WHEN is_corr AND ({hm} >> 40) % 3 = 1 "
        f"THEN {start} + sday - (1 + (({hm} >> 48) % 5)::INTEGER) ELSE {start} + sday END)"
    )
    t1 = f"(CASE WHEN is_corr AND ({hm} >> 40) % 3 = 2 THEN (t0 + 1) % 4 ELSE t0 END)"
    clean, special = _claims_fields(params, k, cents=cents, svc=svc, t1=t1)
    late_before = f"DATE '{(today - dt.timedelta(days=30)).isoformat()}'"
    parseable = f"(kind IS NULL OR kind = {K['us_date']})"
    comma = f"(kind = {K['amount_dollar']} OR (kind = {K['amount_too_large']} AND sub % 3 = 2))"
    code = (
        f"CASE WHEN special OR sday < {k - 30} "
        f"THEN pair_kind + 4 * is_corr::INTEGER "
        f"+ 8 * ({parseable} AND {svc} < {late_before})::INTEGER "
        f"+ 16 * (COALESCE(kind, -1) + 1) + 512 * COALESCE({comma}, FALSE)::INTEGER ELSE 0 END"
    )
    return _ClaimsSql(rows=rows, clean=clean, special=special, code=f"({code})::INTEGER")


def _first_sday(params: Params, k: int) -> int:
    """The earliest service day (days since start) of a clean row delivered on day k."""
    return min(k - 60, -params.history_days if k == 0 else 0)


def _money(cents: str) -> str:
    return f"(({cents})::DECIMAL(18, 0) / 100)::DECIMAL(18, 2)::VARCHAR"


def _claims_fields(
    params: Params, k: int, cents: str, svc: str, t1: str
) -> tuple[dict[str, str], dict[str, str]]:
    """(clean, special) field expressions: a clean row's values, and for special rows per field
    CASE WHEN <the row changes this field> THEN <dirty value> ELSE <clean value>."""
    types = "(" + CLAIM_TYPE_SQL.format(t=t1) + ")"
    prefix = f"CL{_day(params, k):%Y%m%d}-"
    own_prev = f"concat('{prefix}', 100000000 + p - 1)"
    start = f"DATE '{params.start.isoformat()}'"
    ein = "getvariable('bm_ein')[cidx + 1]"
    comma_cents = f"CASE WHEN {cents} < 100000 THEN {cents} + 100000 ELSE {cents} END"
    money = _money(cents)
    fields = {
        "claim_id": (
            f"pair_kind = 2 OR is_corr OR kind = {K['missing_key']}",
            f"""CASE WHEN pair_kind = 2 THEN
                CASE WHEN ((h0 >> 61) & 1) = 1 THEN concat(' ', {own_prev}, ' ') ELSE {own_prev} END
              WHEN kind = {K["missing_key"]} THEN CASE WHEN sub % 2 = 0 THEN '' ELSE '  ' END
              ELSE concat('CL', strftime({start} + (key >> 36)::INTEGER, '%Y%m%d'), '-',
                          100000000 + (key & {ROW_MASK}))
              END""",
            f"concat('{prefix}', 100000000 + (key & {ROW_MASK}))",
        ),
        "person_id": (
            f"kind = {K['whitespace_only']}",
            "CASE WHEN sub % 2 = 0 THEN '   ' ELSE ' ' END",
            "concat('E', 10000001 + pidx)",
        ),
        "company_ein": (
            f"kind IN ({K['bad_ein']}, {K['ein_variant']})",
            f"""CASE kind
              WHEN {K["bad_ein"]} THEN [left({ein}, 9), left({ein}, 5) || 'X' || right({ein}, 4),
                  'n/a', left({ein}, 3) || '12AB567'][1 + (sub % 4)::INTEGER]
              ELSE [replace({ein}, '-', ''), 'EIN: ' || {ein}][1 + (sub % 2)::INTEGER] END""",
            ein,
        ),
        "claim_type": (
            f"is_corr OR kind IN ({K['unknown_type']}, {K['type_variant']})",
            f"""CASE kind
              WHEN {K["unknown_type"]} THEN ['chiropractic', 'other', 'Medicl', 'hearing'][
                  1 + (sub % 4)::INTEGER]
              WHEN {K["type_variant"]} THEN [upper({types}),
                  '  ' || upper({types}[1]) || {types}[2:] || ' ',
                  ' ' || {types} || '  '][1 + (sub % 3)::INTEGER]
              ELSE {types} END""",
            CLAIM_TYPE_SQL.format(t="t0"),
        ),
        "service_date": (
            f"is_corr OR kind BETWEEN {K['bad_date']} AND {K['future_service_date']}",
            f"""CASE kind
              WHEN {K["bad_date"]} THEN [strftime({svc}, '%Y/%m/%d'),
                  CASE WHEN day({svc}) > 12 THEN strftime({svc}, '%d/%m/%Y')
                       ELSE (day({svc}) + 12)::VARCHAR || strftime({svc}, '/%m/%Y') END,
                  strftime({svc}, '%Y%m%d'), year({svc})::VARCHAR || '-02-30',
                  {svc}::VARCHAR || ' 10:00:00'][1 + (sub % 5)::INTEGER]
              WHEN {K["missing_date"]} THEN CASE WHEN sub % 2 = 0 THEN '' ELSE '  ' END
              WHEN {K["us_date"]} THEN strftime({svc}, '%-m/%-d/%Y')
              WHEN {K["future_service_date"]} THEN
                  ({start} + {k} + 1 + (sub % 14)::INTEGER)::VARCHAR
              ELSE {svc}::VARCHAR END""",
            f"getvariable('bm_dates')[sday - {_first_sday(params, k)} + 1]",
        ),
        "amount": (
            f"is_corr OR kind >= {K['amount_dollar']}",
            f"""CASE kind
              WHEN {K["amount_dollar"]} THEN concat('"$', format('{{:,}}', ({comma_cents}) // 100),
                  '.', (((({comma_cents}) % 100) + 100)::VARCHAR)[2:], '"')
              WHEN {K["amount_three_decimals"]} THEN concat({money}, sub % 10)
              WHEN {K["amount_invalid"]} THEN ['(5.00)', '1e3', '$-5', '.5', '12.34.56', '-$5',
                  concat('(', {money}, ')')][1 + (sub % 7)::INTEGER]
              WHEN {K["amount_negative"]} THEN
                  CASE WHEN sub % 2 = 0 THEN concat('-', {money}) ELSE '-5.00' END
              WHEN {K["amount_too_large"]} THEN ['1000000.01', '2500000.00',
                  '"$1,000,000.01"'][1 + (sub % 3)::INTEGER]
              WHEN {K["amount_max"]} THEN
                  CASE WHEN sub % 2 = 0 THEN '1000000.00' ELSE '$1000000.00' END
              WHEN {K["amount_missing"]} THEN ''
              ELSE {money} END""",
            _money("d0 * 100 + c0"),
        ),
    }
    clean = {name: value for name, (_, _, value) in fields.items()}
    special = {
        name: f"CASE WHEN {cond} THEN {dirty_value} ELSE {value} END"
        for name, (cond, dirty_value, value) in fields.items()
    }
    return clean, special


def _decode_codes(groups: list[tuple[int, int]]) -> Counter[str]:
    """Kind counts from (code, rows) groups of :func:`_claims_sql`'s packed code."""
    found: Counter[str] = Counter()
    for code, count in groups:
        pair, kind = code & 3, (code >> 4) & 31
        found["exact_duplicate"] += count * (pair == 1)
        found["conflicting_duplicate"] += 2 * count * (pair == 2)  # the row and row p-1
        found["correction"] += count * bool(code & 4)
        found["late_claim"] += count * bool(code & 8)
        found["quoted_comma"] += count * bool(code & 512)
        if kind and not (kind - 1 == K["missing_key"] and pair == 2):  # a conflict's key is set
            found[CLAIM_KINDS[kind - 1]] += count
    return +found


def _claims_copy_sql(sql: _ClaimsSql, day: _ClaimsDay, style: FileStyle, path: Path) -> str:
    """``COPY`` of the day's lines as one unquoted column whose name is the header line; a
    line followed by a blank line carries the extra line end itself."""
    extra = {EXTRA_COLUMNS["claims"]: f"'{style.extra_value}'"}

    def join(fields: dict[str, str]) -> str:
        return "concat(" + ", ',', ".join((fields | extra)[c] for c in style.order) + ")"

    line = f"CASE WHEN special THEN {join(sql.special)} ELSE {join(sql.clean)} END"
    if style.blank_lines and day.total >= 2:
        newline = "chr(13) || chr(10)" if style.crlf else "chr(10)"
        blank = f"p IN (0, {day.total // 2 - 1})" if day.total >= 4 else "p = 0"
        line = f"concat({line}, CASE WHEN {blank} THEN {newline} ELSE '' END)"
    header = (BOM if style.bom else "") + ",".join(style.header)
    newline_opt = ", NEW_LINE '\\r\\n'" if style.crlf else ""
    target = str(path).replace("'", "''")
    return (
        f"COPY (WITH {sql.rows} SELECT {line} AS \"{header}\" FROM final) TO '{target}' "
        f"(FORMAT csv, HEADER true, QUOTE '', ESCAPE ''{newline_opt})"
    )


def _company_blocks(world: World) -> tuple[list[int], list[int], list[int]]:
    """(bucket -> company, company -> first person index, company -> persons) for claims."""
    size = [0] * len(world.companies)
    first = [0] * len(world.companies)
    for i, person in enumerate(world.persons):
        if size[person.company] == 0:
            first[person.company] = i
        size[person.company] += 1
    staffed = [c for c, s in enumerate(size) if s]
    total = sum(size)
    exact = {c: BUCKETS * size[c] / total for c in staffed}
    counts = {c: max(1, int(v)) for c, v in exact.items()}
    while sum(counts.values()) > BUCKETS:
        counts[max(counts, key=lambda c: (counts[c] - exact[c], c))] -= 1
    while sum(counts.values()) < BUCKETS:
        counts[min(counts, key=lambda c: (counts[c] - exact[c], c))] += 1
    buckets = [c for c in staffed for _ in range(counts[c])]
    return buckets, first, [max(1, s) for s in size]


def _claims_connection(world: World) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = true")
    con.execute("SET enable_progress_bar = false")
    con.execute("SET memory_limit = '512MB'")  # COPY streams; a cap keeps big days modest
    buckets, first, size = _company_blocks(world)
    con.execute("SET VARIABLE bm_bucket = ?::INTEGER[]", [buckets])
    con.execute("SET VARIABLE bm_start = ?::BIGINT[]", [first])
    con.execute("SET VARIABLE bm_size = ?::BIGINT[]", [size])
    con.execute("SET VARIABLE bm_ein = ?::VARCHAR[]", [[c.ein for c in world.companies]])
    return con


def _write_claims_day(
    con: duckdb.DuckDBPyConnection, world: World, k: int, path: Path, progress: _Progress
) -> tuple[int, Counter[str]]:
    params = world.params
    day = _claims_day(params, k)
    style = file_style(params, "claims", k)
    sql = _claims_sql(world, day)
    first = _first_sday(params, k)
    dates = [_day(params, d).isoformat() for d in range(first, k + 1)]
    con.execute("SET VARIABLE bm_dates = ?::VARCHAR[]", [dates])
    # a table scan feeds DuckDB's pipeline much faster than the range() table function
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE bm_rows AS SELECT range AS i FROM range({day.total})"
    )
    tmp = path.with_name(path.name + ".tmp")
    copy = _claims_copy_sql(sql, day, style, tmp)
    if progress.enabled and day.total >= 1_000_000:
        _run_with_file_progress(lambda: con.execute(copy), tmp, day.total * 80, progress, k)
    else:
        con.execute(copy)
    os.replace(tmp, path)
    groups = con.execute(
        f"WITH {sql.rows} SELECT code, count(*) FROM (SELECT {sql.code} AS code FROM final) "
        "WHERE code <> 0 GROUP BY code"
    ).fetchall()
    kinds = _decode_codes(groups)
    kinds.update(kind for kind in style.kinds if kind != "blank_lines" or day.total >= 2)
    return day.total, kinds


def _run_with_file_progress(
    work: Callable[[], object], path: Path, expected_bytes: int, progress: _Progress, k: int
) -> None:
    """Run ``work`` in a thread, showing the growth of ``path`` until it finishes."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            work()
        except BaseException as exc:  # re-raised below, in the calling thread
            errors.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(0.5)
        size = path.stat().st_size if path.exists() else 0
        share = min(0.99, size / max(1, expected_bytes))
        progress.show(f"[claims] day {k + 1}: {share:4.0%} of ~{expected_bytes / 1e9:.1f} GB")
    if errors:
        raise errors[0]


# ----------------------------------------------------------------------------------------------
# orchestration


class _Progress:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.started = time.monotonic()

    def show(self, text: str) -> None:
        if self.enabled:
            elapsed = time.monotonic() - self.started
            sys.stderr.write(f"\r{text + f' ({elapsed:.1f}s)':<72}")
            sys.stderr.flush()

    def done(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")
            sys.stderr.flush()


# ----------------------------------------------------------------------------------------------
# lending (SPEC §5): two full-snapshot files, written only with lending_customers > 0
#
# <out>/landing/lending/customers.csv (CustomerID, Name, HasLoan) and accounts.csv (AccountID,
# CustomerID, Balance, AccountType): a pure function of (seed, lending_customers, dirt_rate),
# independent of the days and of the other sources, whose seeded streams it does not touch. Row
# kinds occur at ``dirt_rate`` per row (reject kinds as extra rows); with ``dirt_rate > 0`` every
# kind also occurs at least once (variants forced on the first rows, so from 12 customers on),
# and each file carries file kinds: customers.csv a BOM, header variants and an extra column,
# accounts.csv CRLF, reordered columns and header variants. Realism that does not depend on
# ``dirt_rate``: HasLoan spellings (half the rows), balances on a tier boundary or on a half-cent
# tie of their rate (5 % each). Kinds count the rows written with the feature; what each row
# becomes (a customer in a conflict makes its accounts unknown_customer too) is the staging's
# business, checked against a reference in tests/test_lending.py.

#: Contract columns of the lending files as a delivery writes them.
LENDING_FILES: dict[str, tuple[str, ...]] = {
    "customers": ("CustomerID", "Name", "HasLoan"),
    "accounts": ("AccountID", "CustomerID", "Balance", "AccountType"),
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
    columns = LENDING_FILES[name]
    kinds: tuple[str, ...] = ()
    if params.dirt_rate > 0:
        kinds = (
            ("bom", "header_variant", "extra_column")
            if name == "customers"
            else ("crlf", "reordered_columns", "header_variant")
        )
    order = list(columns)
    if "reordered_columns" in kinds:
        while tuple(order) == columns:
            rng.shuffle(order)
    if "extra_column" in kinds:
        order.insert(rng.randint(0, len(order)), LENDING_EXTRA[name])
    header = list(order)
    if "header_variant" in kinds:
        while header == order:
            header = [_header_variant(rng, c) if rng.random() < 0.6 else c for c in order]
    return FileStyle(
        order=tuple(order),
        header=tuple(header),
        bom="bom" in kinds,
        crlf="crlf" in kinds,
        extra_value=f"{LENDING_EXTRA[name].lower()}-1",
        kinds=kinds,
    )


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


def _landing_path(out_dir: Path, source: str, day: dt.date) -> Path:
    return out_dir / "landing" / source / f"{source}_{day.isoformat()}.csv"


def _write_days(
    world: World, out_dir: Path, first: int, last: int, progress: _Progress
) -> tuple[list[Path], dict[str, int], Counter[str], Counter[str]]:
    """Write every source's files for days first..last-1 (state is replayed from day 0)."""
    params = world.params
    written: list[Path] = []
    rows: dict[str, int] = dict.fromkeys(SOURCES, 0)
    kinds: Counter[str] = Counter()
    files: Counter[str] = Counter()
    for source in SOURCES:
        (out_dir / "landing" / source).mkdir(parents=True, exist_ok=True)
    streams = {"employees": _employee_stream(world, last), "plans": _plan_stream(world, last)}
    for source, stream in streams.items():
        for k, day_rows, day_kinds in stream:
            if k < first:
                continue
            progress.show(f"[{source}] day {k + 1}/{last} ({len(day_rows):,} rows)")
            path = _landing_path(out_dir, source, _day(params, k))
            style = file_style(params, source, k)
            file_kinds = _write_small_csv(path, day_rows, style, _rng(params, "blank", source, k))
            kinds.update(day_kinds + _generic_kinds(day_rows) + Counter(file_kinds))
            rows[source] += len(day_rows)
            files[source] += 1
            written.append(path)
    with _claims_connection(world) as con:
        for k in range(first, last):
            if not is_delivery_day(params, "claims", k):
                continue
            total = _claims_day(params, k).total
            progress.show(f"[claims] day {k + 1}/{last} ({total:,} rows)")
            path = _landing_path(out_dir, "claims", _day(params, k))
            count, day_kinds = _write_claims_day(con, world, k, path, progress)
            kinds.update(day_kinds)
            rows["claims"] += count
            files["claims"] += 1
            written.append(path)
    progress.done()
    return sorted(written), rows, kinds, files


def _write_lookup(world: World, out_dir: Path) -> Path:
    path = out_dir / "reference" / "company_lookup.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    entries = [c.lookup_entry() for c in world.companies if c.in_lookup]
    _atomic_write_bytes(path, (json.dumps(entries, indent=2, ensure_ascii=False) + "\n").encode())
    return path


def _write_state(out_dir: Path, params: Params, days: int) -> None:
    state = {
        "generator": "benefits_mesh.generate",
        "params": params.to_json(),
        "days": days,
        "last_day": _day(params, days - 1).isoformat(),
        "duckdb_version": duckdb.__version__,
    }
    _atomic_write_bytes(out_dir / "generator.json", (json.dumps(state, indent=2) + "\n").encode())


def _clear_landing(out_dir: Path) -> None:
    """Remove earlier generated delivery files so the root matches this run exactly."""
    for source in SOURCES:
        folder = out_dir / "landing" / source
        if folder.is_dir():
            for path in folder.glob(f"{source}_????-??-??.csv*"):
                path.unlink()
    try:  # lending snapshots only when an earlier generate() wrote them (not a hand-placed file)
        previous = json.loads((out_dir / "generator.json").read_text())["params"]
    except (OSError, ValueError, KeyError, TypeError):
        previous = {}
    if isinstance(previous, dict) and previous.get("lending_customers"):
        for name in LENDING_FILES:
            (out_dir / "landing" / "lending" / f"{name}.csv").unlink(missing_ok=True)


def generate(
    out_dir: Path,
    start: dt.date,
    days: int,
    companies: int,
    employees: int,
    claims_per_day: int,
    seed: int,
    dirt_rate: float,
    history_days: int = 0,
    progress: bool = True,
    lending_customers: int = 0,
) -> dict:
    """Write a landing root for days [start, start + days); returns a summary dict.

    Summary keys: ``out_dir``, ``start``, ``last_day``, ``days``, ``files`` (per source),
    ``rows`` (data records per source), ``dirt`` (every kind of :data:`DIRT_KINDS`; row kinds
    count rows, file kinds count files), ``companies`` (lookup companies by roster category).
    With ``lending_customers > 0`` also the lending snapshot of SPEC §5 (see
    :func:`write_lending`) and a ``lending`` key; the other sources' files are the same bytes
    either way.
    """
    if days < 1 or companies < 1 or employees < 1 or claims_per_day < 1 or history_days < 0:
        raise ValueError(
            "days, companies, employees and claims_per_day must be >= 1, history_days >= 0"
        )
    if not 0.0 <= dirt_rate <= 1.0:
        raise ValueError(f"dirt_rate must be within [0, 1], got {dirt_rate}")
    if lending_customers < 0:
        raise ValueError(f"lending_customers must be >= 0, got {lending_customers}")
    params = Params(
        start,
        companies,
        employees,
        claims_per_day,
        seed,
        dirt_rate,
        history_days,
        lending_customers=lending_customers,
    )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _clear_landing(out_dir)
    world = build_world(params)
    _write_lookup(world, out_dir)
    written, rows, kinds, files = _write_days(world, out_dir, 0, days, _Progress(progress))
    lending = write_lending(out_dir, params) if lending_customers else None
    _write_state(out_dir, params, days)
    summary = {
        "out_dir": str(out_dir),
        "start": start.isoformat(),
        "last_day": _day(params, days - 1).isoformat(),
        "days": days,
        "files": dict(files),
        "files_written": len(written) + 1 + (2 if lending else 0),
        "rows": rows,
        "dirt": {kind: kinds.get(kind, 0) for kind in DIRT_KINDS},
        "companies": dict(Counter(c.category for c in world.companies)),
    }
    if lending:
        summary["lending"] = lending
    return summary


def deliver(out_dir: Path, days: int = 1, progress: bool = True) -> list[Path]:
    """Append the next `days` days of deliveries to an existing landing root made by generate(),
    using the parameters saved in <out_dir>/generator.json. Writes exactly the files generate()
    would have written for those days had it been called with more days."""
    if days < 1:
        raise ValueError(f"days must be >= 1, got {days}")
    out_dir = Path(out_dir)
    state_path = out_dir / "generator.json"
    if not state_path.is_file():
        raise FileNotFoundError(f"{state_path}: not a generated landing root (run generate first)")
    state = json.loads(state_path.read_text())
    params = Params.from_json(state["params"])
    first = int(state["days"])
    if progress and state.get("duckdb_version") != duckdb.__version__:
        sys.stderr.write(
            f"warning: {state_path} was written with DuckDB {state.get('duckdb_version')}, "
            f"this is {duckdb.__version__}; claims may differ from a single longer run\n"
        )
    world = build_world(params)
    written, _, _, _ = _write_days(world, out_dir, first, first + days, _Progress(progress))
    _write_state(out_dir, params, first + days)
    return written
