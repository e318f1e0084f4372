"""A reviewable summary of an environment against prod (`benefits-mesh plan-summary`).

For a pull request: plan the branch into a dev environment (``sqlmesh plan dev``, or
``make review``), then summarise what promoting it would change. For every model whose version
in the environment differs from prod's: the kind of change and SQLMesh's category (breaking,
non-breaking, indirect ..., metadata), the days the environment computed for it and what
promotion still has to compute (nothing: promotion is a virtual update), its audits run on the
environment's tables (and on prod's, so a failure the change introduced is told apart from one
that was already there), and for every changed mart a ``table_diff`` prod:ENV by the mart's grain
(rows only in prod, only in the environment, joined rows that differ). Text or Markdown.

Everything comes from SQLMesh's state and Python API (``Context``, the environments' snapshots,
``SnapshotEvaluator.audit``, ``Context.table_diff``; what is not public API goes through
:mod:`benefits_mesh.sqlmesh_api`); nothing is applied (``table_diff`` writes only its temporary
tables, in ``sqlmesh_temp``, and drops them).
"""

from __future__ import annotations

import datetime as dt
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

from benefits_mesh import sqlmesh_api
from benefits_mesh.text import printable

if t.TYPE_CHECKING:
    from sqlmesh import Context, Snapshot

PROD = "prod"

CATEGORY = {
    "BREAKING": "breaking",
    "NON_BREAKING": "non-breaking",
    "FORWARD_ONLY": "forward-only",
    "INDIRECT_BREAKING": "indirect breaking",
    "INDIRECT_NON_BREAKING": "indirect non-breaking",
    "METADATA": "metadata",
}

DateRange = tuple[dt.date, dt.date]


class ReviewError(RuntimeError):
    """The environment asked for does not exist (yet)."""


@dataclass
class AuditOutcome:
    name: str  # audit name (with its arguments when the same audit is attached twice)
    failed_rows: int | None  # None: skipped
    blocking: bool
    failed_in_prod: bool | None = None  # None: no prod version to compare with

    @property
    def failed(self) -> bool:
        return bool(self.failed_rows)

    @property
    def is_new(self) -> bool:
        """Fails here but not on prod's version of the model."""
        return self.failed and not self.failed_in_prod


@dataclass
class DiffCounts:
    prod_rows: int
    env_rows: int
    matched_rows: int  # joined on the grain, every shared column equal
    changed_rows: int  # joined on the grain, some column differs
    prod_only_rows: int
    env_only_rows: int
    schema_changes: list[str] = field(default_factory=list)


@dataclass
class ModelChange:
    name: str  # schema.model
    change: str  # added | removed | directly modified | indirectly modified | metadata only
    category: str  # see CATEGORY; "" for added and removed models
    kind: str
    new_table: bool  # the environment has its own table/view version (else it reuses prod's)
    computed: list[DateRange] = field(default_factory=list)
    promotion: list[DateRange] = field(default_factory=list)
    audits: list[AuditOutcome] = field(default_factory=list)
    diff: DiffCounts | None = None
    diff_note: str = ""


@dataclass
class Summary:
    env: str
    project: Path
    differs_from_files: list[str]  # models where the project files differ from the environment
    changes: list[ModelChange]

    @property
    def failed_audits(self) -> list[tuple[str, AuditOutcome]]:
        return [(c.name, a) for c in self.changes for a in c.audits if a.failed]

    @property
    def blocking_failures(self) -> list[tuple[str, AuditOutcome]]:
        return [(name, a) for name, a in self.failed_audits if a.blocking]


# ---------------------------------------------------------------------------------- building


def context(project: Path | None = None) -> Context:
    """A SQLMesh context on the project (default: this one). SQLMesh's own CLI sends its log to
    files; here its log records (e.g. every SQL statement of a table_diff, logged at the
    effective level) are dropped, the console output stays."""
    import logging

    from sqlmesh import Context

    from benefits_mesh.settings import project_root

    for name in ("sqlmesh", "benefits_mesh.landing"):
        logger = logging.getLogger(name)
        if not logger.handlers:
            logger.addHandler(logging.NullHandler())
    return Context(paths=str(project or project_root()), load=True)


