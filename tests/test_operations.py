"""Operations (issue 15): owner-only files, logs in the project, a busy warehouse and a bad
landing file each reported in one clear line. Through the real `sqlmesh` / `benefits-mesh`
command lines, from a directory that is not the project, on a real warehouse."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import BIN, PROJECT, Project

CLAIMS_HEADER = "claim_id,person_id,company_ein,claim_type,service_date,amount\n"
GOOD_ROW = "C1,P1,12-3456789,medical,2026-01-02,10.00\n"
PROJECT_LOGS = PROJECT / "logs"


@pytest.fixture
def project(project, faketime):
    """The shared empty project on 2026-01-08: a plan covers a week of daily intervals."""
    project.clock = "2026-01-08 06:00:00"
    return project


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _logs_of(project, folder: Path) -> list[Path]:
    """SQLMesh log files in ``folder`` written by commands on this test's warehouse (SQLMesh
    logs the DuckDB file it opens; other tests share the project's logs/)."""
    if not folder.is_dir():
        return []
    return [
        path
        for path in sorted(folder.glob("sqlmesh_*.log"))
        if str(project.warehouse) in path.read_text(errors="replace")
    ]


class ModeWatcher:
    """Records the modes of the warehouse's WAL and temp folder (and its files) while they exist:
    DuckDB creates them during a command and removes them when it closes the database."""

    def __init__(self, warehouse: Path, ignore: set[Path] = frozenset()):
        self.paths = [Path(f"{warehouse}.wal"), Path(f"{warehouse}.tmp")]
        self.seen: dict[Path, int] = {path: 0 for path in ignore}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for path in self.paths:
                try:
                    self.seen.setdefault(path, _mode(path))
                    if path.is_dir():
                        for child in path.iterdir():
                            self.seen.setdefault(child, _mode(child))
                except FileNotFoundError:
                    pass
            time.sleep(0.005)

    def __enter__(self) -> ModeWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def test_plan_creates_owner_only_files_and_logs_in_the_project(project):
    (project.landing("claims") / "claims_2026-01-05.csv").write_text(CLAIMS_HEADER + GOOD_ROW)
    cwd = project.root.parent  # where the commands run: not the project
    # a spill folder left with wide modes (by an older version or a copied warehouse)
    temp = Path(f"{project.warehouse}.tmp")
    temp.mkdir(parents=True)
    (temp / "leftover.tmp").write_text("x")
    temp.chmod(0o755)
    (temp / "leftover.tmp").chmod(0o644)

    with ModeWatcher(project.warehouse, ignore={temp, temp / "leftover.tmp"}) as watcher:
        project.plan()

    assert _mode(project.warehouse) == 0o600
    assert _mode(temp) == 0o700 and _mode(temp / "leftover.tmp") == 0o600
    wal = Path(f"{project.warehouse}.wal")
    assert wal in watcher.seen, "the plan wrote without a WAL? nothing measured"
    assert {path: mode for path, mode in watcher.seen.items() if mode & 0o077} == {}
    # logs: in <project>/logs, owner-only, none in the current directory
    assert not (cwd / "logs").exists()
    logs = _logs_of(project, PROJECT_LOGS)
    assert len(logs) == 1, logs
    assert _mode(PROJECT_LOGS) == 0o700 and _mode(logs[0]) == 0o600

    # wider modes set since are tightened when the project next loads (`sqlmesh run` here)
    project.warehouse.chmod(0o644)
    logs[0].chmod(0o644)
    (temp / "leftover.tmp").chmod(0o644)
    project.sqlmesh("run")
    assert _mode(project.warehouse) == 0o600
    assert _mode(logs[0]) == 0o600
    assert _mode(temp / "leftover.tmp") == 0o600
    assert not (cwd / "logs").exists()
    assert len(_logs_of(project, PROJECT_LOGS)) == 2


