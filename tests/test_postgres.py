"""PostgreSQL for SQLMesh (issue 19): as the state store of the DuckDB warehouse
(``BENEFITS_STATE=postgres``), and as an execution engine with MERGE for the project's one
INCREMENTAL_BY_UNIQUE_KEY model, ``intermediate.int_claims_current``.

A throwaway PostgreSQL 15 (Debian's package, installed when missing and we are root) runs on
127.0.0.1 at a free port for the module, and is stopped by its PID at the end. Every step is the
project's real command (``sqlmesh``, ``benefits-mesh``) under faketime, on a small generated
landing root with corrections (claims re-sent in later deliveries); the reference is a warehouse
built with the state in DuckDB from the same files.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from conftest import BIN, PROJECT, Project, clean_stale_faketime_files

from benefits_mesh.generate import generate

#: one xdist worker runs the whole module (`make pytest` distributes with --dist loadgroup): one
#: server and one reference build instead of one per worker
pytestmark = pytest.mark.postgres  # one module = one xdist unit (loadscope): one server

START = dt.date(2026, 3, 2)
DAYS = 4
#: the PostgreSQL execution project backfills the first FIRST_DAYS delivery days, then a later
#: run merges the rest (corrections of claims the backfill inserted among them)
FIRST_DAYS = 2
ROLE, PASSWORD = "benefits", "state-pw 'x"
STATE_DB, EXEC_DB = "benefits_state", "benefits_exec"
#: columns whose values depend on when a command ran (enrichment fetch time), not on the data
CLOCK_COLUMNS = {"_loaded_at", "enriched_at", "fetched_at", "attempted_at"}
#: staging.stg_claims as the execution project declares it (external) and PostgreSQL holds it
STG_CLAIMS = {
    "claim_id": ("TEXT", "TEXT"),
    "person_id": ("TEXT", "TEXT"),
    "company_ein": ("TEXT", "TEXT"),
    "claim_type": ("TEXT", "TEXT"),
    "amount": ("DECIMAL(18, 2)", "NUMERIC(18, 2)"),
    "service_date": ("DATE", "DATE"),
    "_source_file": ("TEXT", "TEXT"),
    "_delivery_date": ("DATE", "DATE"),
    "_row_number": ("BIGINT", "BIGINT"),
    "_loaded_at": ("TIMESTAMP", "TIMESTAMP"),
}


def _clock(day: dt.date) -> str:
    """The scheduler's wall clock on ``day``: 06:00 UTC, after the day before has closed."""
    return f"{day.isoformat()} 06:00:00"


# ------------------------------------------------------------------------------ the server