def _short(fqn: str) -> str:
    """'"wh"."marts"."fct_x"' -> 'marts.fct_x'."""
    parts = [part.strip('"') for part in fqn.split(".")]
    return ".".join(parts[-2:])


def _day(ms: int) -> dt.date:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).date()


def date_ranges(intervals: t.Iterable[tuple[int, int]]) -> list[DateRange]:
    """Merge [start, end) epoch-ms intervals into inclusive date ranges."""
    ranges: list[DateRange] = []
    for start, end in sorted(intervals):
        first, last = _day(start), _day(end) - dt.timedelta(days=1)
        if last < first:
            last = first
        if ranges and first <= ranges[-1][1] + dt.timedelta(days=1):
            ranges[-1] = (ranges[-1][0], max(ranges[-1][1], last))
        else:
            ranges.append((first, last))
    return ranges


def format_ranges(ranges: list[DateRange]) -> str:
    if not ranges:
        return "-"
    parts = []
    for first, last in ranges:
        days = (last - first).days + 1
        parts.append(first.isoformat() if first == last else f"{first}..{last} ({days} days)")
    return ", ".join(parts)


def _subtract(have: list[tuple[int, int]], minus: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Intervals of `have` not covered by `minus` (both lists of [start, end) epoch ms)."""
    result = []
    for start, end in have:
        pieces = [(start, end)]
        for m_start, m_end in minus:
            next_pieces = []
            for p_start, p_end in pieces:
                if m_end <= p_start or m_start >= p_end:
                    next_pieces.append((p_start, p_end))
                    continue
                if p_start < m_start:
                    next_pieces.append((p_start, m_start))
                if m_end < p_end:
                    next_pieces.append((m_end, p_end))
            pieces = next_pieces
        result.extend(pieces)
    return result


def environment_snapshots(ctx: Context, env: str) -> dict[str, Snapshot]:
    """The snapshots of environment ``env`` by model name; ReviewError when it does not exist."""
    snapshots = sqlmesh_api.environment_snapshots(ctx, env)
    if snapshots is None:
        raise ReviewError(
            f"environment {env!r} does not exist: plan it first "
            f"(`sqlmesh plan {env}`{'' if env == PROD else ' or `make review`'})"
        )
    return snapshots


def _audits(
    ctx: Context, snapshot: Snapshot, snapshots: dict[str, Snapshot], deployability
) -> dict[str, tuple[int | None, bool]]:
    """{audit label: (failed rows or None when skipped, blocking)} over the computed range."""
    intervals = sqlmesh_api.snapshot_intervals(snapshot, deployability.is_deployable(snapshot))
    if not snapshot.model.audits or not (intervals or snapshot.model.kind.is_view):
        return {}
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    # a view has no computed days: its audits read the whole view
    start = min(i[0] for i in intervals) if intervals else dt.datetime(1970, 1, 1)
    end = max(i[1] for i in intervals) if intervals else now
    results = sqlmesh_api.audit_snapshot(
        ctx,
        snapshot,
        snapshots=snapshots,
        start=start,
        end=end,
        execution_time=now,
        deployability=deployability,
    )
    outcomes: dict[str, tuple[int | None, bool]] = {}
    for result in results:
        label = result.audit.name
        if label in outcomes:  # the same audit attached twice: tell them apart by arguments
            args = ", ".join(
                f"{key} := {value.sql() if hasattr(value, 'sql') else value}"
                for key, value in result.audit_args.items()
            )
            label = f"{label}({args})"
        outcomes[label] = (None if result.skipped else int(result.count or 0), result.blocking)
    return outcomes


def _change(env_snapshot: Snapshot | None, prod_snapshot: Snapshot | None) -> tuple[str, str]:
    if prod_snapshot is None:
        return "added", ""
    if env_snapshot is None:
        return "removed", ""
    category = env_snapshot.change_category
    label = CATEGORY.get(category.name if category is not None else "", "uncategorized")
    if env_snapshot.is_forward_only and label in ("breaking", "non-breaking"):
        label = "forward-only"
    if label == "metadata":
        return "metadata only", label
    if label.startswith("indirect"):
        return "indirectly modified", label
    return "directly modified", label


def _table_diff(ctx: Context, env: str, change: ModelChange) -> None:
    try:
        diffs = ctx.table_diff(PROD, env, select_models=[change.name], show=False, limit=5)
    except Exception as exc:  # a model without grain, or one SQLMesh cannot join
        change.diff_note = f"table_diff failed: {str(exc).splitlines()[0]}"
        return
    if not diffs:
        change.diff_note = "same version as prod: no difference"
        return
    diff = diffs[0]
    rows = diff.row_diff(skip_grain_check=True)
    schema = diff.schema_diff()
    schema_changes = [f"+{name} {kind.sql()}" for name, kind in schema.added]
    schema_changes += [f"-{name} {kind.sql()}" for name, kind in schema.removed]
    schema_changes += [
        f"~{name} {old.sql()} -> {new.sql()}" for name, (old, new) in schema.modified.items()
    ]
    change.diff = DiffCounts(
        prod_rows=rows.source_count,
        env_rows=rows.target_count,
        matched_rows=rows.full_match_count,
        changed_rows=rows.partial_match_count,
        prod_only_rows=rows.s_only_count,
        env_only_rows=rows.t_only_count,
        schema_changes=schema_changes,
    )


def summarize(
    env: str = "dev",
    project: Path | None = None,
    *,
    ctx: Context | None = None,
    check_files: bool = True,
    baseline_audits: bool = True,
) -> Summary:
    """Compare environment `env` with prod (see the module docstring)."""
    if env == PROD:
        raise ReviewError("plan-summary compares an environment with prod: pass --env NAME")
    ctx = ctx or context(project)
    env_snapshots = environment_snapshots(ctx, env)
    try:
        prod_snapshots = environment_snapshots(ctx, PROD)
    except ReviewError:
        prod_snapshots = {}

    differs: list[str] = []
    if check_files:
        differs = files_vs_environment(ctx, env)

    env_index = sqlmesh_api.deployability(env_snapshots.values())
    prod_index = sqlmesh_api.deployability()
    names = sorted(
        {n for n, s in env_snapshots.items() if s.is_model}
        | {n for n, s in prod_snapshots.items() if s.is_model}
    )
    changes: list[ModelChange] = []
    for name in names:
        new, old = env_snapshots.get(name), prod_snapshots.get(name)
        if new is not None and old is not None and new.fingerprint == old.fingerprint:
            continue
        change_kind, category = _change(new, old)
        model = (new or old).model
        item = ModelChange(
            name=_short(name),
            change=change_kind,
            category=category,
            kind=model.kind.name,
            new_table=new is not None and (old is None or new.version != old.version),
        )
        changes.append(item)
        if new is None:
            continue
        deployable = env_index.is_deployable(new)
        computed = sqlmesh_api.snapshot_intervals(new, deployable)
        if item.new_table:
            item.computed = date_ranges(computed)
            if old is not None:
                prod_computed = sqlmesh_api.snapshot_intervals(old, deployable=True)
                item.promotion = date_ranges(_subtract(prod_computed, computed))
        if not model.kind.is_symbolic:
            env_results = _audits(ctx, new, env_snapshots, env_index)
            prod_results = (
                _audits(ctx, old, prod_snapshots, prod_index)
                if baseline_audits and old is not None and model.kind.name != "EMBEDDED"
                else {}
            )
            for label, (count, blocking) in env_results.items():
                in_prod = prod_results.get(label)
                item.audits.append(
                    AuditOutcome(
                        name=label,
                        failed_rows=count,
                        blocking=blocking,
                        failed_in_prod=None if in_prod is None else bool(in_prod[0]),
                    )
                )
        if item.name.startswith("marts.") and item.new_table and old is not None:
            _table_diff(ctx, env, item)
    return Summary(env=env, project=Path(ctx.path), differs_from_files=differs, changes=changes)


def files_vs_environment(ctx: Context, env: str) -> list[str]:
    """Models whose definition in the project files differs from the environment's."""
    try:
        plan = ctx.plan_builder(env, skip_tests=True, skip_linter=True).build()
    except sqlmesh_api.SQLMeshError:
        return []
    return sorted(_short(name) for name in sqlmesh_api.plan_changed_models(plan))


# --------------------------------------------------------------------------------- rendering


def _audit_cell(change: ModelChange) -> str:
    if not change.audits:
        return "-"
    failed = [a for a in change.audits if a.failed]
    if not failed:
        return f"{len(change.audits)} passed"
    parts = []
    for audit in failed:
        flags = ["blocking" if audit.blocking else "warning"]
        if audit.failed_in_prod:
            flags.append("fails in prod too")
        elif audit.failed_in_prod is False:
            flags.append("new")
        parts.append(f"{audit.name} FAILED {audit.failed_rows} ({', '.join(flags)})")
    return "; ".join(parts) + f"; {len(change.audits) - len(failed)} passed"


def _backfill_cell(change: ModelChange, env: str) -> str:
    if change.change == "removed":
        return "view dropped on promotion"
    if not change.new_table:
        return "reuses prod's table"
    if change.kind == "VIEW":
        return "view: nothing to compute"
    computed = f"{env}: {format_ranges(change.computed)}"
    promotion = (
        "promotion: virtual update"
        if not change.promotion
        else f"promotion computes {format_ranges(change.promotion)}"
    )
    return f"{computed}; {promotion}"


def _diff_cell(change: ModelChange) -> str:
    if change.diff is None:
        # the note may quote SQLMesh's error, which can embed raw values
        return printable(change.diff_note) if change.diff_note else "-"
    d = change.diff
    text = (
        f"prod {d.prod_rows:,} / env {d.env_rows:,} rows: {d.matched_rows:,} equal, "
        f"{d.changed_rows:,} changed, {d.prod_only_rows:,} prod only, "
        f"{d.env_only_rows:,} env only"
    )
    if d.schema_changes:
        text += f"; schema {' '.join(d.schema_changes)}"
    return text


def render(summary: Summary, markdown: bool = False) -> str:
    env = summary.env
    lines: list[str] = []
    heading = f"Plan summary: `{env}` vs `prod`" if markdown else f"plan summary: {env} vs prod"
    lines.append(f"## {heading}" if markdown else heading)
    lines.append("")
    if summary.differs_from_files:
        note = (
            f"WARNING: the project files differ from `{env}` in "
            f"{len(summary.differs_from_files)} model(s) ({', '.join(summary.differs_from_files)})"
            f": run `sqlmesh plan {env}` so this summary describes the branch."
        )
        lines += [f"> {note}" if markdown else note, ""]
    if not summary.changes:
        lines.append(f"No model differs between `{env}` and `prod`.")
        return "\n".join(lines) + "\n"

    counts: dict[str, int] = {}
    for change in summary.changes:
        counts[change.change] = counts.get(change.change, 0) + 1
    lines.append(
        f"{len(summary.changes)} model(s) differ: "
        + ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
    )
    failed = summary.failed_audits
    blocking = summary.blocking_failures
    if failed:
        new = [f"{name}: {a.name}" for name, a in failed if a.is_new]
        lines.append(
            f"audits: {len(failed)} failed ({len(blocking)} blocking)"
            + (f"; new in {env}: {', '.join(new)}" if new else "")
        )
    else:
        lines.append(f"audits: all passed in {env}")
    lines.append("")

    columns = ("model", "change", "category", "kind", "backfill", "audits", "table_diff")
    rows = [
        (
            change.name,
            change.change,
            change.category or "-",
            change.kind.lower(),
            _backfill_cell(change, env),
            _audit_cell(change),
            _diff_cell(change),
        )
        for change in summary.changes
    ]
    if markdown:
        lines.append("| " + " | ".join(columns) + " |")
        lines.append("|" + "---|" * len(columns))
        for row in rows:
            cells = [f"`{row[0]}`", *row[1:]]
            lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    else:
        for row in rows:
            lines.append(f"{row[0]}  [{row[1]}{', ' + row[2] if row[2] != '-' else ''}]")
            for label, value in zip(columns[3:], row[3:], strict=True):
                lines.append(f"    {label:<10} {value}")
    lines.append("")
    lines.append(
        f"Inspect a mart: `sqlmesh table_diff prod:{env} <model> --show-sample`; "
        f"promote: `sqlmesh plan` (prod); discard: `sqlmesh invalidate {env}` then "
        "`sqlmesh janitor`."
    )
    return "\n".join(lines) + "\n"
