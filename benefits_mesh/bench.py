"""`benefits-mesh bench`: SQLMesh at feed scale against a hand-written DuckDB pipeline (issue 5).

One invocation generates a landing root with the project's generator (history, then one new
delivery day) under a work folder and measures, each ``repeat`` times, as fresh subprocesses:

1. ``sqlmesh plan --auto-apply`` backfilling the history into a fresh warehouse;
2. ``sqlmesh run`` loading the new day (the warehouse is reset to the post-plan copy each time);
3. a no-op ``sqlmesh run`` (nothing due);
4. ``bench/handwritten.sql`` doing the claims work of 1 and 2 in its own DuckDB file: the
   fastest plain-DuckDB path we could write for the same results (issue 20), and after the runs
   a full comparison of the two sides' tables (EXCEPT ALL both ways, :func:`compare_results`).

The new day is yesterday (UTC), the history the days before it; the runs use the real clock, so a
run processes the new day as the daily scheduler would. The plan gets ``--execution-time <new day>
06:00``, so no model's schedule reaches the new day yet, and the new day's files are moved aside
while it runs, because the ``delivery_ready`` signal reads the real clock. (Not faketime: under it
the same plan took 2.5-3.5x as long.) Each step checks in ``marts.fct_load_accounting`` that it
loaded what it should, so a no-op is never timed as work.
Peak RSS is the child's ``ru_maxrss`` from ``wait4`` (the process and its reaped children).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from benefits_mesh.settings import project_root

PROJECT = project_root()
BIN = Path(sys.executable).parent
HANDWRITTEN_SQL = PROJECT / "bench" / "handwritten.sql"
SOURCES = ("employees", "plans", "claims")
MODEL_LINE = re.compile(r"^\[\d+/\d+\]\s+(\S+)\s+\[.*?\]\s+([0-9.]+)s\s*$")
LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) - (\S+) - (.*)$")
DATA_SQL = re.compile(r'\*/ (CREATE (OR REPLACE )?TABLE|INSERT|DELETE|MERGE)[^(]*"sqlmesh__')


class BenchError(RuntimeError):
    pass


@dataclass
class Step:
    name: str
    rows: int = 0
    seconds: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds) if self.seconds else float("nan")

    def row(self) -> str:
        rate = f"{self.rows / self.median:>12,.0f}" if self.rows and self.seconds else f"{'':>12}"
        return (
            f"{self.name:<28} {len(self.seconds):>4} {self.median:>9.2f} {min(self.seconds):>8.2f} "
            f"{self.rows:>12,} {rate} {max(self.rss_mb):>9,.0f}"
        )


def say(message: str) -> None:
    print(f"[bench] {message}", flush=True)


def machine() -> str:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if "model name" in line),
        platform.processor(),
    )
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    import sqlmesh

    return (
        f"{os.cpu_count()} CPU ({cpu}), {mem:.1f} GiB RAM; Python {platform.python_version()}, "
        f"sqlmesh {sqlmesh.__version__}, duckdb {duckdb.__version__}"
    )


def spawn(cmd: list[str], env: dict[str, str], log: Path, cwd: Path) -> tuple[float, float]:
    """Run ``cmd`` to completion; (wall seconds, peak RSS MB). Output goes to ``log``."""
    start = time.perf_counter()
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise BenchError(f"{' '.join(cmd)} failed ({proc.returncode}), log {log}:\n{tail}")
    return seconds, usage.ru_maxrss / 1024


def model_seconds(log: Path) -> dict[str, float]:
    """Per-model execution seconds from SQLMesh's progress lines ``[1/1] model [...] 0.51s``."""
    totals: dict[str, float] = {}
    for line in log.read_text(errors="replace").splitlines():
        match = MODEL_LINE.match(line.strip())
        if match:
            totals[match[1]] = totals.get(match[1], 0.0) + float(match[2])
    return totals


