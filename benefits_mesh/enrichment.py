"""Company enrichment from a REST service, with a cache in the warehouse (SPEC §6).

``refresh()`` runs at the start of every plan application and every run with work (the
``@enrich_companies()`` before_all statement, macros/enrichment.py) when
``BENEFITS_ENRICHMENT=http``. For every company the platform knows (the lookup's companies and
the EINs in the environment's ``intermediate.int_companies``), it decides from the cache
``ops.company_enrichment`` which to request: never answered, last attempt failed, or answered
longer ago than ``BENEFITS_ENRICHMENT_TTL_HOURS``. The rest make no request.

Requests: ``GET <base>/companies/<ein>``, ``Authorization: Bearer <token>``, up to
``concurrency`` in flight (threads, one requests.Session each), retried by urllib3's ``Retry``
(429 honouring ``Retry-After`` up to a cap; 5xx, timeouts and connection errors with exponential
backoff and jitter; at most ``retries``), each with a timeout, all within a budget: companies not
answered when it runs out are failed for this run. 401/403 stop everything (EnrichmentAuthError,
naming the URL and the status, never the token) before any model is evaluated.

Outcomes written to the cache: 200 → ``ok`` with the values; 404 → ``not_found``; a failure
with values from an earlier answer → ``stale`` (values and their fetch time kept); a failure
with none → ``failed``. Every failure keeps its message in ``last_error``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait
from decimal import Decimal, InvalidOperation

CACHE_SCHEMA = "ops"
CACHE_TABLE = "ops.company_enrichment"
CACHE_COLUMNS = {
    "company_ein": "VARCHAR",  # NN-NNNNNNN
    "status": "VARCHAR",  # ok | not_found | stale | failed
    "industry": "VARCHAR",
    "expected_headcount": "BIGINT",
    "state": "VARCHAR",
    "annual_revenue_usd": "DECIMAL(18, 2)",
    "fetched_at": "TIMESTAMP",  # UTC time of the answer whose values are held (NULL: none)
    "attempted_at": "TIMESTAMP",  # UTC time of the latest request
    "last_error": "VARCHAR",  # the latest failure (NULL after a good answer)
}
_BIGINT_MAX = 2**63 - 1


class EnrichmentAuthError(ValueError):
    """The service refused the credentials (401/403): a configuration error."""

    pass


def ddl() -> list[str]:
    columns = ", ".join(f"{name} {kind}" for name, kind in CACHE_COLUMNS.items())
    return [
        f"CREATE SCHEMA IF NOT EXISTS {CACHE_SCHEMA}",
        f"CREATE TABLE IF NOT EXISTS {CACHE_TABLE} ({columns})",
    ]


def canonical_ein(value: object) -> str | None:
    digits = re.sub(r"[^0-9]", "", value) if isinstance(value, str) else ""
    return f"{digits[:2]}-{digits[2:]}" if len(digits) == 9 else None


def _public(url: str) -> str:
    """The URL without credentials (``user:password@``), safe to print."""
    return re.sub(r"//[^/@]*@", "//", url)


def parse_answer(ein: str, body: bytes) -> dict:
    """The attributes of a 200 answer, or ValueError saying what is wrong with it."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"malformed JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    if canonical_ein(data.get("ein")) != ein:
        raise ValueError(f"answer is for ein {str(data.get('ein'))[:40]!r}, not {ein}")
    values: dict = {}
    for key in ("industry", "state"):
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            raise ValueError(f"{key} should be a string, got {type(value).__name__}")
        values[key] = value
    headcount = data.get("expected_headcount")
    if headcount is not None and (
        isinstance(headcount, bool)
        or not isinstance(headcount, int)
        or not 0 <= headcount <= _BIGINT_MAX
    ):
        raise ValueError(f"expected_headcount should be a whole number >= 0, got {headcount!r}")
    values["expected_headcount"] = headcount
    revenue = data.get("annual_revenue_usd")
    if revenue is not None:
        if isinstance(revenue, bool) or not isinstance(revenue, int | float):
            raise ValueError(f"annual_revenue_usd should be a number, got {revenue!r}")
        try:
            revenue = Decimal(str(revenue)).quantize(Decimal("0.01"))
        except InvalidOperation:
            revenue = None
        if revenue is None or not math.isfinite(revenue) or abs(revenue) >= Decimal(10) ** 16:
            raise ValueError(f"annual_revenue_usd out of range: {data.get('annual_revenue_usd')!r}")
    values["annual_revenue_usd"] = revenue
    return values


