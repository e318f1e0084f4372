"""Incident drill: the seeds' bad feed, an isolated environment to load it in, EXPLAIN ANALYZE.

``write_incident`` (``benefits-mesh incident``) writes, onto a healthy landing root, the feed of
the seeds' hardest scenario: one claims delivery ``scale`` x the usual size in which

- one company holds most rows (skew): ``hot_share`` of the file, new claims on the last 3 days;
- claim_ids of earlier deliveries are re-sent many times (``copies`` each): the merge key of
  ``intermediate.int_claims_current`` repeats (fan-out). Half of them come as exact copies, half
  with one copy carrying another amount (a conflicting duplicate);
- the rest are new claims spread like a normal day;

and, unless ``lookup='none'``, a join key of the reference file that starts to repeat:
``domain`` lists the last company's e-mail domain under the first company as well (employees
resolved by that domain silently move to the first company: ``domain_owners`` keeps the first
owner in file order, so nothing fans out); ``ein`` repeats the first company's EIN (the lookup
loader refuses the file: every run that reads it fails naming it).

``sandbox`` (``benefits-mesh sandbox``) loads the landing root's current deliveries of some
sources into a dev environment **without touching prod**. A plain ``sqlmesh plan dev`` cannot:
a dev environment shares the physical tables of every model it did not change, so processing a
new day there writes prod's tables (and by default a dev plan stops at prod's last interval).
The sandbox re-versions the models that read the sources' files (SQLMesh's ``stamp``: a new
model version without a functional change), categorises them as breaking so everything
downstream gets its own tables too, and backfills only that part of the graph. Prod's tables,
intervals and views are untouched; ``sqlmesh table_diff prod:<env> <model>`` then compares the
two. It reports what ``benefits-mesh plan-summary`` reports plus the deliveries the environment
loaded that prod has not, with their load accounting, top company and most repeated claim_ids.

``explain`` (``benefits-mesh explain``) runs EXPLAIN ANALYZE on a model's query for one interval
against an environment's tables (the query SQLMesh would run for that batch).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
import statistics
import typing as t
from pathlib import Path

import duckdb

from benefits_mesh import landing, review, sqlmesh_api
from benefits_mesh.settings import data_dir
from benefits_mesh.text import printable

if t.TYPE_CHECKING:
    from sqlmesh import Context

SOURCE_ROOTS: dict[str, tuple[str, ...]] = {
    "claims": ("staging.stg_claims__classified", "staging.stg_claims__files"),
    "employees": ("staging.stg_employees__classified", "staging.stg_employees__files"),
    "plans": ("staging.stg_plans__classified", "staging.stg_plans__files"),
    "reference": ("staging.stg_companies", "staging.stg_company_domains"),
}
CLAIM_TYPES = ("medical", "dental", "vision", "pharmacy")
HEADER = ("claim_id", "person_id", "company_ein", "claim_type", "service_date", "amount")
LOOKUP_BACKUP = "company_lookup.json.before-incident"


class IncidentError(RuntimeError):
    """The landing root cannot take the drill (no history, file exists, ...)."""


# ------------------------------------------------------------------------------ the bad feed


def _claims_history(root: Path, day: dt.date, days: int = 60) -> list[landing.DeliveryFile]:
    quiet = logging.getLogger("benefits_mesh.landing")
    level, quiet.level = quiet.level, logging.ERROR  # extra columns are logged: expected here
    try:
        files = landing.delivery_files("claims", day - dt.timedelta(days=days), day, root)
    finally:
        quiet.setLevel(level)
    return [f for f in files if f[2] < day][-28:]


def _newest_claims_day(root: Path) -> dt.date:
    days = []
    for path in landing.source_dir("claims", root).glob("claims_*.csv"):
        try:
            days.append(dt.date.fromisoformat(path.stem.rsplit("_", 1)[-1]))
        except ValueError:
            continue
    if not days:
        raise IncidentError(f"{landing.source_dir('claims', root)}: no claims deliveries")
    return max(days)


def write_incident(
    root: Path | None = None,
    day: dt.date | None = None,
    scale: int = 20,
    hot_share: float = 0.6,
    resend_share: float = 0.25,
    copies: int = 8,
    lookup: str = "domain",
    seed: int = 7,
) -> dict[str, t.Any]:
    """Write the bad claims delivery for `day` (default: the day after the newest one)."""
    root = Path(root or data_dir())
    if scale < 2 or copies < 2 or not 0 < hot_share < 1 or not 0 <= resend_share < 1:
        raise IncidentError("need scale >= 2, copies >= 2, 0 < hot_share < 1, 0 <= resend_share")
    if hot_share + resend_share >= 1:
        raise IncidentError("hot_share + resend_share must stay below 1")
    if lookup not in ("none", "domain", "ein"):
        raise IncidentError(f"lookup must be none, domain or ein, got {lookup!r}")
    day = day or _newest_claims_day(root) + dt.timedelta(days=1)
    path = landing.file_path("claims", day, root)
    if path.exists():
        raise IncidentError(f"{path} exists: pick another --day")
    history = _claims_history(root, day)
    if len(history) < 3:
        raise IncidentError(f"{root}: need at least 3 claims deliveries before {day}")

    con = duckdb.connect()
    con.execute(
        "CREATE TABLE history AS "
        + " UNION ALL ".join(landing.read_csv_sql(file) for file in history)
    )
    sizes = [
        n for (n,) in con.execute("SELECT COUNT(*) FROM history GROUP BY _source_file").fetchall()
    ]
    typical = int(statistics.median(sizes))
    total = scale * typical
    con.execute(
        f"""CREATE TABLE valid AS
        SELECT TRIM(claim_id) AS claim_id, TRIM(person_id) AS person_id,
               TRIM(company_ein) AS company_ein, LOWER(TRIM(claim_type)) AS claim_type,
               TRIM(amount) AS amount, claim_id AS raw_claim_id, person_id AS raw_person_id,
               company_ein AS raw_company_ein, claim_type AS raw_claim_type,
               service_date AS raw_service_date, amount AS raw_amount
        FROM history
        WHERE NULLIF(TRIM(claim_id), '') IS NOT NULL AND NULLIF(TRIM(person_id), '') IS NOT NULL
          AND REGEXP_FULL_MATCH(TRIM(company_ein), '[0-9]{{2}}-[0-9]{{7}}')
          AND LOWER(TRIM(claim_type)) IN {CLAIM_TYPES}
          AND REGEXP_FULL_MATCH(TRIM(amount), '[0-9]{{1,6}}[.][0-9]{{2}}')
          AND TRY_CAST(TRIM(service_date) AS DATE) IS NOT NULL
        QUALIFY ROW_NUMBER() OVER (PARTITION BY TRIM(claim_id) ORDER BY _delivery_date DESC) = 1
        """
    )
    (hot,) = con.execute(
        "SELECT company_ein FROM valid GROUP BY 1 ORDER BY COUNT(*) DESC, 1 LIMIT 1"
    ).fetchone()
    n_hot = round(hot_share * total)
    n_ids = max(1, round(resend_share * total) // copies)
    n_ids = min(n_ids, con.execute("SELECT COUNT(*) FROM valid").fetchone()[0])
    n_normal = max(0, total - n_hot - n_ids * copies)
    tag = f"INC{day:%Y%m%d}"
    salt = seed * 1_000_003
    con.execute(
        "CREATE TABLE hot_t AS SELECT ROW_NUMBER() OVER (ORDER BY claim_id) - 1 AS j, * "
        f"FROM valid WHERE company_ein = '{hot}'"
    )
    con.execute(
        "CREATE TABLE all_t AS SELECT ROW_NUMBER() OVER (ORDER BY claim_id) - 1 AS j, * FROM valid"
    )
    con.execute(
        f"CREATE TABLE resent AS SELECT ROW_NUMBER() OVER (ORDER BY HASH(claim_id, {salt})) - 1 "
        f"AS k, * FROM valid QUALIFY k < {n_ids}"
    )
    # counts as literals: a subquery in the join condition would make DuckDB nest the loops
    (n_hot_t,) = con.execute("SELECT COUNT(*) FROM hot_t").fetchone()
    (n_all_t,) = con.execute("SELECT COUNT(*) FROM all_t").fetchone()
    day_sql = f"DATE '{day.isoformat()}'"
    rows_sql = f"""
      SELECT '{tag}-H' || LPAD(CAST(r.i AS VARCHAR), 8, '0') AS claim_id, h.person_id,
             h.company_ein, h.claim_type,
             STRFTIME({day_sql} - CAST(r.i % 3 AS INTEGER), '%Y-%m-%d') AS service_date,
             h.amount
      FROM range({n_hot}) AS r(i)
      JOIN hot_t AS h ON h.j = HASH(r.i, {salt}, 2) % {n_hot_t}
      UNION ALL
      SELECT '{tag}-N' || LPAD(CAST(r.i AS VARCHAR), 8, '0'), a.person_id, a.company_ein,
             a.claim_type,
             STRFTIME({day_sql} - CAST(r.i % 30 AS INTEGER), '%Y-%m-%d'), a.amount
      FROM range({n_normal}) AS r(i)
      JOIN all_t AS a ON a.j = HASH(r.i, {salt}, 4) % {n_all_t}
      UNION ALL
      SELECT s.raw_claim_id, s.raw_person_id, s.raw_company_ein, s.raw_claim_type,
             s.raw_service_date,
             CASE WHEN s.k % 2 = 1 AND c.copy = {copies - 1}
                  THEN CAST(CAST(s.amount AS DECIMAL(18, 2)) + 0.01 AS VARCHAR)
                  ELSE s.raw_amount END
      FROM resent AS s CROSS JOIN range({copies}) AS c(copy)
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    con.execute(
        f"COPY (SELECT {', '.join(HEADER)} FROM ({rows_sql})) "
        f"TO '{path.as_posix()}' (FORMAT CSV, HEADER)"
    )
    rows = con.execute(f"SELECT COUNT(*) FROM read_csv('{path.as_posix()}', all_varchar=true)")
    written = rows.fetchone()[0]
    con.close()
    conflicting_ids = n_ids // 2
    summary: dict[str, t.Any] = {
        "file": str(path),
        "day": day.isoformat(),
        "rows": written,
        "typical_rows": typical,
        "scale": round(written / typical, 1),
        "hot_company_ein": hot,
        "hot_company_rows": n_hot,
        "hot_company_share": round(n_hot / written, 3),
        "resent_claim_ids": n_ids,
        "copies_per_resent_id": copies,
        "expected_duplicate_rows": n_ids * copies - n_ids - conflicting_ids,
        "expected_conflicting_rows": 2 * conflicting_ids,
    }
    if lookup != "none":
        summary.update(repeat_lookup_key(root, lookup))
    return summary


