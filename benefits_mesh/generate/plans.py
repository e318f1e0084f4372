"""landing/plans/: plan versions per (company, plan type) on a timeline showing every
relation between consecutive plans (adjacent, overlap, gap, one-day gap, nested), sent ahead of
their start and some re-sent later (a corrected end, an open end closed, unchanged), in carrier
spellings that normalise to one name, with rows that must be rejected and exact duplicates.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from benefits_mesh.generate.common import (
    Params,
    _bad_date,
    _bad_ein,
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
from benefits_mesh.generate.world import Company, World

PLAN_TYPES = ("medical", "dental", "vision")

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
