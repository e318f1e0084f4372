"""landing/employees/: the HRIS roster feed. Day 0 carries the whole roster; each later delivery
day the persons that day's events touched (terminations with replacement hires, title
changes, leave, re-sends), with rows that must be rejected and exact duplicates mixed in. The
state is replayed from day 0 on every call, so a day's file does not depend on where a run
started.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace

from benefits_mesh.generate.common import (
    _bad_date,
    _count,
    _day,
    _ein_variant,
    _exact_duplicates,
    _first_redelivery,
    _insert_junk,
    _rng,
    _share,
    _us,
    is_delivery_day,
)
from benefits_mesh.generate.world import TITLES, Person, World, _new_person, _term_form

FREE_NOTES = (
    "relocated from Denver, CO",
    "badge reissued, see ticket 4411",
    "part-time, 30h/week",
    "prefers e-mail contact",
)


def _kv(rng: random.Random, key: str, value: str) -> str:
    key = rng.choice((key, key, key.upper(), key.capitalize()))
    return f"{key}{rng.choice((': ', '=', ' = ', ':'))}{value}"


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
