"""Company enrichment from a REST service (issue 16, SPEC §3 roster and §6), on real parts.

A standard-library HTTP server on 127.0.0.1 plays the company-data service. It injects one fault
per EIN (500 once, 429 with Retry-After once, a response slower than the timeout once, a dropped
connection once, malformed JSON, a wrong ``ein``, a non-integer headcount, 404, always 503) and
has a full-outage mode (every request 503) and 401 / 403 modes; it counts the requests per EIN,
their arrival times and their Authorization headers.

A small landing root (ten lookup companies, one per fault, persons in them, and a plans/claims
EIN that is not in the lookup) is planned once with ``BENEFITS_ENRICHMENT=http`` under faketime
(module fixture). Each case copies that warehouse and drives the real ``sqlmesh run`` at a later
clock: a rerun within the TTL (only failed and newly seen companies requested), an outage after
the TTL (``stale``, old values kept), recovery, the time budget (no request after it runs out),
401/403 (the run fails naming the URL and the status, nothing published). The ``file`` provider
is planned on its own root and compared with the independent reference implementation
(tests/reference.py). The token is looked for in every command's output, every column of every
table of every warehouse and the project's logs.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
import shutil
import subprocess
import sys
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb
import pytest
from conftest import BIN, PROJECT, Project
from test_end_to_end import MARTS

sys.path.insert(0, str(Path(__file__).resolve().parent))

import reference  # noqa: E402

#: unique per module run: any occurrence anywhere is a leak by this module's commands
TOKEN = "tok-" + secrets.token_hex(16)
PROJECT_LOGS = PROJECT / "logs"
MODULE_STARTED = time.time()

START = "2026-03-01"
DAYS = [dt.date(2026, 3, 1) + dt.timedelta(days=k) for k in range(3)]
T0 = "2026-03-04 06:00:00"  # the first plan: days 03-01..03-03 are complete
TTL_HOURS = 60
TIMEOUT_S = 1
SLOW_S = 2.0  # the slow answer: longer than TIMEOUT_S
RETRY_AFTER_S = 1
RETRIES = 3
STATUSES = ("ok", "stale", "not_found", "failed")

HEADERS = {
    "employees": "person_id,full_name,email,title,company_ein,start_date,notes",
    "plans": "plan_id,company_ein,plan_type,carrier_name,start_date,end_date",
    "claims": "claim_id,person_id,company_ein,claim_type,service_date,amount",
}


@dataclass(frozen=True)
class Company:
    ein: str
    slug: str
    fault: str
    lookup_headcount: int | None  # what company_lookup.json says
    persons: int  # active persons on the roster
    #: the service's 200 body values (industry, expected_headcount, state, annual_revenue_usd)
    values: dict = field(default_factory=dict)


def _values(industry, headcount, state, revenue) -> dict:
    return {
        "industry": industry,
        "expected_headcount": headcount,
        "state": state,
        "annual_revenue_usd": revenue,
    }


LOOKUP_COMPANIES = [
    Company("10-0000001", "alpha", "ok", 5, 2, _values("svc-alpha", 2, "TX", 1_000_000)),
    Company("10-0000002", "bravo", "500_once", 1, 1, _values("svc-bravo", 4, "TX", 2_000_000)),
    Company("10-0000003", "charlie", "429_once", 1, 1, _values("svc-charlie", None, "WA", None)),
    Company("10-0000004", "delta", "slow_once", 3, 0, _values(None, 3, "TX", 4_000_000)),
    Company("10-0000005", "echo", "malformed", 1, 1),
    Company("10-0000006", "foxtrot", "wrong_ein", 1, 1),
    Company("10-0000007", "golf", "404", 1, 1),
    Company("10-0000008", "hotel", "always_503", 2, 0),
    Company("10-0000009", "india", "bad_headcount", 1, 1, _values("svc-india", 12.5, "TX", 9)),
    Company("10-0000010", "juliet", "drop_once", 2, 1, _values("svc-juliet", 1, "OR", 10_000)),
]
BY_SLUG = {c.slug: c for c in LOOKUP_COMPANIES}
A, B, C, D, E, F, G, H, K, J = (c.ein for c in LOOKUP_COMPANIES)
U1 = "90-0000001"  # on a plans row, a claims row and a person from the first day: not in lookup
U2 = "90-0000002"  # first seen on a claim delivered on 2026-03-04
SERVICE_ONLY = {
    U1: _values("svc-u1", None, "CA", 5_000),
    U2: _values("svc-u2", 7, "NV", 6_000),
}

#: the requests of a plan/run that finds nothing cached: each company once, plus its retries
FULL_FETCH = {A: 1, B: 2, C: 2, D: 2, E: 1, F: 1, G: 1, H: 1 + RETRIES, K: 1, J: 2}
FAILED = {E, F, H, K}  # no usable answer, ever
ANSWERED_OK = {A, B, C, D, J}


# --------------------------------------------------------------------------- the service


class FaultService:
    """The company-data service: one fault per EIN, counted, in a thread of this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.mode: str | None = None  # None | "outage" | "slow" | "401" | "403"
        self.requests: list[tuple[str, str | None, float]] = []  # (ein, Authorization, time)
        service = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_GET(self) -> None:  # noqa: N802
                service._answer(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def reset(self, mode: str | None = None) -> None:
        with self._lock:
            self.mode = mode
            self.requests = []

    def snapshot(self) -> list[tuple[str, str | None, float]]:
        with self._lock:
            return list(self.requests)

    def counts(self) -> dict[str, int]:
        return dict(Counter(ein for ein, _, _ in self.snapshot()))

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        path = urllib.parse.unquote(handler.path.split("?", 1)[0])
        ein = path.removeprefix("/companies/") if path.startswith("/companies/") else path
        with self._lock:
            self.requests.append((ein, handler.headers.get("Authorization"), time.monotonic()))
            nth = sum(1 for seen, _, _ in self.requests if seen == ein)
            mode = self.mode
        try:
            self._respond(handler, ein, nth, mode)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (the slow answer after its timeout)

    @staticmethod
    def _send(handler, status: int, body: bytes | dict, headers: dict | None = None) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)

    def _respond(self, handler, ein: str, nth: int, mode: str | None) -> None:
        if mode in ("401", "403"):
            return self._send(handler, int(mode), {"error": "bad token"})
        if mode == "outage":
            return self._send(handler, 503, {"error": "service unavailable"})
        if mode == "slow":  # every answer comes after the client's timeout
            time.sleep(SLOW_S)
        company = next((c for c in LOOKUP_COMPANIES if c.ein == ein), None)
        if company is None:
            if ein in SERVICE_ONLY:
                return self._send(handler, 200, {"ein": ein, **SERVICE_ONLY[ein]})
            return self._send(handler, 404, {"error": "unknown company"})
        first = nth == 1
        fault = company.fault
        if fault == "500_once" and first:
            return self._send(handler, 500, {"error": "internal"})
        if fault == "429_once" and first:
            return self._send(
                handler, 429, {"error": "slow down"}, {"Retry-After": str(RETRY_AFTER_S)}
            )
        if fault == "slow_once" and first:
            time.sleep(SLOW_S)
        if fault == "drop_once" and first:
            handler.close_connection = True  # no status line at all: a connection error
            return None
        if fault == "malformed":
            return self._send(handler, 200, f'{{"ein": "{ein}", "industry": '.encode())
        if fault == "wrong_ein":
            return self._send(handler, 200, {"ein": A, **BY_SLUG["alpha"].values})
        if fault == "404":
            return self._send(handler, 404, {"error": "unknown company"})
        if fault == "always_503":
            return self._send(handler, 503, {"error": "unavailable"})
        # 200 (bad_headcount included: its body carries 12.5); an unknown key is ignored
        return self._send(handler, 200, {"ein": ein, **company.values, "source": "fault-svc"})