def _session(settings: dict, deadline: float):
    """A requests session whose retries (urllib3 ``Retry``) stop at the run's deadline.

    The budget bounds the retries too: past ``deadline`` (``time.monotonic()``) no retry is
    made, and a backoff or ``Retry-After`` wait never sleeps beyond it; a request in flight at
    the deadline still runs to its own timeout.
    """
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.exceptions import MaxRetryError
    from urllib3.util.retry import Retry

    class BudgetRetry(Retry):
        def new(self, **params):
            retry = super().new(**params)
            retry.deadline = deadline
            return retry

        def increment(self, method=None, url=None, response=None, error=None, _pool=None,
                      _stacktrace=None):  # fmt: skip
            if time.monotonic() >= deadline:
                raise MaxRetryError(_pool, url, BudgetExhausted("budget exhausted"))
            return super().increment(method, url, response, error, _pool, _stacktrace)

        def get_backoff_time(self) -> float:
            return max(0.0, min(super().get_backoff_time(), deadline - time.monotonic()))

        def get_retry_after(self, response):
            after = super().get_retry_after(response)
            remaining = max(0.0, deadline - time.monotonic())
            return None if after is None else min(after, remaining)

    retry = BudgetRetry(
        total=settings["retries"],
        connect=settings["retries"],
        read=settings["retries"],
        status=settings["retries"],
        other=0,
        status_forcelist=[429, *range(500, 600)],
        allowed_methods=frozenset({"GET"}),
        backoff_factor=settings["backoff_s"],
        backoff_jitter=settings["backoff_s"],
        respect_retry_after_header=True,
        retry_after_max=int(settings["retry_after_max_s"]),
        raise_on_status=False,
    )
    session = requests.Session()
    session.mount("http://", HTTPAdapter(max_retries=retry))
    session.mount("https://", HTTPAdapter(max_retries=retry))
    if settings["token"]:
        session.headers["Authorization"] = f"Bearer {settings['token']}"
    return session


class BudgetExhausted(Exception):
    """BENEFITS_ENRICHMENT_BUDGET_S ran out before the company was answered."""

    pass


def fetch(eins: list[str], settings: dict) -> dict[str, tuple[str, dict | None, str | None]]:
    """(outcome, values, error) per EIN: outcome ``ok``, ``not_found`` or ``error``.

    Raises EnrichmentAuthError on a 401/403 from any request.
    """
    import requests

    deadline = time.monotonic() + settings["budget_s"]
    local = threading.local()
    auth_error: list[str] = []

    def one(ein: str) -> tuple[str, dict | None, str | None]:
        if auth_error:
            return "error", None, "not requested: the service refused the credentials"
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return "error", None, "not reached within BENEFITS_ENRICHMENT_BUDGET_S"
        if not hasattr(local, "session"):
            local.session = _session(settings, deadline)
        url = f"{settings['url']}/companies/{ein}"
        timeout = min(settings["timeout_s"], remaining)
        try:
            response = local.session.get(url, timeout=(timeout, timeout))
        except requests.exceptions.RequestException as exc:
            if time.monotonic() >= deadline:
                return "error", None, "not answered within BENEFITS_ENRICHMENT_BUDGET_S"
            return "error", None, _failure(exc, settings["retries"])
        if response.status_code in (401, 403):
            auth_error.append(f"{_public(url)} answered HTTP {response.status_code}")
            return "error", None, f"HTTP {response.status_code}"
        if response.status_code == 404:
            return "not_found", None, None
        if response.status_code != 200:
            return "error", None, f"HTTP {response.status_code} after {settings['retries']} retries"
        try:
            return "ok", parse_answer(ein, response.content), None
        except ValueError as exc:
            return "error", None, f"invalid answer: {exc}"

    results: dict[str, tuple[str, dict | None, str | None]] = {}
    pool = ThreadPoolExecutor(max_workers=settings["concurrency"], thread_name_prefix="enrich")
    futures = {pool.submit(one, ein): ein for ein in eins}
    done, _ = wait(futures, timeout=max(0.0, deadline - time.monotonic()) + 1)
    for future, ein in futures.items():
        if future in done:
            results[ein] = future.result()
        else:
            future.cancel()
            results[ein] = ("error", None, "not answered within BENEFITS_ENRICHMENT_BUDGET_S")
    pool.shutdown(wait=False, cancel_futures=True)
    if auth_error:
        raise EnrichmentAuthError(
            f"company enrichment: {auth_error[0]}: the service refused the credentials; check "
            "BENEFITS_ENRICHMENT_TOKEN (nothing of this run was published)"
        )
    return results