def repeat_lookup_key(root: Path, mode: str) -> dict[str, str]:
    """Make a join key of company_lookup.json repeat (see the module docstring)."""
    path = root / "reference" / "company_lookup.json"
    companies = json.loads(path.read_text(encoding="utf-8-sig"))
    if len(companies) < 2:
        raise IncidentError(f"{path}: needs at least two companies")
    backup = path.with_name(LOOKUP_BACKUP)
    if not backup.exists():
        shutil.copyfile(path, backup)
    first, last = companies[0], companies[-1]
    if mode == "domain":
        domain = next((d for d in last.get("domains") or [] if isinstance(d, str)), None)
        if domain is None:
            raise IncidentError(f"{path}: the last company has no domain to repeat")
        if domain not in first.setdefault("domains", []):
            first["domains"].append(domain)
        change = (
            f"domain {domain} of {last['ein']} now also listed by {first['ein']} "
            "(first in the file: employees resolved by that domain move to it)"
        )
    else:
        companies.append({**last, "ein": first["ein"], "company_name": "Duplicate EIN Inc."})
        change = f"EIN {first['ein']} listed twice (the lookup loader refuses the file)"
    path.write_text(json.dumps(companies, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return {"lookup": str(path), "lookup_change": change, "lookup_backup": str(backup)}


# -------------------------------------------------------------------------------- the sandbox


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def isolated_models(ctx: Context, sources: t.Iterable[str]) -> tuple[list[str], list[str]]:
    """(root model names to re-version, every model name of the isolated part of the graph)."""
    roots: list[str] = []
    for source in sources:
        if source not in SOURCE_ROOTS:
            raise IncidentError(f"unknown source {source!r}; expected one of {list(SOURCE_ROOTS)}")
        roots += [ctx.get_model(name, raise_if_missing=True).fqn for name in SOURCE_ROOTS[source]]
    closure = set(roots)
    for fqn in roots:
        closure.update(ctx.dag.downstream(fqn))
    names = sorted(ctx.get_model(fqn).name for fqn in closure)
    return roots, names


def sandbox(
    sources: t.Sequence[str],
    env: str = "sandbox",
    start: str | None = None,
    project: Path | None = None,
    log=print,
) -> int:
    """Load the sources' current deliveries into `env` only; 0 = no new audit failure."""
    if env == review.PROD:
        raise IncidentError("the sandbox is a dev environment: pick another --env")
    ctx = review.context(project)
    roots, names = isolated_models(ctx, sources)
    for fqn in roots:
        ctx.upsert_model(fqn, stamp=f"sandbox {env}")
    now = _now()
    builder = ctx.plan_builder(
        env, start=start, end=now, execution_time=now, skip_tests=True, backfill_models=names
    )
    for snapshot in builder.build().new_snapshots:
        if snapshot.name in roots:
            sqlmesh_api.categorize_breaking(builder, snapshot)
    plan = builder.build()
    log(f"sandbox {env}: {len(names)} model(s) get their own tables: {', '.join(names)}")
    try:
        ctx.apply(plan)
    except sqlmesh_api.SQLMeshError as exc:
        log(
            f"sandbox {printable(env)}: the plan failed (a blocking audit or a bad file): "
            f"{printable(exc)}"
        )
        return 1
    summary = review.summarize(env, ctx=ctx, check_files=False)
    log(review.render(summary))
    log(render_deliveries(new_deliveries(ctx, env), env))
    new = [a for _, a in summary.failed_audits if a.is_new]
    return 1 if new else 0


def new_deliveries(ctx: Context, env: str) -> list[dict[str, t.Any]]:
    """Files `env` loaded that prod has not, with their load accounting and hot keys."""
    from benefits_mesh.warehouse import schema_for

    marts, staging = schema_for("marts", env), schema_for("staging", env)
    columns = "source, source_file, delivery_date, raw_rows, staged_rows, duplicate_rows, "
    columns += "quarantined_rows, conflicting_duplicate"
    rows = ctx.engine_adapter.fetchall(
        f"SELECT {columns} FROM {marts}.fct_load_accounting WHERE source_file NOT IN "
        "(SELECT source_file FROM marts.fct_load_accounting) ORDER BY delivery_date, source"
    )
    names = [c.strip() for c in columns.split(",")]
    found = []
    for row in rows:
        item = dict(zip(names, row, strict=True))
        (typical,) = ctx.engine_adapter.fetchone(
            "SELECT MEDIAN(raw_rows) FROM (SELECT raw_rows FROM marts.fct_load_accounting "
            f"WHERE source = '{item['source']}' AND delivery_date < '{item['delivery_date']}' "
            "ORDER BY delivery_date DESC LIMIT 28)"
        )
        item["typical_rows"] = int(typical) if typical is not None else None
        if item["source"] == "claims":
            file = item["source_file"].replace("'", "''")
            item["top_companies"] = ctx.engine_adapter.fetchall(
                "SELECT company_ein, COUNT(*) AS n, ROUND(COUNT(*) / SUM(COUNT(*)) OVER (), 3) "
                f"FROM {staging}.stg_claims WHERE _source_file = '{file}' "
                "GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 3"
            )
            item["repeated_claim_ids"] = ctx.engine_adapter.fetchone(
                "SELECT COUNT(*), COALESCE(SUM(n), 0) FROM (SELECT claim_id, COUNT(*) AS n "
                f"FROM {staging}.stg_claims__classified WHERE _source_file = '{file}' "
                "AND claim_id IS NOT NULL GROUP BY 1 HAVING COUNT(*) > 1)"
            )
            item["top_repeated_claim_ids"] = ctx.engine_adapter.fetchall(
                "SELECT claim_id, COUNT(*) FROM "
                f"{staging}.stg_claims__classified WHERE _source_file = '{file}' "
                "AND claim_id IS NOT NULL GROUP BY 1 HAVING COUNT(*) > 1 ORDER BY 2 DESC, 1 "
                "LIMIT 3"
            )
        found.append(item)
    return found


def render_deliveries(deliveries: list[dict[str, t.Any]], env: str) -> str:
    lines = [f"deliveries loaded in {printable(env)} and not in prod: {len(deliveries)}"]
    for d in deliveries:
        typical = d["typical_rows"]
        ratio = f" = {d['raw_rows'] / typical:.1f}x the usual {typical:,}" if typical else ""
        lines.append(
            f"  {printable(d['source_file'])}: {d['raw_rows']:,} raw rows{ratio}; "
            f"{d['staged_rows']:,} staged, {d['duplicate_rows']:,} duplicate, "
            f"{d['quarantined_rows']:,} quarantined "
            f"({d['conflicting_duplicate']:,} conflicting_duplicate)"
        )
        for ein, n, share in d.get("top_companies", []):
            lines.append(f"    company_ein {printable(ein)}: {n:,} staged rows ({share:.1%})")
        if d.get("repeated_claim_ids"):
            ids, rows = d["repeated_claim_ids"]
            top = ", ".join(f"{printable(cid)} x{n}" for cid, n in d["top_repeated_claim_ids"])
            lines.append(f"    claim_id repeated: {ids:,} ids in {rows:,} rows (top: {top})")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------ explain


def explain(
    model: str,
    env: str = "prod",
    start: str | None = None,
    end: str | None = None,
    project: Path | None = None,
) -> str:
    """EXPLAIN ANALYZE of `model`'s query for [start, end] on `env`'s tables (default: its last
    computed day)."""
    ctx = review.context(project)
    snapshots = review.environment_snapshots(ctx, env)
    fqn = ctx.get_model(model, raise_if_missing=True).fqn
    snapshot = snapshots.get(fqn)
    if snapshot is None:
        raise review.ReviewError(f"{model} is not in environment {env!r}")
    index = sqlmesh_api.deployability(snapshots.values())
    intervals = sqlmesh_api.snapshot_intervals(snapshot, index.is_deployable(snapshot))
    if start is None and intervals:
        last = review.date_ranges(intervals)[-1][1]
        start = last.isoformat()
    end = end or start
    query = sqlmesh_api.render_query(
        snapshot,
        start=start,
        end=end,
        execution_time=_now(),
        snapshots=snapshots,
        deployability=index,
        engine_adapter=ctx.engine_adapter,
    )
    rows = ctx.engine_adapter.fetchall(f"EXPLAIN ANALYZE {query.sql(dialect='duckdb')}")
    header = f"EXPLAIN ANALYZE {snapshot.model.name} in {env} for {start} .. {end}\n"
    return header + "\n".join(str(row[-1]) for row in rows)