# --------------------------------------------------------------------------- landing data


def _write(root: Path, source: str, day: dt.date, body: str) -> None:
    path = root / "landing" / source / f"{source}_{day}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{HEADERS[source]}\n{body}")


def _deliver(root: Path, day: dt.date, claims: str = "", persons: str = "") -> None:
    """One day's three files: the whole roster again, the same plans, two claims."""
    roster = [
        f"P-{c.slug}-{i},Person {c.slug} {i},p{i}@{c.slug}.example,,{c.ein},2026-01-01,\n"
        for c in LOOKUP_COMPANIES
        for i in range(c.persons)
    ]
    roster.append(f"P-u1,Person U1,x@u1.example,,{U1},2026-01-01,\n")
    _write(root, "employees", day, "".join(roster) + persons)
    # the unknown company's EIN written non-canonically: requested as NN-NNNNNNN
    plans = "PL-u1,900000001,medical,Aetna,2026-01-01,\nPL-a,10-0000001,dental,Delta,2026-01-01,\n"
    _write(root, "plans", day, plans)
    service = day - dt.timedelta(days=1)
    _write(
        root,
        "claims",
        day,
        f"C-{day:%m%d}-1,P-alpha-0,{A},medical,{service},10.00\n"
        f"C-{day:%m%d}-2,P-u1,{U1},medical,{service},20.00\n" + claims,
    )


