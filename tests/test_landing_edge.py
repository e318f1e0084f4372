"""The landing edge (issue 15): every file that lands is loaded, refused naming it, or reported.

Through the real CLI on a real warehouse: a small healthy history is planned once and copied
for each case. Covered: odd names, folders, links, dates before BENEFITS_START or after today
(reported by `sqlmesh run` and `benefits-mesh late-files`, never "pending"); a file changed after
its load (reported, reloaded by the printed restatement, equal to a rebuild); literal paths
(glob characters in the data root); a missing landing root (fails naming it, closes no day);
empty path variables; mixed line endings; reference values out of range; the settle time;
`make run` loading a file that landed since the previous `make run`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import BIN, PROJECT, Project

DAYS = [dt.date(2026, 3, 1) + dt.timedelta(days=k) for k in range(4)]
NEW_DAY = dt.date(2026, 3, 5)
CLOCK = "2026-03-06 06:00:00"  # NEW_DAY has ended
HEADERS = {
    "employees": "person_id,full_name,email,title,company_ein,start_date,notes",
    "plans": "plan_id,company_ein,plan_type,carrier_name,start_date,end_date",
    "claims": "claim_id,person_id,company_ein,claim_type,service_date,amount",
}
LOOKUP = [
    {"ein": "11-1111111", "company_name": "Alpha", "domains": ["alpha.com"],
     "industry": None, "expected_headcount": 2, "state": "NY"},
    {"ein": "22-2222222", "company_name": "Beta", "domains": ["beta.com"],
     "industry": "retail", "expected_headcount": 1, "state": None},
]  # fmt: skip


def _claims(day: dt.date, prefix: str = "C", rows: int = 4, newline: str = "\n") -> str:
    lines = [HEADERS["claims"]]
    for i in range(rows):
        service = day - dt.timedelta(days=1)
        lines.append(f"{prefix}{day:%m%d}-{i},P{i},11-1111111,medical,{service},1{i}.00")
    return newline.join(lines) + newline


def _write(root: Path, source: str, name: str, text: str) -> Path:
    path = root / "landing" / source / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode())
    return path


@pytest.fixture(scope="module")
def healthy(tmp_path_factory, faketime) -> Project:
    base = tmp_path_factory.mktemp("landing-edge")
    project = Project(
        root=base / "root",
        warehouse=base / "wh" / "warehouse.duckdb",
        start="2026-02-20",
        clock=f"{DAYS[-1] + dt.timedelta(days=1)} 06:00:00",
    )
    (project.root / "reference").mkdir(parents=True)
    (project.root / "reference" / "company_lookup.json").write_text(json.dumps(LOOKUP))
    for day in DAYS:
        _write(project.root, "claims", f"claims_{day}.csv", _claims(day))
        _write(
            project.root,
            "employees",
            f"employees_{day}.csv",
            f"{HEADERS['employees']}\nP{day.day},Ann {day.day},a{day.day}@alpha.com,,,"
            "2026-01-01,\n",
        )
    _write(
        project.root,
        "plans",
        f"plans_{DAYS[0]}.csv",
        f"{HEADERS['plans']}\nPL1,11-1111111,medical,Aetna,2026-01-01,\n",
    )
    project.plan()
    return project


def _case(healthy: Project, folder: Path, clock: str = CLOCK, **env: str) -> Project:
    # a wide console: SQLMesh's console folds lines at 80 columns when not on a terminal
    return healthy.copy_to(folder, clock, extra_env={"COLUMNS": "1000", **env})


def test_every_landed_entry_is_loaded_or_reported(healthy, tmp_path):
    # the data root's path holds glob characters, and a decoy folder that the unescaped
    # pattern would also match holds a claims file of the same name
    case = _case(healthy, tmp_path / "case")
    case.root = Path(shutil.move(case.root, tmp_path / "land[1]*?" / "root"))
    decoy = tmp_path / "land1xy" / "root"
    _write(decoy, "claims", f"claims_{NEW_DAY}.csv", _claims(NEW_DAY, prefix="DECOY"))
    claims = case.landing("claims")
    # the day's valid file: CRLF line ends, a quoted field holding a bare LF (data, not a line end)
    valid = _claims(NEW_DAY, newline="\r\n").replace("P0,", '"P\n0",', 1)
    (claims / f"claims_{NEW_DAY}.csv").write_bytes(valid.encode())
    body = _claims(dt.date(2026, 3, 3))
    refused = {
        f"Claims_{NEW_DAY}.csv": "letter case",
        f"claims_{NEW_DAY}.CSV": "letter case",
        "claims_2026-02-30.csv": "impossible date",
        f"claims_{NEW_DAY} .csv": "stray spaces",
        f"claims_{NEW_DAY}.csv.bak": "does not match",
        "claims_2026-02-01.csv": "before BENEFITS_START",
        "claims_[bold]2026-03-05.csv": "does not match",  # console markup shown as text
    }
    for name in refused:
        (claims / name).write_text(body)
    (claims / "claims_2026-03-02.csv.d").mkdir()
    (claims / "claims_2026-03-03.csv.d" / "x").mkdir(parents=True)
    os.symlink(tmp_path / "nowhere.csv", claims / "claims_2026-02-27.csv")
    refused["claims_2026-02-27.csv"] = "broken link"
    _write(case.root, "plans", f"claims_{NEW_DAY}.csv", body)
    (case.root / "landing" / f"plans_{NEW_DAY}.csv").write_text(body)
    (claims / "claims_2026-12-31.csv").write_text(body)  # dated after the clock's today
    (claims / ".claims_2026-03-05.csv.swp").write_text(body)
    (claims / f"claims_{NEW_DAY}.csv.part").write_text(body)

    run = case.sqlmesh("run")
    out = run.stdout + run.stderr
    # loaded: the valid file, from the glob-named root only
    assert case.query(
        f"SELECT COUNT(*), COUNT(*) FILTER (WHERE claim_id LIKE 'DECOY%') FROM staging.stg_claims "
        f"WHERE _delivery_date = '{NEW_DAY}'"
    ) == [(4, 0)]
    assert case.query(
        f"SELECT person_id FROM staging.stg_claims WHERE claim_id = 'C{NEW_DAY:%m%d}-0'"
    ) == [("P 0",)]  # the quoted LF is data (text-normalised to a space)
    # reported by the run, every one with its reason
    assert "[WARNING] landing:" in out
    for name in refused:
        line = next((ln for ln in out.splitlines() if name in ln), None)
        assert line is not None, f"{name} not reported:\n{out[-3000:]}"
    assert "claims_2026-12-31.csv" in out
    # late-files: each entry once, with its status and reason, exit 1, none called pending
    late = case.cli("late-files")
    assert late.returncode == 1, late.stdout + late.stderr
    lines = late.stdout.splitlines()
    for name, reason in refused.items():
        (line,) = [ln for ln in lines if ln.split(": ", 1)[0].endswith(f"/{name}")]
        assert line.startswith("refused") and reason in line, line
    for name in ("claims_2026-03-02.csv.d", "claims_2026-03-03.csv.d"):
        (line,) = [ln for ln in lines if f"/{name}:" in ln]
        assert line.startswith("refused") and "a folder" in line, line
    (line,) = [ln for ln in lines if f"plans/claims_{NEW_DAY}.csv" in ln]
    assert line.startswith("refused") and "move it to landing/claims/" in line
    (line,) = [ln for ln in lines if ln.split(" ", 1)[-1].lstrip().startswith(f"plans_{NEW_DAY}")]
    assert line.startswith("refused") and "outside its source folder" in line
    (line,) = [ln for ln in lines if "claims_2026-12-31.csv" in ln]
    assert line.startswith("future")
    for name in (".claims_2026-03-05.csv.swp", f"claims_{NEW_DAY}.csv.part"):
        (line,) = [ln for ln in lines if f"/{name}:" in ln]
        assert line.startswith("ignored"), line
    assert not [ln for ln in lines if ln.startswith("pending")], late.stdout
    assert "landing: 10 loaded, 0 pending, 2 ignored, 12 refused, 1 future" in late.stdout
    # an environment that does not exist is one line, not a list of "pending" files
    unknown = case.cli("late-files", "--env", "nosuchenv")
    assert unknown.returncode == 2 and unknown.stdout == ""
    assert unknown.stderr.strip() == (
        "benefits-mesh: environment 'nosuchenv' not found (environments: prod)"
    )
    # freshness: the mis-dated file neither counts as the newest claims file nor goes unsaid
    fresh = case.cli("freshness")
    claims_line = next(ln for ln in fresh.stdout.splitlines() if " claims " in f" {ln} ")
    assert f"newest claims_{NEW_DAY}.csv" in claims_line, fresh.stdout
    assert "future claims/claims_2026-12-31.csv" in fresh.stdout


def test_a_file_changed_after_its_load_is_reported_and_the_restatement_equals_a_rebuild(
    healthy, tmp_path
):
    case = _case(healthy, tmp_path / "case")
    changed = case.landing("claims") / f"claims_{DAYS[1]}.csv"
    text = changed.read_text()
    changed.write_text(text.replace("10.00", "90.00"))  # same size, other bytes
    grown = case.landing("employees") / f"employees_{DAYS[2]}.csv"
    grown.write_text(grown.read_text() + "P99,Late Row,,,,2026-01-01,\n")
    # a touch is not a change
    os.utime(case.landing("claims") / f"claims_{DAYS[0]}.csv")

    run = case.sqlmesh("run")
    out = run.stdout + run.stderr
    assert f"claims/claims_{DAYS[1]}.csv: changed after it was loaded (same size" in out
    assert f"employees/employees_{DAYS[2]}.csv: changed after it was loaded" in out
    late = case.cli("late-files")
    assert late.returncode == 1
    changed_lines = [ln for ln in late.stdout.splitlines() if ln.startswith("changed")]
    assert len(changed_lines) == 2, late.stdout
    command = next(ln.strip() for ln in late.stdout.splitlines() if "--restate-model" in ln)
    assert f"--start {DAYS[1]} --end {DAYS[2]}" in command
    # the printed restatement reloads them ...
    args = command.split()[1:]  # drop "sqlmesh"
    case.sqlmesh(*[a.strip("'") for a in args])
    again = case.cli("late-files")
    assert again.returncode == 0, again.stdout
    assert "changed" not in again.stdout
    assert case.query(
        f"SELECT SUM(amount) FROM staging.stg_claims WHERE _delivery_date = '{DAYS[1]}'"
    ) == [(pytest.approx(90 + 11 + 12 + 13),)]
    # ... and the warehouse equals one rebuilt from the same landing root
    rebuilt = Project(
        root=case.root, warehouse=tmp_path / "rebuilt" / "w.duckdb", start=case.start, clock=CLOCK
    )
    rebuilt.plan()
    assert case.contents() == rebuilt.contents()


def test_a_missing_landing_root_fails_naming_it_and_closes_no_day(healthy, tmp_path):
    # sixty days later every waiting day would have expired: none may be closed
    case = _case(healthy, tmp_path / "case", clock="2026-05-06 06:00:00")
    days_before = case.query("SELECT * FROM staging.stg_claims__delivery_days ORDER BY 2")
    missing = tmp_path / "unmounted" / "share"
    case.extra_env = {**(case.extra_env or {}), "BENEFITS_DATA_DIR": str(missing)}
    run = case.sqlmesh("run", check=False)
    out = run.stdout + run.stderr
    assert run.returncode != 0
    assert "Traceback" not in out
    (error,) = [ln for ln in out.splitlines() if ln.startswith("Error:")]
    assert str(missing) in error and "missing" in error, out[-2000:]
    assert case.query("SELECT * FROM staging.stg_claims__delivery_days ORDER BY 2") == days_before
    late = case.cli("late-files")
    assert late.returncode == 2 and str(missing) in late.stderr
    assert len(late.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("variable", ["BENEFITS_DATA_DIR", "BENEFITS_WAREHOUSE"])
def test_an_empty_path_variable_is_an_error_not_the_default(tmp_path, variable):
    env = {
        **os.environ,
        "BENEFITS_DATA_DIR": str(tmp_path / "root"),
        "BENEFITS_WAREHOUSE": str(tmp_path / "wh" / "w.duckdb"),
        variable: "",
    }
    default = PROJECT / ".warehouse" / "benefits.duckdb"
    default_before = default.stat().st_mtime_ns if default.exists() else None
    for command in (
        [str(BIN / "sqlmesh"), "-p", str(PROJECT), "plan", "--auto-apply", "--no-prompts"],
        [str(BIN / "benefits-mesh"), "run"],
        [str(BIN / "benefits-mesh"), "late-files"],
    ):
        done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
        out = done.stdout + done.stderr
        assert done.returncode != 0, out
        assert f"{variable} is set but empty" in out, out[-2000:]
        assert "Traceback" not in out
    # the default warehouse was neither created nor written
    assert (default.stat().st_mtime_ns if default.exists() else None) == default_before


def test_mixed_line_endings_are_refused_naming_file_and_line(healthy, tmp_path):
    case = _case(healthy, tmp_path / "case")
    text = _claims(NEW_DAY)
    head, body = text.split("\n", 1)
    lines = body.splitlines(keepends=True)
    mixed = head + "\n" + "".join(lines[:2]) + lines[2].replace("\n", "\r\n") + "".join(lines[3:])
    path = case.landing("claims") / f"claims_{NEW_DAY}.csv"
    path.write_bytes(mixed.encode())
    run = case.sqlmesh("run", check=False)
    out = run.stdout + run.stderr
    assert run.returncode != 0
    assert f"{path}: line 4: ends with CRLF but line 1 ends with LF" in out, out[-3000:]
    assert case.query(
        f"SELECT COUNT(*) FROM staging.stg_claims WHERE _delivery_date = '{NEW_DAY}'"
    ) == [(0,)]


@pytest.mark.parametrize(
    ("lookup", "expected"),
    [
        pytest.param([], "the company list is empty", id="empty-list"),
        pytest.param(
            [{**LOOKUP[0], "expected_headcount": 2**63}],
            "company #1 (11-1111111): 'expected_headcount' 9223372036854775808 is out of range",
            id="beyond-bigint",
        ),
        pytest.param(
            [LOOKUP[0], {**LOOKUP[1], "expected_headcount": -3}],
            "company #2 (22-2222222): 'expected_headcount' -3 is out of range",
            id="negative",
        ),
        pytest.param(
            [{**LOOKUP[0], "domains": ["alpha.com", 7]}],
            "company #1 (11-1111111): 'domains' should hold strings",
            id="domain-not-text",
        ),
    ],
)
def test_reference_values_out_of_range_are_refused_naming_the_entry(
    healthy, tmp_path, lookup, expected
):
    case = _case(healthy, tmp_path / "case")
    path = case.root / "reference" / "company_lookup.json"
    before = case.query("SELECT * FROM staging.stg_companies ORDER BY 1")
    path.write_text(json.dumps(lookup))
    run = case.sqlmesh("run", check=False)
    out = run.stdout + run.stderr
    assert run.returncode != 0
    assert f"{path}: {expected}" in out.replace("\n", " "), out[-3000:]
    assert case.query("SELECT * FROM staging.stg_companies ORDER BY 1") == before


def test_a_file_still_settling_waits_for_the_next_run(healthy, tmp_path):
    case = _case(healthy, tmp_path / "case", BENEFITS_FILE_SETTLE_SECONDS="600")
    path = case.landing("claims") / f"claims_{NEW_DAY}.csv"
    path.write_text(_claims(NEW_DAY))
    fake_now = dt.datetime.fromisoformat(CLOCK).replace(tzinfo=dt.UTC).timestamp()
    os.utime(path, (fake_now - 60, fake_now - 60))  # written a minute before the run
    waiting = case.sqlmesh("run")
    # nothing ready: no signal report at all (SQLMesh's trees only with BENEFITS_SIGNAL_DETAIL)
    assert "Checking signals" not in waiting.stdout
    assert "signals: staging.stg_claims__files" not in waiting.stdout
    loaded = f"SELECT COUNT(*) FROM staging.stg_claims WHERE _delivery_date = '{NEW_DAY}'"
    assert case.query(loaded) == [(0,)]
    late = case.cli("late-files")
    assert f"pending  claims/claims_{NEW_DAY}.csv" in late.stdout
    os.utime(path, (fake_now - 3600, fake_now - 3600))  # left alone for an hour
    ready = case.sqlmesh("run")
    assert case.query(loaded) == [(4,)]
    (line,) = [
        ln for ln in ready.stdout.splitlines() if "signals: staging.stg_claims__files:" in ln
    ]
    assert line.startswith("signals: staging.stg_claims__files: 1 of ") and line.endswith(
        f"ready ({NEW_DAY} - {NEW_DAY})"
    ), line
    case.extra_env = {**(case.extra_env or {}), "BENEFITS_SIGNAL_DETAIL": "1"}
    case.clock = "2026-03-07 06:00:00"
    detailed = case.sqlmesh("run")
    assert "Checking signals for " in detailed.stdout


def test_make_run_loads_the_files_landed_since_the_previous_make_run(tmp_path, faketime):
    project = Project(root=tmp_path / "root", warehouse=tmp_path / "wh" / "w.duckdb")
    project.start = "2026-02-25"
    (project.root / "reference").mkdir(parents=True)
    (project.root / "reference" / "company_lookup.json").write_text(json.dumps(LOOKUP))
    for source in HEADERS:
        project.landing(source)
    _write(project.root, "claims", f"claims_{DAYS[0]}.csv", _claims(DAYS[0]))

    def make_run(clock: str) -> subprocess.CompletedProcess:
        done = subprocess.run(
            ["faketime", clock, shutil.which("make") or "make", "-C", str(PROJECT), "run"],
            env=project.env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        return done

    count = "SELECT _delivery_date, COUNT(*) FROM staging.stg_claims GROUP BY 1 ORDER BY 1"
    make_run(f"{DAYS[0] + dt.timedelta(days=1)} 06:00:00")
    assert project.query(count) == [(DAYS[0], 4)]
    _write(project.root, "claims", f"claims_{DAYS[1]}.csv", _claims(DAYS[1]))
    second = make_run(f"{DAYS[1] + dt.timedelta(days=1)} 06:00:00")
    assert project.query(count) == [(DAYS[0], 4), (DAYS[1], 4)]
    assert "rows per mart:" in second.stdout


def test_the_lending_snapshot_folder_is_read_not_refused(tmp_path):
    """landing/lending/ (SPEC §5) holds two full snapshots (pending until a build reads them:
    tests/test_lending.py follows them into the warehouse); anything else there is refused,
    naming the expected files."""
    from benefits_mesh.inventory import scan

    lending = tmp_path / "landing" / "lending"
    lending.mkdir(parents=True)
    for name in ("customers.csv", "accounts.csv", "Accounts.csv", "notes.txt", ".partial~"):
        (lending / name).write_text("x\n")
    found = {e.name: (e.status, e.reason) for e in scan(tmp_path) if e.folder == "lending"}
    assert found["customers.csv"][0] == found["accounts.csv"][0] == "pending"
    assert found["Accounts.csv"] == ("refused", "rename it to accounts.csv")
    assert (
        found["notes.txt"][0] == "refused"
        and "customers.csv and accounts.csv" in found["notes.txt"][1]
    )
    assert found[".partial~"][0] == "ignored"


def test_a_file_scan_digests_every_chunk_and_stops_at_a_mixed_line_end(tmp_path):
    """landing.scan_file (issue 20): the digest is BLAKE2b of the whole file over several 8 MB
    chunks, kept per process while the file's stat is unchanged, and a mixed line end found past
    the first chunk still fails naming its line (the quotes and lines before it are counted only
    then, by reading the file again up to its chunk)."""
    import hashlib

    from benefits_mesh.landing import SCANNED, LandingFileError, scan_file

    record = b"C1,P1,12-3456789,medical,2026-03-01,10.00\n"
    body = b"claim_id,person_id,company_ein,claim_type,service_date,amount\n" + record * 500_000
    clean = tmp_path / "claims_2026-03-02.csv"
    clean.write_bytes(body)  # ~21 MB: three chunks
    size, mtime_ns, digest = scan_file(clean)
    assert (size, digest) == (len(body), hashlib.blake2b(body).hexdigest()[:32])
    # kept for the process (the classifier and the file's accounting both ask), by stat: a file
    # rewritten since is scanned again
    assert SCANNED[(str(clean), size, mtime_ns)] == (size, mtime_ns, digest)
    changed = body.replace(b"10.00", b"20.00", 1)
    clean.write_bytes(changed)
    os.utime(clean, ns=(mtime_ns + 1_000_000_000, mtime_ns + 1_000_000_000))
    assert scan_file(clean)[2] == hashlib.blake2b(changed).hexdigest()[:32]

    crlf = body.replace(b"\n", b"\r\n")
    lone = len(crlf) - 10 * len(record)  # a record ending in LF alone, in the last chunk
    line = crlf[:lone].count(b"\n") + 1
    mixed = tmp_path / "claims_2026-03-03.csv"
    mixed.write_bytes(crlf[:lone] + record + crlf[lone + len(record) + 1 :])
    with pytest.raises(LandingFileError, match=rf"line {line}: ends with LF but line 1 ends"):
        scan_file(mixed)

    # an LF file: a CR LF inside a quoted field (data) in the second chunk, then a real CR LF in
    # the third: the quotes before the first suspect are counted, the second is named
    quoted = b'C2,P2,12-3456789,medical,2026-03-01,"10\r\n.00"\n'
    head = body[: body.index(b"\n", 9 << 20) + 1] + quoted  # past the first 8 MB chunk
    rest = body[len(head) - len(quoted) :]
    cut = rest.index(b"\n", (18 << 20) - len(head))  # a record's LF in the third chunk
    text = head + rest[:cut] + b"\r\n" + rest[cut + 1 :]
    crlf_line = (head + rest[:cut]).count(b"\n") + 1  # physical lines, the quoted LF included
    late_mix = tmp_path / "claims_2026-03-05.csv"
    late_mix.write_bytes(text)
    with pytest.raises(LandingFileError, match=rf"line {crlf_line}: ends with CRLF but line 1"):
        scan_file(late_mix)
    clean_quoted = tmp_path / "claims_2026-03-06.csv"
    clean_quoted.write_bytes(head + rest)  # the quoted CR LF alone is data: accepted
    assert scan_file(clean_quoted)[0] == len(head + rest)


def test_two_models_asking_for_one_file_at_once_share_one_scan(tmp_path, monkeypatch):
    """SQLMesh evaluates two models at once (config.yaml concurrent_tasks): the classifier's render
    (check_file) and the file accounting's (scan_file) may ask for the same file together. Each
    pass (the line-ending check, the digest) is made once, a second asker waiting for the first's
    answer instead of reading the file beside it (issue 20)."""
    import hashlib
    import threading

    from benefits_mesh import landing

    record = b"C1,P1,12-3456789,medical,2026-03-01,10.00\n"
    body = b"claim_id,person_id,company_ein,claim_type,service_date,amount\n" + record * 500_000
    path = tmp_path / "claims_2026-03-04.csv"
    path.write_bytes(body)
    checks, digests = [], []
    read, digest = landing._read_checked, landing._digest
    monkeypatch.setattr(landing, "_read_checked", lambda *args: checks.append(1) or read(*args))
    monkeypatch.setattr(landing, "_digest", lambda *args: digests.append(1) or digest(*args))
    start = threading.Barrier(4)
    answers = []

    def ask(scan: bool) -> None:
        start.wait()
        answers.append(landing.scan_file(path) if scan else landing.check_file(path))

    askers = [threading.Thread(target=ask, args=(k % 2 == 0,)) for k in range(4)]
    for asker in askers:
        asker.start()
    for asker in askers:
        asker.join()
    assert (len(checks), len(digests)) == (1, 1)
    scanned = [answer for answer in answers if answer is not None]
    assert {answer[2] for answer in scanned} == {hashlib.blake2b(body).hexdigest()[:32]}
    assert len(answers) == 4 and len(scanned) == 2