def time_split(log_dir: Path, wall: float) -> str:
    """Where a sqlmesh command's wall time went, from its INFO log's per-line timestamps.

    SQLMesh evaluates models on worker threads (two at once: config.yaml), so the wall time is
    split along the main thread: before the first log line (imports, loading), before the first
    model (state, signals), the models (first to last line of any worker), after them (the
    after-all statements, state). The workers' busy time is summed over the workers, each gap
    between two lines of one thread going to what the first line started; a worker's gap after
    pushing a model's intervals (its last line) until its next line is waiting, left out."""
    stamps = []
    for path in sorted(log_dir.glob("sqlmesh_*.log")):
        for line in path.read_text(errors="replace").splitlines():
            if match := LOG_LINE.match(line):
                at = dt.datetime.strptime(match[1], "%Y-%m-%d %H:%M:%S,%f")
                stamps.append((at, match[2], match[3]))
    if not stamps:
        return f"before logging {wall:.1f}"
    by_thread: dict[str, list[tuple[dt.datetime, str]]] = {}
    for at, thread, message in stamps:
        by_thread.setdefault(thread, []).append((at, message))
    workers = {
        thread: lines
        for thread, lines in by_thread.items()
        if any("Evaluating snapshot" in message for _, message in lines)
    }
    busy = dict.fromkeys(("model SQL", "audits", "other SQL", "python"), 0.0)
    for lines in workers.values():
        for (at, message), (until, _) in zip(lines, lines[1:], strict=False):
            if "Pushing intervals" in message:
                continue  # the model's last line: from here the worker waits for another
            if "Executing SQL" not in message:
                kind = "python"
            elif ' AS "audit"' in message:
                kind = "audits"
            else:
                kind = "model SQL" if DATA_SQL.search(message) else "other SQL"
            busy[kind] += (until - at).total_seconds()
    first, last = stamps[0][0], stamps[-1][0]
    worked = [at for lines in workers.values() for at, _ in lines]
    models_from, models_to = (min(worked), max(worked)) if worked else (last, last)
    parts = {
        "before logging": wall - (last - first).total_seconds(),
        "before the models": (models_from - first).total_seconds(),
        f"models on {len(workers)} worker(s)": (models_to - models_from).total_seconds(),
        "after them": (last - models_to).total_seconds(),
    }
    text = ", ".join(f"{part} {seconds:.1f}" for part, seconds in parts.items())
    summed = ", ".join(f"{kind} {seconds:.1f}" for kind, seconds in busy.items())
    return f"{text} s; the workers busy {sum(busy.values()):.1f} s: {summed}"


