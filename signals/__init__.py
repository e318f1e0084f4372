"""SQLMesh signals: when is a delivery day ready to be processed (SPEC §4, issue 4).

A daily interval D of a model fed by source S is ready when S's file for D has landed
(``<root>/landing/S/S_D.csv``), or when ``BENEFITS_FILE_WAIT_DAYS`` (default 30) days have passed
since D ended: then D is closed as a day with no delivery. Until then D stays open, so a file that
lands late, even after later days' files, is loaded by the next ``sqlmesh run``.

The landing root is checked first: a missing or unreadable root (an unmounted share, a mistyped
``BENEFITS_DATA_DIR``) fails the run naming the path, and never closes days as "no delivery".
With ``BENEFITS_FILE_SETTLE_SECONDS`` > 0 a file modified less than that long ago (or "in the
future" of the clock) is treated as still being written: its day waits for the next run.

"Now" is the system clock (UTC), never a parameter: the scheduler and the replays drive time
with ``faketime``. Every model downstream of a source carries the same signal, so its own
unready days are the source's unready days and a pending day never blocks later ones.
"""

from __future__ import annotations

import typing as t

from sqlmesh import signal


@signal()
def delivery_ready(batch: t.Any, source: str) -> t.Any:
    """The intervals of ``batch`` whose day has a delivery file of ``source`` or has expired."""
    from datetime import UTC, datetime, timedelta

    from benefits_mesh.contract import COLUMNS
    from benefits_mesh.landing import check_source_dir, file_path
    from benefits_mesh.settings import file_settle_seconds, file_wait_days

    name = str(source).strip("'\"").lower()
    if name not in COLUMNS:
        raise ValueError(
            f"delivery_ready: unknown source {source!r}; expected one of {sorted(COLUMNS)}"
        )
    check_source_dir(name)  # raises before any day could be closed for want of a file
    wait = timedelta(days=file_wait_days())
    settle = file_settle_seconds()
    now = datetime.now(UTC)

    def landed(path) -> bool:
        try:
            info = path.stat()
        except OSError:
            return False
        age = now.timestamp() - info.st_mtime
        return path.is_file() and (settle == 0 or age >= settle)

    ready = []
    for start, end in batch:
        day_start = start if start.tzinfo else start.replace(tzinfo=UTC)
        day_end = end if end.tzinfo else end.replace(tzinfo=UTC)
        path = file_path(name, day_start.date())
        if landed(path) or (now >= day_end + wait and not path.is_file()):
            ready.append((start, end))
    return ready