def _pg_bin() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin holding initdb and postgres."""
    found = [p.parent for p in Path("/usr/lib/postgresql").glob("*/bin/initdb")]
    found = [p for p in found if (p / "postgres").is_file()]
    return max(found, key=lambda p: int(p.parent.name), default=None) if found else None


def _install_postgres() -> Path | None:
    """Debian's postgresql package, installed when missing (as root; xdist workers take turns)."""
    if _pg_bin() is not None:
        return _pg_bin()
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return None
    with open(Path(tempfile.gettempdir()) / "benefits-mesh-postgres.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _pg_bin() is None:
            quiet = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            subprocess.run(["apt-get", "update", "-qq"], check=True, capture_output=True)
            subprocess.run(
                ["apt-get", "install", "-y", "-qq", "postgresql"],
                check=True,
                capture_output=True,
                env=quiet,
            )
    return _pg_bin()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Postgres:
    port: int
    socket_dir: Path
    log: Path

    def env(self, database: str) -> dict[str, str]:
        """The libpq variables config.yaml's state block reads."""
        return {
            "PGHOST": "127.0.0.1",
            "PGPORT": str(self.port),
            "PGUSER": ROLE,
            "PGPASSWORD": PASSWORD,
            "PGDATABASE": database,
        }

    def connect(self, database: str):
        import psycopg2

        return psycopg2.connect(
            host="127.0.0.1", port=self.port, user=ROLE, password=PASSWORD, dbname=database
        )

    def query(self, database: str, sql: str, params=None) -> list[tuple]:
        with self.connect(database) as con, con.cursor() as cur:
            cur.execute(sql, params)
            rows = cur.fetchall()
        con.close()
        return rows


@pytest.fixture(scope="module")
def postgres() -> Postgres:
    """A PostgreSQL server of its own on 127.0.0.1:<free port>, with role ROLE (password
    authentication over TCP, as a team's server) owning STATE_DB and EXEC_DB."""
    pytest.importorskip("psycopg2", reason="psycopg2-binary (pip install -e '.[dev]')")
    import psycopg2

    bin_dir = _install_postgres()
    if bin_dir is None:
        pytest.skip("PostgreSQL's initdb is not installed and we are not root to install it")
    base = Path(tempfile.mkdtemp(prefix="benefits-mesh-pg-"))
    server = None
    try:
        server, port, sockets, log = _start_server(bin_dir, base)
        deadline = time.monotonic() + 30
        while True:
            try:
                admin = psycopg2.connect(
                    host=str(sockets), port=port, user="postgres", dbname="postgres"
                )
                break
            except psycopg2.OperationalError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("PostgreSQL did not start:\n" + log.read_text()) from None
                time.sleep(0.1)
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute(f"CREATE ROLE {ROLE} LOGIN PASSWORD %s", (PASSWORD,))
            for database in (STATE_DB, EXEC_DB):
                cur.execute(f"CREATE DATABASE {database} OWNER {ROLE}")
        admin.close()
        yield Postgres(port=port, socket_dir=sockets, log=log)
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)  # smart shutdown of this server only, by its PID
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        shutil.rmtree(base, ignore_errors=True)