def test_only_regular_files_and_folders_are_tightened(tmp_path, monkeypatch):
    """A log handler's file may be a device: pytest's own log handler writes to /dev/null, and a
    Context opened inside pytest as root made /dev/null 0600 for every other user."""
    import logging
    import os

    from benefits_mesh import runtime

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo, 0o666)
    fifo.chmod(0o666)  # past the umask
    runtime._chmod(fifo, 0o600)
    assert _mode(fifo) == 0o666
    handler = logging.FileHandler(os.devnull)
    monkeypatch.setattr(runtime, "_file_handlers", lambda: [handler])
    before = _mode(Path(os.devnull))
    runtime._tighten(tmp_path / "wh" / "warehouse.duckdb")
    handler.close()
    assert _mode(Path(os.devnull)) == before


def test_explicit_log_file_dir_is_respected_and_pruned_by_time_written(project):
    folder = project.root.parent / "my-logs"
    folder.mkdir()
    # 23 logs written hours ago, named after every other; one written just now by a command
    # under a clock shifted into the past (faketime), so named before every other
    now = time.time()
    old = [folder / f"sqlmesh_2099_01_01_00_00_{i:02d}.log" for i in range(23)]
    for i, path in enumerate(old):
        path.write_text("old\n")
        os.utime(path, (now - 7200 - 60 * i, now - 7200 - 60 * i))
    shifted = folder / "sqlmesh_2000_01_01_00_00_00.log"
    shifted.write_text("a log its user is about to read\n")

    project.sqlmesh("--log-file-dir", str(folder), "info")

    logs = _logs_of(project, folder)
    assert len(logs) == 1 and _mode(logs[0]) == 0o600
    assert _logs_of(project, PROJECT_LOGS) == []
    assert not (project.root.parent / "logs").exists()
    # the 20 last written are kept, not the 20 last by name (SQLMesh's pruning deleted `shifted`)
    assert shifted.exists()
    assert sorted(folder.glob("sqlmesh_*.log")) == sorted([*logs, shifted, *old[:18]])


@pytest.fixture(scope="module")
def planned(tmp_path_factory, faketime) -> Project:
    """One planned warehouse (a week of intervals, one claims file) the busy cases fight over:
    they fail before writing anything, so they share it."""
    folder = tmp_path_factory.mktemp("busy")
    root = folder / "root"
    (root / "reference").mkdir(parents=True)
    shutil.copy(PROJECT / "data" / "reference" / "company_lookup.json", root / "reference")
    for source in ("employees", "plans", "claims"):
        (root / "landing" / source).mkdir(parents=True)
    (root / "landing" / "claims" / "claims_2026-01-05.csv").write_text(CLAIMS_HEADER + GOOD_ROW)
    planned = Project(
        root=root,
        warehouse=folder / "wh" / "warehouse.duckdb",
        clock="2026-01-08 06:00:00",
        # fail at once: the waiting is tested on its own below
        extra_env={"BENEFITS_LOCK_WAIT": "0"},
    )
    planned.plan()
    return planned


