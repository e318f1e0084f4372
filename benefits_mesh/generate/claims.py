"""landing/claims/: one file a day, written by DuckDB.

Each day is one DuckDB ``COPY`` of a single unquoted VARCHAR column holding the whole line (its
name is the header line; DuckDB's per-field CSV quoting is the bottleneck at 20M rows, so the
few fields that hold commas are quoted in SQL), fed by a table scan with
``preserve_insertion_order`` (no sort), plus one small GROUP BY over the packed kind code for the
summary counts. A 20M-row day takes ~16-22 s and ~0.5 GB on a 2-vCPU box.

Row p's decision hash h0 = hash(p + salt) makes it a pair row (an exact copy of row p-1, or row
p-1's claim_id with other values), a correction (an earlier day's claim_id re-sent with one value
changed) or dirty (one field-level kind of CLAIM_KINDS). Pairs, corrections and missing keys only
occur at odd positions, so row p-1 of a pair is never one of them; rows p % 16 == 0 ("anchors")
are clean originals, which is what corrections refer to. Content comes from hashes of key =
(claim day << 36) + claim row, so a copy or a correction recomputes the original's values. Clean
rows take a short path of cheap expressions: on this class of machine every per-row operation
costs ~0.05 s per 20M rows.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from benefits_mesh.generate.common import (
    BOM,
    EXTRA_COLUMNS,
    FileStyle,
    Params,
    _day,
    _Progress,
    _rng,
    file_style,
    is_delivery_day,
)
from benefits_mesh.generate.world import World

CORRECTION_RATE = 0.03
LATE_RATE = 0.03
SPIKE_DAYS = 28
SPIKE_FACTOR = 12

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