def _write_root(root: Path) -> None:
    lookup = [
        {
            "ein": c.ein,
            "company_name": c.slug.title(),
            "domains": [f"{c.slug}.example"],
            "industry": f"lookup-{c.slug}",
            "expected_headcount": c.lookup_headcount,
            "state": "NY",
        }
        for c in LOOKUP_COMPANIES
    ]
    (root / "reference").mkdir(parents=True)
    (root / "reference" / "company_lookup.json").write_text(json.dumps(lookup, indent=1))
    for day in DAYS:
        _deliver(root, day)


# --------------------------------------------------------------------------- helpers


def _http_env(service: FaultService, **overrides: str) -> dict[str, str]:
    return {
        "BENEFITS_ENRICHMENT": "http",
        "BENEFITS_ENRICHMENT_URL": service.url,
        "BENEFITS_ENRICHMENT_TOKEN": TOKEN,
        "BENEFITS_ENRICHMENT_RETRIES": str(RETRIES),
        "BENEFITS_ENRICHMENT_TIMEOUT_S": str(TIMEOUT_S),
        "BENEFITS_ENRICHMENT_TTL_HOURS": str(TTL_HOURS),
        "BENEFITS_ENRICHMENT_BACKOFF_S": "0.05",
        "BENEFITS_ENRICHMENT_RETRY_AFTER_MAX_S": "5",
        "BENEFITS_ENRICHMENT_BUDGET_S": "120",
        "COLUMNS": "1000",  # SQLMesh folds its console at 80 columns when not on a terminal
        **overrides,
    }


def _naive_utc(value):
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def _rows(project: Project, sql: str) -> dict[str, dict]:
    """Rows keyed by their first column (company_ein), each a dict by column name."""
    with duckdb.connect(str(project.warehouse), read_only=True) as con:
        cursor = con.execute(sql)
        names = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
    return {row[0]: {n: _naive_utc(v) for n, v in zip(names, row, strict=True)} for row in rows}


def _cache(project: Project) -> dict[str, dict]:
    return _rows(
        project,
        "SELECT company_ein, status, industry, expected_headcount, state, annual_revenue_usd, "
        "fetched_at, attempted_at, last_error FROM ops.company_enrichment",
    )


def _dim(project: Project) -> dict[str, dict]:
    return _rows(
        project,
        "SELECT company_ein, company_name, is_in_lookup, industry, state, expected_headcount, "
        "annual_revenue_usd, enrichment_status, enriched_at, enrichment_error "
        "FROM marts.dim_companies",
    )


def _roster(project: Project) -> dict[str, tuple]:
    rows = project.query(
        "SELECT company_ein, mismatch_type, severity, expected_headcount, observed_headcount, "
        "diff, pct_diff, enrichment_status FROM marts.fct_employee_roster_mismatches"
    )
    return {row[0]: row[1:] for row in rows}


def _listed(text: str) -> dict[str, str]:
    """`benefits-mesh enrichment` output -> {EIN: status}: the status is the first status word
    on the EIN's line, else the nearest status heading above it (lists grouped by status)."""
    found: dict[str, str] = {}
    heading = None
    for line in text.splitlines():
        words = [w for w in re.findall(r"[a-z_]+", line.lower()) if w in STATUSES]
        eins = re.findall(r"\b\d\d-\d{7}\b", line)
        if not eins:
            heading = words[0] if words else heading
            continue
        found.setdefault(eins[0], words[0] if words else heading)  # an error may name an EIN
    return found


def _line_of(text: str, ein: str) -> str:
    return next(ln for ln in text.splitlines() if re.search(rf"\b{ein}\b", ln))


def _token_hits_in_warehouse(project: Project) -> tuple[list[str], set[str]]:
    """(columns holding the token, tables scanned): every column of every table, as text."""
    hits, scanned = [], set()
    with duckdb.connect(str(project.warehouse), read_only=True) as con:
        columns = con.execute(
            "SELECT c.table_schema, c.table_name, c.column_name FROM information_schema.columns c "
            "JOIN information_schema.tables t USING (table_catalog, table_schema, table_name) "
            "WHERE t.table_type = 'BASE TABLE'"
        ).fetchall()
        for schema, table, column in columns:
            scanned.add(f"{schema}.{table}")
            (count,) = con.execute(
                f'SELECT COUNT(*) FROM "{schema}"."{table}" '
                f"WHERE CAST(\"{column}\" AS VARCHAR) LIKE '%' || ? || '%'",
                [TOKEN],
            ).fetchone()
            if count:
                hits.append(f"{schema}.{table}.{column}")
    raw = project.warehouse.read_bytes()
    if TOKEN.encode() in raw:
        hits.append(f"{project.warehouse} (raw bytes)")
    return hits, scanned