def _failure(exc: BaseException, retries: int) -> str:
    """What went wrong with a request whose retries ran out (no URL credentials, no headers)."""
    import requests

    if isinstance(exc, requests.exceptions.Timeout) or "ReadTimeoutError" in str(exc):
        return f"timed out after {retries} retries"
    if isinstance(exc, requests.exceptions.RetryError):
        return f"gave up after {retries} retries ({_reason(exc)})"
    return f"request failed after {retries} retries ({_reason(exc)})"


def _reason(exc: BaseException) -> str:
    """A short reason for a requests error (no URL credentials, no headers)."""
    text = str(exc)
    code = re.search(r"too many (\d+) error", text)
    if code:
        return f"HTTP {code.group(1)}"
    cause = re.search(r"Caused by (\w+)\(", text)
    return cause.group(1) if cause else type(exc).__name__


def due(cache: dict[str, dict], eins: list[str], now: dt.datetime, ttl_hours: float) -> list[str]:
    """The EINs to request: never answered, last attempt failed or stale, or answer expired."""
    expiry = now - dt.timedelta(hours=ttl_hours)
    wanted = []
    for ein in eins:
        entry = cache.get(ein)
        if (
            entry is None
            or entry["status"] in ("failed", "stale")
            or entry["fetched_at"] is None
            or entry["fetched_at"] <= expiry
        ):
            wanted.append(ein)
    return wanted


def merge(previous: dict | None, outcome: tuple, now: dt.datetime) -> dict:
    """The cache entry after one request's outcome (SPEC §6 statuses)."""
    kind, values, error = outcome
    attributes = ("industry", "expected_headcount", "state", "annual_revenue_usd")
    entry = {key: None for key in attributes}
    entry.update(attempted_at=now, last_error=None)
    if kind == "ok":
        entry.update(values, status="ok", fetched_at=now)
    elif kind == "not_found":
        entry.update(status="not_found", fetched_at=now)
    elif previous is not None and previous.get("fetched_at") is not None:
        # the expired answer is used, marked stale, until a request succeeds
        entry.update({key: previous.get(key) for key in attributes})
        entry.update(status="stale", fetched_at=previous["fetched_at"], last_error=error)
    else:
        entry.update(status="failed", fetched_at=None, last_error=error)
    return entry


def _sql_value(value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, dt.datetime):
        return f"TIMESTAMP '{value.isoformat(sep=' ')}'"
    if isinstance(value, int | Decimal):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def refresh(adapter, eins: list[str], settings: dict, log=print) -> dict[str, int]:
    """Request what is due, write the outcomes to the cache; counts per outcome."""
    for statement in ddl():
        adapter.execute(statement)
    names = list(CACHE_COLUMNS)
    cache = {
        row[0]: dict(zip(names, row, strict=True))
        for row in adapter.fetchall(f"SELECT {', '.join(names)} FROM {CACHE_TABLE}")
    }
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    wanted = due(cache, sorted(set(eins)), now, settings["ttl_hours"])
    counts = {"companies": len(set(eins)), "requested": len(wanted)}
    if not wanted:
        return counts
    started = time.monotonic()
    results = fetch(wanted, settings)
    rows = []
    for ein in wanted:
        entry = merge(cache.get(ein), results[ein], now)
        counts[entry["status"]] = counts.get(entry["status"], 0) + 1
        rows.append(
            "(" + ", ".join(_sql_value(v) for v in [ein, *(entry[n] for n in names[1:])]) + ")"
        )
    keys = ", ".join(_sql_value(ein) for ein in wanted)
    adapter.execute(f"DELETE FROM {CACHE_TABLE} WHERE company_ein IN ({keys})")
    adapter.execute(f"INSERT INTO {CACHE_TABLE} ({', '.join(names)}) VALUES {', '.join(rows)}")
    log(
        f"company enrichment: {len(wanted)} of {counts['companies']} companies requested from "
        f"{_public(settings['url'])} in {time.monotonic() - started:.1f} s: "
        + ", ".join(f"{counts.get(s, 0)} {s}" for s in ("ok", "not_found", "stale", "failed"))
    )
    return counts
