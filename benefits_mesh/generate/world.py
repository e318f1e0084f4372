"""The world every day's files draw on: the companies (EIN, name, domains, roster category),
the day-0 roster of persons, each company's expected headcount and cost spike, and
reference/company_lookup.json (the lookup companies). A pure function of the parameters
without ``days``: see the package docstring.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from benefits_mesh.generate.common import (
    Params,
    _atomic_write_bytes,
    _bad_ein,
    _pick,
    _rng,
    _share,
)

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


def _ascii(text: str) -> str:
    text = text.translate(str.maketrans({"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "ß": "ss"}))
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _term_form(rng: random.Random) -> str:
    return rng.choice(("key", "key_us", "key_nodate", "phrase", "phrase_iso"))


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
# reference/company_lookup.json


def _write_lookup(world: World, out_dir: Path) -> Path:
    path = out_dir / "reference" / "company_lookup.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    entries = [c.lookup_entry() for c in world.companies if c.in_lookup]
    _atomic_write_bytes(path, (json.dumps(entries, indent=2, ensure_ascii=False) + "\n").encode())
    return path
