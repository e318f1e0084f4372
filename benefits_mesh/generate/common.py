"""What every source of the generator shares: the parameters, seeded randomness and the
delivery schedule, the catalogue of dirt kinds, renderings of dirty values, file styles
(file-level dirt), the small-file CSV writer and the progress line.

Nothing here imports another module of the package; every other module builds on this one.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

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
EXTRA_COLUMNS = {"employees": "source_system", "plans": "feed_version", "claims": "batch_id"}

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


def _first_redelivery(params: Params, source: str, k: int) -> bool:
    """The source's first delivery after day 0, where re-send kinds are forced (dirty runs)."""
    return params.dirt_rate > 0 and k > 0 and _delivery_index(params, source, k) == 1


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
# renderings of dirty values


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


def _header_variant(rng: random.Random, name: str) -> str:
    return rng.choice(
        (name.upper(), name.title(), f"  {name} ", f" {name.title()}  ", name.capitalize())
    )


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
    kinds = tuple(kind for kind in FILE_KINDS if kind in forced or draws[kind] < rate)
    extra = EXTRA_COLUMNS[source]
    return _styled_file(rng, COLUMNS[source], extra, f"{extra}-v{k % 3 + 1}", kinds)


def _styled_file(
    rng: random.Random,
    columns: tuple[str, ...],
    extra: str,
    extra_value: str,
    kinds: tuple[str, ...],
) -> FileStyle:
    """The style of a file with these file kinds: ``columns`` shuffled (reordered_columns),
    the ``extra`` column inserted (extra_column), header names varied (header_variant), drawn
    from ``rng`` in that order."""
    order = list(columns)
    if "reordered_columns" in kinds:
        while tuple(order) == columns:
            rng.shuffle(order)
    if "extra_column" in kinds:
        order.insert(rng.randint(0, len(order)), extra)
    header = list(order)
    if "header_variant" in kinds:
        while header == order:
            header = [_header_variant(rng, name) if rng.random() < 0.6 else name for name in order]
    return FileStyle(
        order=tuple(order),
        header=tuple(header),
        bom="bom" in kinds,
        crlf="crlf" in kinds,
        extra_value=extra_value,
        blank_lines="blank_lines" in kinds,
        kinds=kinds,
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
# progress


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
