"""Freshness of the landing feeds for schedulers and monitors (issue 6).

The same figures as the `source_freshness` audits of ``staging.stg_source_freshness``: per
source, the age of the newest delivery file, measured from the end of its delivery day (UTC) to
now, against ``BENEFITS_FRESHNESS_HOURS[_<SOURCE>]`` (``WARN:ERROR`` hours, default 12:24).
"""

from __future__ import annotations

import datetime as dt

from benefits_mesh.landing import newest_deliveries
from benefits_mesh.settings import freshness_hours

OK, WARN, ERROR = 0, 1, 2
LEVELS = {OK: "ok", WARN: "warn", ERROR: "error"}


def future_files() -> list:
    """Files dated after today: ignored by the freshness figures, reported beside them."""
    from benefits_mesh.inventory import scan

    return [entry for entry in scan() if entry.status == "future"]


def freshness(now: dt.datetime | None = None) -> list[dict]:
    """One dict per source: source, newest_file, age_hours, warn/error thresholds, status.

    Files dated after today do not count (see :func:`future_files`).
    """
    now = now or dt.datetime.now(dt.UTC)
    report = []
    for source, day, name in newest_deliveries():
        warn, error = freshness_hours(source)
        if day is None:
            age, status = None, ERROR
        else:
            day_end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), dt.UTC)
            age = (now - day_end).total_seconds() / 3600
            status = ERROR if age > error else WARN if age > warn else OK
        report.append(
            {
                "source": source,
                "newest_file": name,
                "age_hours": age,
                "warn_after_hours": warn,
                "error_after_hours": error,
                "status": status,
            }
        )
    return report