def _assert_token_nowhere(
    project: Project, *results: subprocess.CompletedProcess, http: bool = True
) -> None:
    for result in results:
        assert TOKEN not in result.stdout + result.stderr, result.args
    hits, scanned = _token_hits_in_warehouse(project)
    assert hits == [], f"the token is stored in {hits}"
    assert any(s.startswith("sqlmesh.") for s in scanned), scanned  # SQLMesh's state too
    assert not http or "ops.company_enrichment" in scanned, scanned
    # SQLMesh's logs of this warehouse's commands, and every log file written since the module
    # started (the token is unique to this run of the module)
    logs = [p for p in PROJECT_LOGS.rglob("*") if p.is_file()]
    mine = [p for p in logs if str(project.warehouse) in p.read_text(errors="replace")]
    assert mine, f"no log in {PROJECT_LOGS} names {project.warehouse}"
    recent = [p for p in logs if p.stat().st_mtime >= MODULE_STARTED - 1]
    leaked = [str(p) for p in {*mine, *recent} if TOKEN in p.read_text(errors="replace")]
    assert leaked == [], f"the token is in {leaked}"


def _first_arrival(requests, ein: str) -> float:
    return next(t for e, _, t in requests if e == ein)


@dataclass
class Base:
    project: Project
    plan: subprocess.CompletedProcess
    requests: list[tuple[str, str | None, float]]


@pytest.fixture(scope="module")
def service():
    svc = FaultService()
    yield svc
    svc.close()


@pytest.fixture(scope="module")
def base(tmp_path_factory, faketime, service) -> Base:
    """The first plan, at T0, of days 03-01..03-03 with BENEFITS_ENRICHMENT=http."""
    folder = tmp_path_factory.mktemp("enrichment")
    project = Project(
        root=folder / "root",
        warehouse=folder / "wh" / "warehouse.duckdb",
        start=START,
        clock=T0,
        extra_env=_http_env(service),
    )
    _write_root(project.root)
    service.reset()
    plan = project.plan()
    return Base(project, plan, service.snapshot())


def _case(
    base: Base, folder: Path, clock: str, days: list[dt.date], service, **env: str
) -> Project:
    """A copy of the first plan's warehouse and root at ``clock``, with deliveries for ``days``."""
    case = base.project.copy_to(folder, clock, extra_env=_http_env(service, **env))
    for day in days:
        _deliver(case.root, day)
    return case


def _days(first: str, last: str) -> list[dt.date]:
    start, end = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    return [start + dt.timedelta(days=k) for k in range((end - start).days + 1)]


# --------------------------------------------------------------------------- the first plan


def test_first_plan_requests_each_company_once_plus_its_retries(base):
    counts = Counter(ein for ein, _, _ in base.requests)
    # U1 is seen only in the data: not yet visible in intermediate.int_companies at the start
    # of the first plan, so it is fetched by the next run (test_rerun_within_the_ttl...)
    assert dict(counts) == FULL_FETCH, base.plan.stdout[-3000:]
    assert {auth for _, auth, _ in base.requests} == {f"Bearer {TOKEN}"}
    # 429: the retry waited Retry-After (1 s), not the 0.05 s backoff
    c_times = [t for e, _, t in base.requests if e == C]
    assert c_times[1] - c_times[0] >= RETRY_AFTER_S - 0.1, c_times
    # the slow answer: given up after TIMEOUT_S (1 s), before the answer came (2 s)
    d_times = [t for e, _, t in base.requests if e == D]
    assert TIMEOUT_S - 0.1 <= d_times[1] - d_times[0] < SLOW_S - 0.1, d_times
    # several requests in flight: others arrive while the slow one / the 429 wait is pending
    # (a one-at-a-time client would be blocked for that second)
    overlapping = [
        e
        for slow in (C, D)
        for e, _, t in base.requests
        if e != slow and 0 < t - _first_arrival(base.requests, slow) < TIMEOUT_S - 0.1
    ]
    assert overlapping, "no request was made while another was pending: not concurrent"