def claims_loaded(warehouse: Path) -> dict[dt.date, int]:
    """Claims files in ``marts.fct_load_accounting``: delivery date -> raw rows."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            "SELECT delivery_date, raw_rows FROM marts.fct_load_accounting WHERE source = 'claims'"
        ).fetchall()
    return dict(rows)


#: The tables both sides build, compared row for row: (what, sqlmesh relation, its filter,
#: handwritten table, its filter, {sqlmesh column: handwritten column} where the names differ).
#: ``{since}`` is the first delivery day compared in the classified rows (the timed batch).
COMPARED = (
    ("classified rows", "staging.stg_claims__classified", "_delivery_date >= DATE '{since}'",
     "claims_classified", "_delivery_date >= DATE '{since}'", {}),
    ("load accounting", "marts.fct_load_accounting", "source = 'claims'",
     "load_accounting", "TRUE", {}),
    ("current claims", "intermediate.int_claims_current", "TRUE", "claims_current", "TRUE", {}),
    ("daily cost", "intermediate.int_company_daily_claim_cost_v2", "TRUE",
     "company_daily_cost", "TRUE", {}),
    ("cost spikes", "marts.fct_claims_cost_spikes", "TRUE", "cost_spikes", "TRUE", {}),
)  # fmt: skip
#: Columns never compared (when a row was loaded).
UNCOMPARED = {"_loaded_at"}


def compare_results(
    warehouse: Path, handwritten: Path, since: dt.date, settings: dict | None = None
) -> dict[str, tuple]:
    """Compare the sqlmesh warehouse with a handwritten file, table by table (``COMPARED``):
    EXCEPT ALL both ways over the columns both have (``_loaded_at`` left out), the handwritten
    file attached read-only. Returns what -> (sqlmesh rows, handwritten rows, rows only in
    sqlmesh, rows only in handwritten, columns compared), or (error text,) when a table cannot be
    read (a model renamed by a later change: reported, never taken for agreement)."""
    out: dict[str, tuple] = {}
    config = {**(settings or {}), "temp_directory": str(handwritten.parent / "compare.tmp")}
    with duckdb.connect(str(warehouse), read_only=True, config=config) as con:
        con.execute(f"ATTACH '{handwritten.as_posix().replace(chr(39), 2 * chr(39))}' AS hw_side "
                    "(READ_ONLY)")  # fmt: skip
        for what, ours, our_filter, theirs, their_filter, renamed in COMPARED:
            try:
                our_cols = [row[0] for row in con.execute(f"DESCRIBE {ours}").fetchall()]
                their_cols = {
                    row[0] for row in con.execute(f"DESCRIBE hw_side.{theirs}").fetchall()
                }
                pairs = [
                    (col, renamed.get(col, col))
                    for col in our_cols
                    if col not in UNCOMPARED and renamed.get(col, col) in their_cols
                ]
                if not pairs:
                    raise duckdb.Error("no column in common")
                mine = ", ".join(f'"{a}"' for a, _ in pairs)
                yours = ", ".join(f'"{b}"' for _, b in pairs)
                left = f"SELECT {mine} FROM {ours} WHERE {our_filter.format(since=since)}"
                right = (
                    f"SELECT {yours} FROM hw_side.{theirs} WHERE {their_filter.format(since=since)}"
                )
                counts = con.execute(
                    f"SELECT (SELECT count(*) FROM ({left})), (SELECT count(*) FROM ({right})), "
                    f"(SELECT count(*) FROM ({left} EXCEPT ALL {right})), "
                    f"(SELECT count(*) FROM ({right} EXCEPT ALL {left}))"
                ).fetchone()
                out[what] = (*counts, len(pairs))
            except duckdb.Error as exc:
                out[what] = (f"n/a: {str(exc).splitlines()[0][:80]}",)
    shutil.rmtree(handwritten.parent / "compare.tmp", ignore_errors=True)
    return out


def print_comparison(compared: dict[str, tuple]) -> None:
    """One line per compared table: rows on each side and rows found on one side only."""
    if compared:
        print("full comparison (EXCEPT ALL both ways; differing rows = only in sqlmesh + only in "
              "handwritten):")  # fmt: skip
    for what, counts in compared.items():
        if len(counts) != 5:
            print(f"  {what:<16} {counts[0]}")
            continue
        ours, theirs, only_ours, only_theirs, columns = counts
        print(
            f"  {what:<16} sqlmesh {ours:>12,} rows, handwritten {theirs:>12,} rows, "
            f"{columns:>2} columns: differing rows {only_ours + only_theirs:,} "
            f"({only_ours:,} + {only_theirs:,})"
        )


def results_agree(compared: dict[str, tuple]) -> bool:
    """True when every compared table was read and differs in no row."""
    return bool(compared) and all(len(c) == 5 and c[2] == c[3] == 0 for c in compared.values())


def duckdb_settings(project: Path) -> dict:
    """The project's DuckDB ``connector_config`` (memory limit...), for the handwritten side too."""
    from benefits_mesh.sqlmesh_api import project_config

    config = project_config(project / "config.yaml")
    return dict(config.gateways[config.default_gateway].connection.connector_config)


SECTION = re.compile(r"^-- @@ (.+?) -*$", re.MULTILINE)


