"""The landing report at the end of every ``sqlmesh run``: a SQLMesh notification target
(registered for every notification by ``benefits_mesh.runtime``: config.yaml cannot name it).

At the start of every run and plan application it also checks the landing root and the
reference file (:func:`preflight`), so that a missing root fails in one line before anything.

SQLMesh notifies its targets when a run ends (``run_end``, even a run with nothing to do) or
fails (``run_failure``). This target then lists the landing files no run will load as they are
(benefits_mesh.inventory: refused names, files dated before BENEFITS_START or after today, files
that landed after their day was closed, files changed after their load) as one warning, with
the restatement command where one applies. It reads the environment's load records through the
run's own DuckDB connection (the engine adapter SQLMesh shares per data file), so it needs no
second connection and no lock. The report never fails a run: an error building it is a warning.
"""

from __future__ import annotations

import typing as t

from sqlmesh.core.notification_target import GenericNotificationTarget, NotificationEvent

#: The environment of the run in progress (run_start), for run_failure, which does not name it.
_environment: dict[str, str] = {}


class LandingReport(GenericNotificationTarget):
    """Warns at the end of every run about landing files no run will load."""

    notify_on: frozenset[NotificationEvent] = frozenset(
        {
            NotificationEvent.RUN_START,
            NotificationEvent.RUN_END,
            NotificationEvent.RUN_FAILURE,
            NotificationEvent.APPLY_START,
        }
    )

    def notify_run_start(self, environment: str, *args: t.Any, **kwargs: t.Any) -> None:
        run_started(environment)

    def notify_apply_start(self, *args: t.Any, **kwargs: t.Any) -> None:
        preflight()

    def notify_run_end(self, environment: str, *args: t.Any, **kwargs: t.Any) -> None:
        report(environment)

    def notify_run_failure(self, *args: t.Any, **kwargs: t.Any) -> None:
        report(_environment.get("name", "prod"))

    def send(self, *args: t.Any, **kwargs: t.Any) -> None:  # nothing else is sent
        pass


def run_started(environment: str) -> None:
    """A run of ``environment`` starts: remember it (run_failure does not name it), preflight."""
    _environment["name"] = environment
    preflight()


def preflight() -> None:
    """Before a run or a plan's apply touches anything: the landing root, its landing folder
    and the reference file exist, can be read and hold valid values.

    Raised here, a LandingFileError or SettingError (both ValueErrors) ends the command with
    SQLMesh's one-line ``Error: <message>`` naming the path or variable, before any signal
    could close a day for want of a file (an unmounted share is not a run of quiet days).
    """
    from benefits_mesh.landing import company_lookup_rows, landing_dir

    landing_dir()
    company_lookup_rows()


def report(environment: str) -> None:
    """Print the landing report of ``environment`` through SQLMesh's console."""
    from rich.markup import escape

    from benefits_mesh.inventory import PROBLEMS, inventory, report_lines
    from benefits_mesh.sqlmesh_api import console as sqlmesh_console

    console = sqlmesh_console()
    try:
        from benefits_mesh.runtime import warehouse_adapter

        adapter = warehouse_adapter()
        fetch = adapter.fetchall if adapter is not None else None
        entries = inventory(fetch, env=environment)
    except Exception as exc:  # noqa: BLE001 - a report must never fail the run
        console.log_warning(escape(f"landing report skipped: {type(exc).__name__}: {exc}"))
        return
    problems = [e for e in entries if e.status in PROBLEMS]
    ignored = sum(e.status == "ignored" for e in entries)
    if problems:
        lines = report_lines(entries)
        # escaped: a file name such as "claims_[red]….csv" is text, not console markup
        console.log_warning(
            escape(
                f"landing: {len(problems)} file(s) in {environment} that no run will load as "
                "they are (`benefits-mesh late-files` lists every file):\n  " + "\n  ".join(lines)
            )
        )
    if ignored:
        console.log_status_update(
            f"landing: {ignored} hidden or partial-transfer file(s) ignored "
            "(`benefits-mesh late-files` lists them)"
        )