@contextlib.contextmanager
def holding(warehouse: Path):
    """A second process holding the warehouse open for writing (as a plan, run or `sqlmesh ui`
    does) until the block ends or its stdin is closed."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, duckdb\n"
            f"con = duckdb.connect({str(warehouse)!r})\n"
            "print('holding', flush=True)\n"
            "sys.stdin.read()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout.readline().strip() == "holding"
        yield process
    finally:
        process.stdin.close()
        process.wait(timeout=30)


@pytest.fixture
def holder(planned):
    with holding(planned.warehouse) as process:
        yield process


def _assert_one_busy_line(result, project, holder) -> None:
    output = (result.stdout + result.stderr).strip()
    assert result.returncode != 0, output
    assert "Traceback" not in output
    lines = output.splitlines()
    assert len(lines) == 1, output
    assert str(project.warehouse) in lines[0]
    assert f"PID {holder.pid}" in lines[0]
    assert "try again" in lines[0]


@pytest.mark.parametrize(
    "command", [("run",), ("plan", "--auto-apply", "--no-prompts", "--skip-tests")]
)
def test_busy_warehouse_is_one_line(planned, holder, command):
    """Plain `sqlmesh run` too: it opens the warehouse for its janitor before it imports any
    project file, so the project's `sqlmesh` command installs the guard first; without it
    SQLMesh took the lock error for a missing state and tried to create and drop its tables."""
    result = planned.sqlmesh(*command, check=False)
    _assert_one_busy_line(result, planned, holder)
    assert result.stdout.startswith("Error: warehouse ")
    assert "Initializing new project state" not in result.stdout


def test_busy_warehouse_for_benefits_mesh_run_is_one_line(planned, holder):
    """`benefits-mesh run` is `sqlmesh run` with the project's glue set up before SQLMesh opens
    the warehouse (plain `sqlmesh run` opens it for its janitor before it imports any project
    code: DESIGN.md, "config.yaml and the glue")."""
    result = planned.cli("run")
    _assert_one_busy_line(result, planned, holder)
    assert result.stderr.startswith("benefits-mesh: warehouse ")


def test_busy_warehouse_lost_after_the_probe_is_one_line(planned, holder):
    """The race the probe cannot see: the lock is taken between the glue's probe and SQLMesh's
    own open. The probe is switched off here; SQLMesh's real connection hits the real lock."""
    code = (
        "import sys\n"
        "from benefits_mesh import runtime\n"
        "runtime.probe = lambda path: None\n"
        "from sqlmesh.cli.main import cli\n"
        "sys.argv = ['sqlmesh', *sys.argv[1:]]\n"
        "cli()\n"
    )
    result = subprocess.run(
        [
            *("faketime", planned.clock, sys.executable, "-c", code, "-p", str(PROJECT)),
            *("plan", "--auto-apply", "--no-prompts", "--skip-tests"),
        ],
        cwd=planned.root.parent,
        env=planned.env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    _assert_one_busy_line(result, planned, holder)
    assert "Initializing new project state" not in result.stdout


def test_busy_warehouse_for_benefits_mesh_is_one_line(planned, holder):
    result = subprocess.run(
        [str(BIN / "benefits-mesh"), "summary"],
        cwd=planned.root.parent,
        env=planned.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    _assert_one_busy_line(result, planned, holder)


def _wait_for_holder(
    project: Project, holder, *args: str, sqlmesh: bool = False
) -> tuple[str, str, str]:
    """Start `benefits-mesh args` (or `sqlmesh -p <project> args`) while ``holder`` holds the
    warehouse, let the holder go once the command says it waits (not after a fixed time: a
    loaded machine starts commands slowly), and return (the waiting notice, stdout, stderr) of
    the finished command."""
    clock = ["faketime", project.clock] if project.clock else []
    program = (
        [str(BIN / "sqlmesh"), "-p", str(PROJECT)] if sqlmesh else [str(BIN / "benefits-mesh")]
    )
    command = subprocess.Popen(
        [*clock, *program, *args],
        cwd=project.root.parent,
        env=project.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    before: list[str] = []
    for line in command.stderr:
        if line.startswith("waiting for"):
            notice = line.rstrip("\n")
            break
        before.append(line)
    else:
        command.wait(timeout=60)
        pytest.fail(f"no waiting notice: {''.join(before)}")
    holder.stdin.close()  # let go
    stdout, rest = command.communicate(timeout=600)
    assert command.returncode == 0, stdout + "".join(before) + rest
    assert "waiting for" not in rest  # said once
    return notice, stdout, "".join(before) + rest


def test_commands_wait_for_a_holder_that_lets_go(planned):
    """The UI, a run or a summary holds the warehouse for a moment: the others wait for it
    (BENEFITS_LOCK_WAIT) and succeed, saying once on stderr whom they wait for."""
    waiting = dataclasses.replace(planned, extra_env={"BENEFITS_LOCK_WAIT": "300"})
    with holding(planned.warehouse) as process:
        notice, stdout, _ = _wait_for_holder(waiting, process, "run")
    assert "Run finished for environment 'prod'" in stdout
    assert notice.startswith(
        f"waiting for warehouse {planned.warehouse}: its lock is held by PID {process.pid} ("
    )
    assert notice.endswith("up to 300 s (BENEFITS_LOCK_WAIT)")
    with holding(planned.warehouse) as process:
        notice, stdout, _ = _wait_for_holder(waiting, process, "summary")
    assert "fct_claims" in stdout
    assert f"PID {process.pid}" in notice
    # plain `sqlmesh run` waits at its very first open (the janitor's) as well
    with holding(planned.warehouse) as process:
        notice, stdout, _ = _wait_for_holder(waiting, process, "run", sqlmesh=True)
    assert "Run finished for environment 'prod'" in stdout
    assert f"PID {process.pid}" in notice


def test_busy_after_the_wait_is_one_error_line(planned, holder):
    waiting = dataclasses.replace(planned, extra_env={"BENEFITS_LOCK_WAIT": "1"})
    result = waiting.plan(check=False)
    assert result.returncode != 0
    assert result.stderr.startswith("waiting for warehouse ")
    assert result.stdout.startswith("Error: warehouse ")
    assert len(result.stdout.strip().splitlines()) == 1, result.stdout
    assert (
        f"PID {holder.pid}" in result.stdout and "(waited 1 s, BENEFITS_LOCK_WAIT)" in result.stdout
    )


def test_commands_without_the_warehouse_run_while_it_is_busy(planned, tmp_path):
    project = planned.copy_to(tmp_path, planned.clock)
    with holding(project.warehouse):
        for command in (("format", "--check"), ("lint",)):
            result = project.sqlmesh(*command, check=False)
            assert "busy" not in result.stdout + result.stderr, command
    # once the holder is gone the state it held is intact: a run finds the environment it knows
    result = project.sqlmesh("run")
    assert "Initializing new project state" not in result.stdout


@pytest.mark.parametrize(
    ("content", "first_error"),
    [
        pytest.param(
            CLAIMS_HEADER + GOOD_ROW + 'C2,P1,12-3456789,medical,2026-01-02,"1\n',
            "line 3: Value with unterminated quote found.",
            id="duckdb-csv-error",
        ),
        pytest.param(
            "claim,person_id,company_ein,claim_type,service_date,amount\n" + GOOD_ROW,
            "line 1: header lacks contract column(s) claim_id",
            id="landing-file-error",
        ),
    ],
)
def test_bad_landing_file_is_named_first_and_once(project, content, first_error):
    bad = project.landing("claims") / "claims_2026-01-05.csv"
    bad.write_text(content)

    result = project.plan(check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    errors = [line for line in output.splitlines() if line.startswith("Error:")]
    assert errors[0].startswith(f"Error: {bad}: {first_error}"), output
    assert errors[-1] == "Error: Plan application failed."
    assert len(errors) == 2, errors
    # both models reading the file failed, each named in a line; DuckDB's dump is not repeated
    assert "stg_claims__classified" in output and "stg_claims__files" in output
    assert output.count(first_error) == 1
    assert "Possible fixes" not in output and "Traceback" not in output
    # the full messages are in the log named, in <project>/logs
    log = Path(output.split("(full message in ", 1)[1].split(")", 1)[0])
    assert log.parent == PROJECT_LOGS and _mode(log) == 0o600
    assert first_error.split(": ", 1)[1] in log.read_text()
    # the freshness audit (no employees or plans file yet) warns once, not once per level
    assert output.count("'source_freshness' audit error") == 1
    assert not (project.root.parent / "logs").exists()