def handwritten_sections() -> dict[str, str]:
    """bench/handwritten.sql by section: "batch start", "file", "batch end" (its header)."""
    parts = SECTION.split(HANDWRITTEN_SQL.read_text())
    return {name.strip(): body for name, body in zip(parts[1::2], parts[2::2], strict=True)}


def handwritten_batch(database: str, start: str, end: str, settings: str = "{}") -> None:
    """Run bench/handwritten.sql over the claims files delivered in [start, end] (a subprocess):
    its "batch start" statements, its "file" statements once per file in delivery order, its
    "batch end" statements, each autocommitted. Prints the seconds of each statement, summed
    over the batch's files: the per-statement split of a handwritten run, in its log."""
    from benefits_mesh.landing import contract_columns, landing_files_of, read_csv_call

    sections = handwritten_sections()
    spent: dict[str, float] = {}

    def run(con, section: str, values: dict[str, str]) -> None:
        sql = sections[section]
        for key, value in values.items():
            sql = sql.replace("{{" + key + "}}", value)
        for statement in con.extract_statements(sql):
            code = [line for line in statement.query.splitlines() if line.strip()
                    and not line.lstrip().startswith("--")]  # fmt: skip
            label = f"{section}: {code[0].strip().split(' SELECT ')[0][:60]}"
            began = time.perf_counter()
            con.execute(statement.query)
            spent[label] = spent.get(label, 0.0) + time.perf_counter() - began

    files = landing_files_of("claims", dt.date.fromisoformat(start), dt.date.fromisoformat(end))
    con = duckdb.connect(database, config=json.loads(settings))
    keep_order = con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()[0]
    batch = {"start": start, "end": end, "preserve_insertion_order": str(keep_order).lower()}
    run(con, "batch start", batch)
    for file in files:  # the project's reader, as landing.read_csv_sql
        _, path, day, _, _ = file
        read = f"SELECT {contract_columns(file)} FROM {read_csv_call(file)} AS r"
        name = path.name.replace("'", "''")  # inside a string literal
        run(con, "file", {**batch, "read": read, "file": name, "day": day.isoformat()})
    run(con, "batch end", batch)
    began = time.perf_counter()
    con.close()  # checkpoints what the WAL still holds
    spent["close (checkpoint)"] = time.perf_counter() - began
    for label, seconds in spent.items():
        print(f"{seconds:8.3f} s  {label}")


def statement_split(log: Path, top: int = 8) -> str:
    """The slowest statements of a handwritten run, from the lines its worker printed."""
    found = []
    for line in log.read_text(errors="replace").splitlines():
        seconds, _, label = line.strip().partition(" s  ")
        try:
            found.append((float(seconds), label))
        except ValueError:
            continue
    found.sort(reverse=True)
    return ", ".join(f"{label} {seconds:.2f}s" for seconds, label in found[:top])


def handwritten_rows(database: Path) -> int:
    with duckdb.connect(str(database), read_only=True) as con:
        return con.execute("SELECT coalesce(sum(raw_rows), 0) FROM load_accounting").fetchone()[0]