def test_first_plan_statuses_in_the_cache_and_dim_companies(base):
    t0 = dt.datetime.fromisoformat(T0)
    cache = _cache(base.project)
    assert set(cache) == {c.ein for c in LOOKUP_COMPANIES}, sorted(cache)
    assert {e: r["status"] for e, r in cache.items()} == {
        **{e: "ok" for e in ANSWERED_OK},
        G: "not_found",
        **{e: "failed" for e in FAILED},
    }
    for company in LOOKUP_COMPANIES:
        row = cache[company.ein]
        assert t0 <= row["attempted_at"] <= t0 + dt.timedelta(minutes=15), row
        if company.ein in ANSWERED_OK:
            assert {k: row[k] for k in company.values} == company.values, row
            assert t0 <= row["fetched_at"] <= row["attempted_at"], row
            assert row["last_error"] is None, row
        elif company.ein == G:
            assert row["industry"] is row["expected_headcount"] is row["state"] is None, row
            assert row["fetched_at"] is not None and row["last_error"] is None, row
        else:  # failed: never answered
            assert row["fetched_at"] is None and row["last_error"], row
            assert row["industry"] is row["expected_headcount"] is row["state"] is None, row
    assert "503" in cache[H]["last_error"], cache[H]

    dim = _dim(base.project)
    assert set(dim) == {c.ein for c in LOOKUP_COMPANIES} | {U1}, sorted(dim)  # none dropped
    for company in LOOKUP_COMPANIES:
        row = dim[company.ein]
        # the registry (name, domains) stays company_lookup.json's
        assert row["company_name"] == company.slug.title() and row["is_in_lookup"] is True, row
        if company.ein in ANSWERED_OK:
            assert row["enrichment_status"] == "ok", row
            assert {k: row[k] for k in company.values} == company.values, row
            assert row["enriched_at"] == cache[company.ein]["fetched_at"], row
            assert row["enrichment_error"] is None, row
        elif company.ein == G:
            assert row["enrichment_status"] == "not_found", row
            assert row["industry"] is row["expected_headcount"] is row["state"] is None, row
            assert row["annual_revenue_usd"] is None and row["enrichment_error"] is None, row
        else:
            assert row["enrichment_status"] == "failed", row
            assert row["industry"] is row["expected_headcount"] is row["state"] is None, row
            assert row["enriched_at"] is None and row["enrichment_error"], row
    assert dim[D]["industry"] is None  # the service's null, not the lookup's value
    assert "503" in dim[H]["enrichment_error"]
    assert dim[U1]["is_in_lookup"] is False
    assert dim[U1]["enrichment_status"] in STATUSES


def test_roster_takes_expected_headcount_from_the_service(base):
    roster = _roster(base.project)
    assert set(roster) == {c.ein for c in LOOKUP_COMPANIES} | {U1}
    unavailable = ("enrichment_unavailable", "medium", None)
    assert {e: r for e, r in roster.items() if e != U1} == {
        A: ("ok", "none", 2, 2, 0, 0, "ok"),  # the lookup says 5: would be critical
        B: ("headcount_mismatch", "critical", 4, 1, -3, -75, "ok"),
        C: ("no_expectation", "low", None, 1, None, None, "ok"),  # the service's null
        D: ("missing_roster", "critical", 3, 0, -3, -100, "ok"),
        E: (*unavailable, 1, None, None, "failed"),
        F: (*unavailable, 1, None, None, "failed"),
        G: ("no_expectation", "low", None, 1, None, None, "not_found"),
        H: (*unavailable, 0, None, None, "failed"),
        K: (*unavailable, 1, None, None, "failed"),
        J: ("ok", "none", 1, 1, 0, 0, "ok"),
    }
    # not in the lookup: unknown_company comes first (SPEC §3)
    assert roster[U1][:2] == ("unknown_company", "high") and roster[U1][3] == 1


def test_enrichment_command_lists_companies_by_status(base):
    result = base.project.cli("enrichment")
    assert result.returncode == 1, result.stdout + result.stderr  # some are failed
    listed = _listed(result.stdout)
    expected = {**{e: "ok" for e in ANSWERED_OK}, G: "not_found", **{e: "failed" for e in FAILED}}
    assert {e: listed.get(e) for e in expected} == expected, result.stdout
    assert "503" in _line_of(result.stdout, H), result.stdout  # with its last error
    same = base.project.cli("enrichment", "--env", "prod")
    assert same.returncode == 1 and _listed(same.stdout) == listed, same.stdout
    _assert_token_nowhere(base.project, base.plan, result, same)


# --------------------------------------------------------------------------- later runs