def _start_server(bin_dir: Path, base: Path) -> tuple[subprocess.Popen, int, Path, Path]:
    """initdb into ``base``/data and start ``postgres`` on 127.0.0.1:<free port>, its socket in
    ``base``/sock: (the server process, port, socket folder, server log)."""
    root = os.geteuid() == 0
    data, sockets, log = base / "data", base / "sock", base / "postgres.log"
    sockets.mkdir()
    as_postgres: list[str] = []
    if root:  # initdb and postgres refuse root: the package's postgres user runs them
        # initdb's shell redirects to /dev/null, which the postgres user must be able to write
        mode = os.stat("/dev/null").st_mode & 0o777
        assert mode & 0o002, f"/dev/null has mode {mode:o}: the postgres user cannot write it"
        shutil.chown(base, "postgres", "postgres")
        shutil.chown(sockets, "postgres", "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    initdb = subprocess.run(
        [*as_postgres, str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-E", "UTF8"]
        + ["--locale=C", "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync"],
        cwd=base,  # readable by the postgres user, unlike the caller's folder may be
        capture_output=True,
        text=True,
    )
    assert initdb.returncode == 0, f"initdb failed:\n{initdb.stdout}\n{initdb.stderr}"
    port = _free_port()
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [str(bin_dir / "postgres"), "-D", str(data), "-p", str(port), "-k", str(sockets)]
            + ["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"]
            + ["-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
            # every statement in the log: the proof that SQLMesh's later run MERGEs
            + ["-c", "log_statement=all"],
            stdout=out,
            stderr=subprocess.STDOUT,
            user="postgres" if root else None,
            group="postgres" if root else None,
        )
    return server, port, sockets, log


# -------------------------------------------------------------------------------- the data


@pytest.fixture(scope="module")
def landing_root(tmp_path_factory) -> Path:
    """DAYS delivery days of a small feed: employees, plans, claims (with re-sent corrections)."""
    root = tmp_path_factory.mktemp("pg-root") / "root"
    generate(
        out_dir=root,
        start=START,
        days=DAYS,
        companies=3,
        employees=40,
        claims_per_day=100,
        seed=19,
        dirt_rate=0.02,
        history_days=0,
        progress=False,
    )
    return root


def _project(folder: Path, root: Path, clock: str, **extra_env: str) -> Project:
    return Project(
        root=root,
        warehouse=folder / "wh" / "warehouse.duckdb",
        start=START.isoformat(),
        clock=clock,
        extra_env={"BENEFITS_STATE": "duckdb", **extra_env},
    )


@pytest.fixture(scope="module")
def reference(tmp_path_factory, landing_root, faketime) -> Project:
    """The same files in one plan, SQLMesh's state in the warehouse (the default)."""
    project = _project(tmp_path_factory.mktemp("pg-reference"), landing_root, _last_clock())
    project.plan()
    return project


def _last_clock() -> str:
    return _clock(START + dt.timedelta(days=DAYS))


def _timed(timings: dict[str, float], name: str, run):
    started = time.monotonic()
    result = run()
    timings[name] = time.monotonic() - started
    return result


def _marts(warehouse: Path) -> dict[str, Counter]:
    """Every mart of prod as a multiset of rows, every column but CLOCK_COLUMNS (one connection
    per warehouse: the views name their own file's catalog)."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        marts = {}
        for (name,) in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'marts'"
        ).fetchall():
            columns = [
                f'"{column}"'
                for (column,) in con.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = "
                    "'marts' AND table_name = ? ORDER BY ordinal_position",
                    [name],
                ).fetchall()
                if column not in CLOCK_COLUMNS
            ]
            rows = con.execute(f'SELECT {", ".join(columns)} FROM marts."{name}"').fetchall()
            marts[name] = Counter(rows)
    return marts


def _marts_differences(left: Path, right: Path) -> dict[str, tuple[int, int]]:
    """Per mart: (rows only in left, rows only in right), as EXCEPT ALL both ways (multiset
    differences); a mart on one side only counts as all its rows."""
    ours, theirs = _marts(left), _marts(right)
    differences = {}
    for name in sorted(set(ours) | set(theirs)):
        a, b = ours.get(name, Counter()), theirs.get(name, Counter())
        only = (sum((a - b).values()), sum((b - a).values()))
        if any(only):
            differences[name] = only
    return differences


# ------------------------------------------------------------------ state in PostgreSQL


def test_state_in_postgres(postgres, landing_root, reference, tmp_path):
    """plan, run, benefits-mesh run, a dev environment, invalidate + janitor with the state in
    PostgreSQL: the state tables are there and not in the warehouse, the marts equal the
    reference's row for row, and the row-count check reads the state from PostgreSQL."""
    last = START + dt.timedelta(days=DAYS)
    project = _project(
        tmp_path,
        landing_root,
        _clock(last - dt.timedelta(days=1)),
        BENEFITS_STATE="postgres",
        **postgres.env(STATE_DB),
    )
    timings: dict[str, float] = {}
    # the first DAYS - 1 days, then the last one by a run, then a new day without files
    _timed(timings, "sqlmesh plan", project.plan)
    project.clock = _clock(last)
    _timed(timings, "sqlmesh run", lambda: project.sqlmesh("run"))
    project.clock = _clock(last + dt.timedelta(days=1))
    result = _timed(timings, "benefits-mesh run", lambda: project.cli("run"))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    state = {
        name
        for (name,) in postgres.query(
            STATE_DB,
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'sqlmesh'",
        )
    }
    assert {"_snapshots", "_environments", "_intervals", "_versions"} <= state, state
    assert (
        project.query(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema = 'sqlmesh'"
        )
        == []
    )
    assert _marts_differences(project.warehouse, reference.warehouse) == {}

    # the row-count check: the new day's run counted (reference models refreshed); the same
    # day again writes nothing, which the check can only know from the state in PostgreSQL
    checks = project.query("SELECT COUNT(DISTINCT check_id) FROM ops.mart_row_counts")[0][0]
    logs = tmp_path / "logs"
    _timed(timings, "sqlmesh run (nothing to do)", lambda: project.sqlmesh(
        "--log-file-dir", str(logs), "run"
    ))  # fmt: skip
    assert project.query("SELECT COUNT(DISTINCT check_id) FROM ops.mart_row_counts")[0][0] == (
        checks
    )
    logged = " ".join(path.read_text() for path in logs.glob("sqlmesh_*.log"))
    assert f"nothing written to prod since check {checks}; skipped" in logged

    # a dev environment lives in PostgreSQL's _environments until invalidated and cleaned up
    _timed(timings, "sqlmesh plan dev", lambda: project.plan("dev", "--include-unmodified"))
    environments = "SELECT name FROM sqlmesh._environments ORDER BY 1"
    assert postgres.query(STATE_DB, environments) == [("dev",), ("prod",)]
    summary = project.cli("summary", "--env", "dev")
    assert summary.returncode == 0 and "marts.fct_claims" in summary.stdout, summary.stderr
    unknown = project.cli("late-files", "--env", "nope")
    assert unknown.returncode != 0
    said = unknown.stderr + unknown.stdout
    assert "environment 'nope' not found (environments: dev, prod)" in said, said
    _timed(timings, "sqlmesh invalidate dev", lambda: project.sqlmesh("invalidate", "dev"))
    # an hour later: faketime starts every process at the same instant, so the janitor's "now"
    # could precede the expiry invalidate just set
    project.clock = project.clock.replace(" 06:", " 07:")
    _timed(timings, "sqlmesh janitor", lambda: project.sqlmesh("janitor"))
    assert postgres.query(STATE_DB, environments) == [("prod",)]
    assert (
        project.query(
            "SELECT DISTINCT table_schema FROM information_schema.tables "
            "WHERE table_schema LIKE '%\\_\\_dev' ESCAPE '\\'"
        )
        == []
    )
    print("seconds per command with the state in PostgreSQL:", {
        name: round(seconds, 1) for name, seconds in timings.items()
    })  # fmt: skip


def test_an_unreachable_state_database_is_one_line(tmp_path, landing_root):
    project = _project(
        tmp_path,
        landing_root,
        _last_clock(),
        BENEFITS_STATE="postgres",
        PGHOST="127.0.0.1",
        PGPORT=str(_free_port()),
        PGUSER=ROLE,
        PGDATABASE=STATE_DB,
    )
    project.clock = None
    result = project.sqlmesh("plan", "--no-prompts", "--skip-tests", check=False)
    output = (result.stdout + result.stderr).strip()
    assert result.returncode != 0
    assert len(output.splitlines()) == 1, output
    assert output.startswith("Error: SQLMesh's state database benefits@127.0.0.1:"), output
    assert "(BENEFITS_STATE=postgres) cannot be used: connection to server" in output
    assert not project.warehouse.exists()


# ------------------------------------------------- unique-key merges on PostgreSQL


def _execution_project(folder: Path, postgres: Postgres) -> Path:
    """A SQLMesh project whose one gateway is PostgreSQL (execution and state), holding the
    project's int_claims_current.sql byte for byte, its macros, audits and signals, and
    staging.stg_claims as an external table."""
    folder.mkdir()
    (folder / "models").mkdir()
    model = PROJECT / "models" / "intermediate" / "int_claims_current.sql"
    shutil.copyfile(model, folder / "models" / model.name)
    for name in ("macros", "audits", "signals"):
        (folder / name).symlink_to(PROJECT / name, target_is_directory=True)
    columns = "\n".join(f"    {name}: {duck}" for name, (duck, _) in STG_CLAIMS.items())
    (folder / "external_models.yaml").write_text(
        f"- name: staging.stg_claims\n  columns:\n{columns}\n"
    )
    (folder / "config.yaml").write_text(
        f"""gateways:
  postgres:
    connection:
      type: postgres
      host: 127.0.0.1
      port: {postgres.port}
      user: {ROLE}
      password: "{{{{ env_var('PGPASSWORD') }}}}"
      database: {EXEC_DB}
default_gateway: postgres
model_defaults:
  dialect: duckdb
  start: "{START.isoformat()}"
  cron: "@daily"
disable_anonymized_analytics: true
"""
    )
    return folder


def _load_stg_claims(postgres: Postgres, rows: list[tuple]) -> None:
    from psycopg2.extras import execute_values

    with postgres.connect(EXEC_DB) as con, con.cursor() as cur:
        columns = ", ".join(f"{name} {pg}" for name, (_, pg) in STG_CLAIMS.items())
        cur.execute("CREATE SCHEMA IF NOT EXISTS staging")
        cur.execute(f"CREATE TABLE IF NOT EXISTS staging.stg_claims ({columns})")
        execute_values(cur, "INSERT INTO staging.stg_claims VALUES %s", rows)
    con.close()


def _sqlmesh(folder: Path, clock: str, env: dict[str, str], *args: str):
    clean_stale_faketime_files()
    result = subprocess.run(
        ["faketime", clock, str(BIN / "sqlmesh"), "-p", str(folder), *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return result


def test_unique_key_merges_on_postgres(postgres, reference, landing_root, tmp_path):
    """int_claims_current, unchanged, on PostgreSQL: the backfill of the first days inserts,
    a later run MERGEs the remaining days (with corrections of claims already written) into
    it, and the result equals DuckDB's row for row, every column, decimals exact."""
    split = START + dt.timedelta(days=FIRST_DAYS)
    select = ", ".join(STG_CLAIMS)
    staged = reference.query(f"SELECT {select} FROM staging.stg_claims ORDER BY ALL")
    first = [row for row in staged if row[7] < split]
    later = [row for row in staged if row[7] >= split]
    corrected = {row[0] for row in first} & {row[0] for row in later}
    assert first and later and corrected, "the generated feed lost its later corrections"

    folder = _execution_project(tmp_path / "pg-project", postgres)
    env = {
        **os.environ,
        "BENEFITS_DATA_DIR": str(landing_root),  # the delivery_ready signal reads the files
        "PGPASSWORD": PASSWORD,
        "SQLMESH__DISABLE_ANONYMIZED_ANALYTICS": "1",
    }
    env.pop("BENEFITS_STATE", None)
    _load_stg_claims(postgres, first)
    _sqlmesh(folder, _clock(split), env, "plan", "--auto-apply", "--no-prompts")
    backfilled = postgres.query(EXEC_DB, "SELECT COUNT(*) FROM intermediate.int_claims_current")
    assert backfilled[0][0] == len({row[0] for row in first})

    _load_stg_claims(postgres, later)
    merges_before = postgres.log.read_text(errors="replace").count("MERGE INTO")
    _sqlmesh(folder, _last_clock(), env, "run")
    assert postgres.log.read_text(errors="replace").count("MERGE INTO") > merges_before

    columns = [
        name
        for (name,) in reference.query(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = "
            "'intermediate' AND table_name = 'int_claims_current' ORDER BY ordinal_position"
        )
    ]
    listed = ", ".join(columns)
    expected = Counter(reference.query(f"SELECT {listed} FROM intermediate.int_claims_current"))
    got = Counter(postgres.query(EXEC_DB, f"SELECT {listed} FROM intermediate.int_claims_current"))
    assert got == expected, (
        f"only on PostgreSQL: {list((got - expected).elements())[:5]}; "
        f"only on DuckDB: {list((expected - got).elements())[:5]}"
    )
    # the corrections the later run merged are the current versions
    delivered = dict(
        postgres.query(
            EXEC_DB,
            "SELECT claim_id, delivery_date FROM intermediate.int_claims_current "
            "WHERE claim_id = ANY(%s)",
            (sorted(corrected),),
        )
    )
    assert delivered and all(day >= split for day in delivered.values()), delivered