def fresh(path: Path, copy_from: Path | None = None) -> None:
    """Remove a DuckDB file with its WAL and spill folder; optionally copy a snapshot in, flushed
    to disk before the timed step starts: a copy left in the page cache is written back while the
    next step runs (this machine writes ~120 MB/s: the 7 GB warehouse of a 60-day history kept the
    disk busy for a minute; its daily run measured 31.2 s unflushed, 25.1 s flushed, issue 20)."""
    for extra in (path, path.with_name(path.name + ".wal")):
        extra.unlink(missing_ok=True)
    shutil.rmtree(path.with_name(path.name + ".tmp"), ignore_errors=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    if copy_from is not None:
        shutil.copyfile(copy_from, path)
        with open(path, "rb+") as copied:
            os.fsync(copied.fileno())


def new_day_files(root: Path, day: dt.date) -> list[Path]:
    return [root / "landing" / s / f"{s}_{day.isoformat()}.csv" for s in SOURCES]


def hide(files: list[Path], hidden: bool) -> None:
    """Move the new day's files aside (hidden) or back, so a plan cannot see them."""
    for path in files:
        held = path.with_name(path.name + ".held")
        src, dst = (path, held) if hidden else (held, path)
        if src.exists():
            src.rename(dst)


def prepare_root(root: Path, args, start: dt.date, days: int) -> tuple[float, float, int]:
    """Generate ``days`` history days then deliver one; reuse a kept root with equal parameters.

    Returns (seconds generating the history, seconds delivering the new day, data records
    generated in the history): the generator's throughput figure (0 when reused)."""
    from benefits_mesh.generate import deliver, generate

    state = root / "generator.json"
    wanted = {
        "start": start.isoformat(),
        "companies": args.companies,
        "employees": args.employees,
        "claims_per_day": args.rows_per_day,
        "seed": args.seed,
        "dirt_rate": args.dirt_rate,
        "history_days": args.claims_history_days,
    }
    if state.is_file():
        saved = json.loads(state.read_text())
        if saved["params"] == wanted and saved["days"] == days + 1:
            hide(new_day_files(root, start + dt.timedelta(days=days)), hidden=False)
            say(f"reusing the landing root {root}")
            return 0.0, 0.0, 0
    say(f"generating {days} history days x {args.rows_per_day:,} claims in {root}")
    began = time.perf_counter()
    summary = generate(
        root, start, days, args.companies, args.employees, args.rows_per_day, args.seed,
        args.dirt_rate, history_days=args.claims_history_days, progress=False,
    )  # fmt: skip
    generated = time.perf_counter() - began
    rows = sum(summary["rows"].values())
    say(f"generated {rows:,} rows in {generated:.1f} s; delivering the new day")
    began = time.perf_counter()
    deliver(root, days=1, progress=False)
    return generated, time.perf_counter() - began, rows


def bench_one(args, history_days: int) -> dict:
    """Measure one configuration; returns the figures and prints the table."""
    from benefits_mesh.generate import Params, is_delivery_day

    new_day = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    days = history_days
    probe = Params(new_day, args.companies, args.employees, args.rows_per_day, args.seed, 0.0)
    if not is_delivery_day(probe, "claims", days):  # the generator skips claims on a few days
        days += 1
        say(f"day {history_days} has no claims file in the generator: history is {days} days")
    start = new_day - dt.timedelta(days=days)
    work = Path(args.work_dir).resolve() / f"h{history_days}_r{args.rows_per_day}"
    root, wh_dir, logs = work / "root", work / "warehouse", work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    last = new_day - dt.timedelta(days=1)
    say(f"work folder {work}; history {start} .. {last}, new day {new_day}")
    generated, delivered, generated_rows = prepare_root(root, args, start, days)
    env = dict(os.environ, COLUMNS="300", BENEFITS_DATA_DIR=str(root), BENEFITS_START=str(start))
    warehouse, after_plan = wh_dir / "benefits.duckdb", wh_dir / "after_plan.duckdb"
    env["BENEFITS_WAREHOUSE"] = str(warehouse)
    # the state stays in the warehouse file, whatever BENEFITS_STATE says: each measured run
    # starts from a copy of the post-plan file, which must hold the post-plan state too
    env["BENEFITS_STATE"] = "duckdb"
    project = Path(args.project or PROJECT).resolve()
    sqlmesh = [str(BIN / "sqlmesh"), "-p", str(project)]
    hw, hw_after = wh_dir / "handwritten.duckdb", wh_dir / "handwritten_after_backfill.duckdb"
    settings = json.dumps(duckdb_settings(project))
    worker = [sys.executable, "-m", "benefits_mesh.bench", str(hw)]
    steps = {name: Step(name) for name in ("plan", "run", "noop", "hw_backfill", "hw_day")}
    titles = {
        "plan": "sqlmesh plan (backfill)",
        "run": "sqlmesh run (new day)",
        "noop": "sqlmesh run (no-op)",
        "hw_backfill": "handwritten backfill",
        "hw_day": "handwritten new day",
    }
    for key, step in steps.items():
        step.name = titles[key]

    def measure(key: str, tail: list[str], rep: int) -> Path:
        """One timed subprocess: the handwritten worker or a sqlmesh command (own log folder)."""
        log = logs / f"{key}_{rep}.log"
        log_dir = ["--log-file-dir", str(logs / f"{key}_{rep}")]
        shutil.rmtree(log_dir[1], ignore_errors=True)
        cmd = [*worker, *tail, settings] if key.startswith("hw_") else [*sqlmesh, *log_dir, *tail]
        seconds, rss = spawn(cmd, env, log, work)
        steps[key].seconds.append(seconds)
        steps[key].rss_mb.append(rss)
        say(f"{titles[key]} #{rep}: {seconds:.2f} s, peak RSS {rss:,.0f} MB")
        return log

    history_files = {
        start + dt.timedelta(days=i) for i in range(days) if is_delivery_day(probe, "claims", i)
    }
    do_sqlmesh, do_handwritten = args.only in (None, "sqlmesh"), args.only in (None, "handwritten")
    plan_log = run_log = hw_log = None
    hide(new_day_files(root, new_day), hidden=do_sqlmesh)
    try:
        for rep in range(1, args.plan_repeat + 1 if do_sqlmesh else 1):
            fresh(warehouse)
            plan = ["plan", "--auto-apply", "--no-prompts", "--skip-tests", "--execution-time"]
            plan_log = measure("plan", [*plan, f"{new_day} 06:00:00"], rep)
            loaded = claims_loaded(warehouse)
            if set(loaded) != history_files:
                raise BenchError(f"plan loaded claims days {sorted(loaded)}, expected history")
            steps["plan"].rows = sum(loaded.values())
    finally:
        hide(new_day_files(root, new_day), hidden=False)
    if do_sqlmesh:
        fresh(after_plan, copy_from=warehouse)
    for rep in range(1, args.repeat + 1 if do_sqlmesh else 1):
        fresh(warehouse, copy_from=after_plan)
        run_log = measure("run", ["run"], rep)
        loaded = claims_loaded(warehouse)
        if loaded.get(new_day) != args.rows_per_day:
            raise BenchError(f"run did not load the new day {new_day}: {loaded.get(new_day)} rows")
        steps["run"].rows = loaded[new_day]
    for rep in range(1, args.repeat + 1 if do_sqlmesh else 1):
        log = measure("noop", ["run"], rep)
        if model_seconds(log):
            raise BenchError(f"the no-op run executed models: {sorted(model_seconds(log))}")

    for rep in range(1, args.plan_repeat + 1 if do_handwritten else 1):
        fresh(hw)
        measure("hw_backfill", [str(start), str(last)], rep)
        steps["hw_backfill"].rows = handwritten_rows(hw)
    if do_handwritten:
        fresh(hw_after, copy_from=hw)
    for rep in range(1, args.repeat + 1 if do_handwritten else 1):
        fresh(hw, copy_from=hw_after)
        hw_log = measure("hw_day", [str(new_day), str(new_day)], rep)
        steps["hw_day"].rows = handwritten_rows(hw) - steps["hw_backfill"].rows

    both = warehouse.exists() and hw.exists()  # --only: compare with a kept other side
    compared = compare_results(warehouse, hw, new_day, json.loads(settings)) if both else {}
    agree = both and results_agree(compared)
    print()
    print(f"machine: {machine()}")
    print(
        f"data: {days} history days + 1 new day, {args.rows_per_day:,} claims rows/day, "
        f"{args.companies} companies, {args.employees:,} employees, dirt {args.dirt_rate}; "
        f"generated in {generated:.1f} s (+ {delivered:.1f} s for the new day)"
    )
    if generated:  # not when a kept landing root was reused
        print(
            f"generator: {generated_rows:,} rows in {generated:.1f} s = "
            f"{generated_rows / generated:,.0f} rows/s"
        )
    print(f"{'step':<28} {'runs':>4} {'median_s':>9} {'min_s':>8} {'claims_rows':>12} "
          f"{'rows_per_s':>12} {'peak_rss_mb':>9}")  # fmt: skip
    for step in steps.values():
        if step.seconds:
            print(step.row())
    for key, log in (("plan", plan_log), ("run", run_log)):
        if log is None:
            continue
        times = model_seconds(log)
        top = ", ".join(f"{m} {t:.2f}s" for m, t in sorted(times.items(), key=lambda i: -i[1])[:6])
        wall = steps[key].seconds[-1]
        split = time_split(log.with_suffix(""), wall)
        print(f"last {key}: {wall:.1f} s wall = {split} s (from its log)")
        print(f"  models {sum(times.values()):.1f} s summed over the workers; slowest: {top}")
    if hw_log is not None:
        wall = steps["hw_day"].seconds[-1]
        print(f"last handwritten new day: {wall:.1f} s wall; slowest statements (from its log): "
              f"{statement_split(hw_log)}")  # fmt: skip
    print_comparison(compared)
    print(f"same results (sqlmesh vs handwritten): {'yes' if agree else 'NO' if both else 'n/a'}")
    if not args.keep:  # the logs stay (small): per-model timings of every step
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(wh_dir, ignore_errors=True)
    return {
        "history_days": days,
        "run_vs_handwritten": steps["run"].median / steps["hw_day"].median,
        "run_vs_rebuild": steps["run"].median / steps["plan"].median,
        "peak_rss_mb": max(max(s.rss_mb) for s in steps.values() if s.rss_mb),
        "noop_s": steps["noop"].median,
        "run_s": steps["run"].median,
        "agree": agree,
    }


def fingerprint(project: Path) -> str:
    """A short hash of the project's SQL and Python sources (which version was measured)."""
    digest = hashlib.sha256()
    for folder in ("models", "macros", "signals", "audits", "seeds", "benefits_mesh"):
        for path in sorted((project / folder).rglob("*")):
            if path.is_file() and path.suffix in {".sql", ".py", ".csv", ".yaml"}:
                digest.update(path.relative_to(project).as_posix().encode() + path.read_bytes())
    digest.update((project / "config.yaml").read_bytes())
    return digest.hexdigest()[:12]


def bench(args) -> int:
    args.plan_repeat = args.plan_repeat or args.repeat
    histories = args.compare_history or [args.history_days]
    project = Path(args.project or PROJECT).resolve()
    say(f"machine: {machine()}")
    say(f"project {project}, sources fingerprint {fingerprint(project)}")
    results = [bench_one(args, history) for history in histories]
    if len(results) > 1:
        base, far = results[0], results[-1]
        ratio = far["run_s"] / base["run_s"]
        verdict = "met" if ratio <= 1.30 else "missed"
        print(
            "HISTORY "
            + " ".join(f"run_{r['history_days']}d_s={r['run_s']:.2f}" for r in results)
            + f" ratio={ratio:.2f} target<=1.30 {verdict}"
        )
    last = results[-1]
    print(
        f"BENCH run_vs_handwritten={last['run_vs_handwritten']:.2f} "
        f"run_vs_rebuild={last['run_vs_rebuild']:.2f} peak_rss_mb={last['peak_rss_mb']:.0f} "
        f"noop_s={last['noop_s']:.2f}",
        flush=True,
    )
    return 0


if __name__ == "__main__":  # the handwritten worker: python -m benefits_mesh.bench DB START END
    handwritten_batch(*sys.argv[1:5])