def test_rerun_within_the_ttl_requests_only_failed_and_newly_seen_companies(
    base, service, tmp_path
):
    # 21 h after the first plan (TTL 60 h); the day's claims bring a new company, U2
    case = _case(base, tmp_path / "case", "2026-03-05 03:00:00", [], service)
    _deliver(case.root, dt.date(2026, 3, 4), claims=f"C-new,X,{U2},medical,2026-03-03,5.00\n")
    service.reset()
    first = case.sqlmesh("run")
    # cached ok / not_found: no request; failed: retried; U1 (seen in the data since the first
    # plan): fetched once; U2 (first seen in this run's data): not yet
    assert service.counts() == {E: 1, F: 1, H: 1 + RETRIES, K: 1, U1: 1}, first.stdout[-3000:]
    assert case.query(
        "SELECT COUNT(*) FROM staging.stg_claims WHERE _delivery_date = '2026-03-04'"
    ) == [(3,)]
    dim, before = _dim(case), _dim(base.project)
    for ein in ANSWERED_OK | {G}:  # the cached entries, untouched
        assert dim[ein] == before[ein], ein
    assert dim[U1]["enrichment_status"] == "ok" and dim[U1]["is_in_lookup"] is False
    assert {k: dim[U1][k] for k in SERVICE_ONLY[U1]} == SERVICE_ONLY[U1]
    assert dim[U2]["is_in_lookup"] is False  # never dropped, even before its first request
    assert {e: dim[e]["enrichment_status"] for e in FAILED} == {e: "failed" for e in FAILED}
    assert _roster(case)[U1][-1] == "ok"

    # the next day: U2 is fetched, U1 (cached, 24 h old) is not
    case.clock = "2026-03-06 03:00:00"
    _deliver(case.root, dt.date(2026, 3, 5))
    service.reset()
    second = case.sqlmesh("run")
    assert service.counts() == {E: 1, F: 1, H: 1 + RETRIES, K: 1, U2: 1}, second.stdout[-3000:]
    assert {auth for _, auth, _ in service.snapshot()} == {f"Bearer {TOKEN}"}
    dim = _dim(case)
    assert dim[U2]["enrichment_status"] == "ok"
    assert {k: dim[U2][k] for k in SERVICE_ONLY[U2]} == SERVICE_ONLY[U2]
    assert _cache(case)[U2]["status"] == "ok"

    listing = case.cli("enrichment")
    assert listing.returncode == 1
    listed = _listed(listing.stdout)
    assert listed.get(U1) == listed.get(U2) == "ok" and listed.get(H) == "failed", listing.stdout
    _assert_token_nowhere(case, first, second, listing)


def test_a_plan_changing_an_unrelated_model_requests_no_cached_company(base, service, tmp_path):
    # a copy of the project whose fct_plan_gaps changed (a breaking change, recomputed), planned
    # an hour after the first plan: cached ok / not_found companies are not requested again
    copy = tmp_path / "project"
    for name in ("models", "macros", "materializations", "signals", "seeds", "audits", "linter"):
        shutil.copytree(PROJECT / name, copy / name)
    for name in ("config.yaml", "external_models.yaml"):
        shutil.copyfile(PROJECT / name, copy / name)
    gaps = copy / "models" / "marts" / "fct_plan_gaps.sql"
    text = gaps.read_text()
    assert "FROM " in text
    gaps.write_text(text.rstrip().rstrip(";") + "\n/* changed */ LIMIT 1000000\n")
    case = _case(base, tmp_path / "case", "2026-03-04 07:00:00", [], service)
    service.reset()
    plan = subprocess.run(
        ["faketime", case.clock, str(BIN / "sqlmesh"), "-p", str(copy), "plan", "--auto-apply",
         "--no-prompts", "--skip-tests"],
        cwd=tmp_path, env=case.env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert plan.returncode == 0, plan.stdout[-3000:] + plan.stderr[-3000:]
    assert "fct_plan_gaps" in plan.stdout
    requested = set(service.counts())
    assert FAILED <= requested  # the enrichment step ran: the retry queue was requested ...
    assert requested <= FAILED | {U1}, requested  # ... and nothing else but a newly seen EIN
    assert not requested & (ANSWERED_OK | {G})


def test_expired_entries_are_stale_during_an_outage_and_refreshed_after_it(base, service, tmp_path):
    # 72 h after the first plan: every entry has expired (TTL 60 h); the service is down
    case = _case(base, tmp_path / "case", "2026-03-07 06:00:00", _days("2026-03-04", "2026-03-06"),
                 service)  # fmt: skip
    old = _cache(base.project)
    service.reset(mode="outage")
    outage = case.sqlmesh("run")  # a failure never fails the run
    # every company requested again, each with all its retries
    assert service.counts() == {e: 1 + RETRIES for e in [*FULL_FETCH, U1]}, outage.stdout[-3000:]
    assert case.query(
        "SELECT COUNT(*) FROM staging.stg_claims WHERE _delivery_date = '2026-03-06'"
    ) == [(2,)]  # the run's data is published

    cache = _cache(case)
    expected = {**{e: "stale" for e in ANSWERED_OK | {G}}, **{e: "failed" for e in FAILED | {U1}}}
    assert {e: r["status"] for e, r in cache.items()} == expected
    for ein in ANSWERED_OK | {G}:
        row = cache[ein]
        # the old values and their fetch time are kept; the error is recorded
        assert {k: row[k] for k in ("industry", "expected_headcount", "state")} == {
            k: old[ein][k] for k in ("industry", "expected_headcount", "state")
        }, row
        assert row["fetched_at"] == old[ein]["fetched_at"], row
        assert row["attempted_at"] > old[ein]["attempted_at"], row
        assert "503" in row["last_error"], row
    dim = _dim(case)
    assert {e: r["enrichment_status"] for e, r in dim.items()} == expected
    for company in LOOKUP_COMPANIES:
        if company.ein in ANSWERED_OK:
            row = dim[company.ein]
            assert {k: row[k] for k in company.values} == company.values, row
            assert row["enriched_at"] == old[company.ein]["fetched_at"], row
            assert "503" in row["enrichment_error"], row
    roster = _roster(case)
    unavailable = ("enrichment_unavailable", "medium", None)
    assert {e: r for e, r in roster.items() if e != U1} == {
        A: ("ok", "none", 2, 2, 0, 0, "stale"),  # the old (service) values, not the lookup's
        B: ("headcount_mismatch", "critical", 4, 1, -3, -75, "stale"),
        C: ("no_expectation", "low", None, 1, None, None, "stale"),
        D: ("missing_roster", "critical", 3, 0, -3, -100, "stale"),
        E: (*unavailable, 1, None, None, "failed"),
        F: (*unavailable, 1, None, None, "failed"),
        G: ("no_expectation", "low", None, 1, None, None, "stale"),
        H: (*unavailable, 0, None, None, "failed"),
        K: (*unavailable, 1, None, None, "failed"),
        J: ("ok", "none", 1, 1, 0, 0, "stale"),
    }
    assert roster[U1][:2] == ("unknown_company", "high") and roster[U1][-1] == "failed"
    listing = case.cli("enrichment")
    assert listing.returncode == 1
    listed = _listed(listing.stdout)
    assert {e: listed.get(e) for e in expected} == expected, listing.stdout
    assert "503" in _line_of(listing.stdout, A), listing.stdout

    # the service is back the next day: the stale and failed ones are requested and refreshed
    case.clock = "2026-03-08 06:00:00"
    _deliver(case.root, dt.date(2026, 3, 7))
    service.reset()
    recovered = case.sqlmesh("run")
    assert service.counts() == {**FULL_FETCH, U1: 1}, recovered.stdout[-3000:]
    cache, dim = _cache(case), _dim(case)
    assert {e: r["status"] for e, r in cache.items()} == {
        **{e: "ok" for e in ANSWERED_OK | {U1}},
        G: "not_found",
        **{e: "failed" for e in FAILED},
    }
    for ein in ANSWERED_OK | {U1}:
        assert dim[ein]["enrichment_status"] == "ok" and dim[ein]["enrichment_error"] is None
        assert dim[ein]["enriched_at"] >= dt.datetime(2026, 3, 8, 6), dim[ein]
        assert cache[ein]["fetched_at"] == dim[ein]["enriched_at"]
    assert _roster(case)[A] == ("ok", "none", 2, 2, 0, 0, "ok")
    _assert_token_nowhere(case, outage, listing, recovered)


def test_the_budget_bounds_the_enrichment_and_companies_not_reached_are_failed(
    base, service, tmp_path
):
    # every entry has expired and every answer is slower than the timeout: without the budget
    # the step would take ~4 s per company (1 + 3 retries of 1 s)
    budget = 1.5
    case = _case(base, tmp_path / "case", "2026-03-07 06:00:00", _days("2026-03-04", "2026-03-06"),
                 service, BENEFITS_ENRICHMENT_BUDGET_S=str(budget))  # fmt: skip
    service.reset(mode="slow")
    run = case.sqlmesh("run")  # the budget running out never fails the run
    # no request (first try or retry) starts after the budget has run out
    times = [t for _, _, t in service.snapshot()]
    late = sorted(round(t - min(times), 2) for t in times if t - min(times) > budget + 0.5)
    assert times and late == [], f"{len(late)} requests after the {budget} s budget: {late}"
    assert case.query(
        "SELECT COUNT(*) FROM staging.stg_claims WHERE _delivery_date = '2026-03-06'"
    ) == [(2,)]
    # no answer this run: the cached answers are used as stale, the others are failed
    expected = {**{e: "stale" for e in ANSWERED_OK | {G}}, **{e: "failed" for e in FAILED | {U1}}}
    assert {e: r["status"] for e, r in _cache(case).items()} == expected
    dim = _dim(case)
    assert {e: r["enrichment_status"] for e, r in dim.items()} == expected
    assert all(dim[e]["enrichment_error"] for e in expected), dim
    assert dim[A]["expected_headcount"] == 2 and dim[A]["industry"] == "svc-alpha"
    _assert_token_nowhere(case, run)


@pytest.mark.parametrize("status", ["401", "403"])
def test_a_refused_token_fails_the_run_naming_url_and_status_and_publishes_nothing(
    base, service, tmp_path, status
):
    # every entry has expired, and the day's files would change the marts (a new person)
    case = _case(base, tmp_path / "case", "2026-03-07 06:00:00", [], service)
    for day in _days("2026-03-04", "2026-03-06"):
        _deliver(case.root, day, persons="P-new,New Person,n@alpha.example,,,2026-01-01,\n")
    before = case.contents(("marts",))
    service.reset(mode=status)
    run = case.sqlmesh("run", check=False)
    out = run.stdout + run.stderr
    assert run.returncode != 0, out[-3000:]
    assert service.counts(), "the service was never asked"
    assert {auth for _, auth, _ in service.snapshot()} == {f"Bearer {TOKEN}"}
    # the message names the service and the status, never the token
    assert service.url in out and status in out, out[-3000:]
    error_lines = [ln for ln in out.splitlines() if service.url in ln]
    assert any(status in ln for ln in error_lines), error_lines
    assert TOKEN not in out
    # nothing of the run is published
    assert case.contents(("marts",)) == before
    assert case.query(
        "SELECT COUNT(*) FROM staging.stg_employees WHERE _delivery_date > '2026-03-03'"
    ) == [(0,)]
    _assert_token_nowhere(case, run)


# --------------------------------------------------------------------------- file provider


def _norm(value):
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float | Decimal):
        number = Decimal(str(value)).normalize()
        return "0" if number == 0 else format(number, "f")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def test_file_provider_keeps_the_lookup_values_and_makes_no_request(
    tmp_path, faketime, service, monkeypatch
):
    for name in ("BENEFITS_ENRICHMENT", "BENEFITS_ENRICHMENT_URL", "BENEFITS_ENRICHMENT_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    project = Project(
        root=tmp_path / "root",
        warehouse=tmp_path / "wh" / "warehouse.duckdb",
        start=START,
        clock=T0,
        # BENEFITS_ENRICHMENT unset (file), though a URL and token are there: neither is used
        extra_env={"BENEFITS_ENRICHMENT_URL": service.url, "BENEFITS_ENRICHMENT_TOKEN": TOKEN},
    )
    _write_root(project.root)
    service.reset()
    plan = project.plan()
    assert service.counts() == {}

    dim = _dim(project)
    assert set(dim) == {c.ein for c in LOOKUP_COMPANIES} | {U1}
    for company in LOOKUP_COMPANIES:
        row = dim[company.ein]
        assert row["enrichment_status"] == "ok" and row["enrichment_error"] is None, row
        assert (row["industry"], row["state"], row["expected_headcount"]) == (
            f"lookup-{company.slug}",
            "NY",
            company.lookup_headcount,
        ), row
        assert row["annual_revenue_usd"] is None, row
    assert dim[U1]["enrichment_status"] == "not_found" and dim[U1]["is_in_lookup"] is False
    assert dim[U1]["industry"] is dim[U1]["expected_headcount"] is None

    # the roster is what it was before the enrichment: the independent reference (SPEC §3 with
    # the lookup's headcounts), plus the status column
    columns = MARTS["fct_employee_roster_mismatches"]
    wanted = reference.compute(project.root)["fct_employee_roster_mismatches"]
    actual = project.query(
        f"SELECT {', '.join(columns)}, enrichment_status FROM marts.fct_employee_roster_mismatches"
    )
    assert Counter(tuple(_norm(v) for v in row[:-1]) for row in actual) == Counter(
        tuple(_norm(row[c]) for c in columns) for row in wanted
    )
    assert {row[0]: row[-1] for row in actual} == {
        **{c.ein: "ok" for c in LOOKUP_COMPANIES},
        U1: "not_found",
    }
    roster = _roster(project)
    assert roster[A][:6] == ("headcount_mismatch", "critical", 5, 2, -3, -60)  # lookup's 5
    assert roster[E][:2] == ("ok", "none")

    listing = project.cli("enrichment")
    assert listing.returncode == 0, listing.stdout + listing.stderr  # none failed or stale
    listed = _listed(listing.stdout)
    assert listed.get(A) == "ok" and listed.get(U1) == "not_found", listing.stdout
    _assert_token_nowhere(project, plan, listing, http=False)
