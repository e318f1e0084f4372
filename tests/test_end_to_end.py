"""End to end: the project's marts equal an independent plain-Python reference (tests/reference.py).

Two landing roots go through a real `sqlmesh plan` (fixture `project` in conftest.py):
a dirty synthetic root from the project's generator, and a small hand-written root that
exercises the edge cases of SPEC §1-§3 one by one.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import sys
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

from benefits_mesh.generate import generate

sys.path.insert(0, str(Path(__file__).resolve().parent))

import reference  # noqa: E402

MARTS = {
    "fct_load_accounting": [
        "source",
        "source_file",
        "delivery_date",
        "raw_rows",
        "staged_rows",
        "duplicate_rows",
        "quarantined_rows",
        *reference.ALL_REASONS,
    ],
    "fct_plan_gaps": [
        "company_ein",
        "plan_type",
        "carrier_before",
        "carrier_after",
        "gap_length_days",
        "gap_start",
        "gap_end",
    ],
    "fct_claims_cost_spikes": [
        "company_ein",
        "current_90d_cost",
        "prior_90d_cost",
        "pct_change",
        "window_end",
    ],
    "fct_employee_roster_mismatches": [
        "company_ein",
        "mismatch_type",
        "severity",
        "expected_headcount",
        "observed_headcount",
        "diff",
        "pct_diff",
        "as_of_date",
    ],
    "fct_claims": [
        "claim_id",
        "person_id",
        "company_ein",
        "claim_type",
        "amount",
        "service_date",
        "delivery_date",
    ],
    # SCD type 2: one row per staged version of a person
    "dim_employees": [
        "person_id",
        "company_ein",
        "ein_source",
        "full_name",
        "email",
        "title",
        "dept",
        "status",
        "start_date",
        "term_date",
        "source_file",
        "valid_from",
        "valid_to",
        "is_current",
    ],
}


def _norm(value):
    """Comparable form: numbers as plain decimal strings, dates ISO, NULL as None."""
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float | Decimal):
        number = value if isinstance(value, Decimal) else Decimal(str(value))
        if number == 0:
            return "0"
        return format(number.normalize(), "f")
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _sort_key(row: tuple) -> tuple:
    return tuple((v is None, v or "") for v in row)


def _project_rows(project, mart: str) -> list[tuple]:
    columns = ", ".join(f'"{c}"' for c in MARTS[mart])
    rows = project.query(f"SELECT {columns} FROM marts.{mart}")
    return [tuple(_norm(v) for v in row) for row in rows]


def _reference_rows(expected: dict, mart: str) -> list[tuple]:
    return [tuple(_norm(row[c]) for c in MARTS[mart]) for row in expected[mart]]


def _diff(mart: str, actual: list[tuple], wanted: list[tuple]) -> str | None:
    if Counter(actual) == Counter(wanted):
        return None
    only_project = sorted((Counter(actual) - Counter(wanted)).elements(), key=_sort_key)
    only_reference = sorted((Counter(wanted) - Counter(actual)).elements(), key=_sort_key)
    lines = [
        f"marts.{mart}: project {len(actual)} rows, reference {len(wanted)} rows",
        f"  columns: {', '.join(MARTS[mart])}",
        f"  only in the project ({len(only_project)}):",
        *(f"    {row}" for row in only_project[:20]),
        f"  only in the reference ({len(only_reference)}):",
        *(f"    {row}" for row in only_reference[:20]),
    ]
    return "\n".join(lines)


def _earliest_date(root: Path) -> dt.date:
    """Earliest delivery date or parseable claim service date: the backfill must start there."""
    dates = [delivered for _, _, delivered, _ in reference.delivery_files(root)]
    for _, _, _, path in reference.delivery_files(root):
        if path.parent.name == "claims":
            for row in reference.read_delivery(path, "claims"):
                parsed = reference.parse_date(row["service_date"])
                if parsed is not None:
                    dates.append(parsed)
    return min(dates)


def _compare(project) -> dict:
    expected = reference.compute(project.root)
    project.start = _earliest_date(project.root).isoformat()
    project.plan()

    # Accounting: the identity holds on every file of the project, and raw rows per file agree.
    accounting = project.query(
        "SELECT source_file, raw_rows, staged_rows, duplicate_rows, quarantined_rows "
        "FROM marts.fct_load_accounting"
    )
    for name, raw, staged, duplicate, quarantined in accounting:
        assert raw == staged + duplicate + quarantined, (name, raw, staged, duplicate, quarantined)
    reason_sums = project.query(
        "SELECT source_file, quarantined_rows, "
        + " + ".join(f'"{r}"' for r in reference.ALL_REASONS)
        + " FROM marts.fct_load_accounting"
    )
    for name, quarantined, reasons in reason_sums:
        assert quarantined == reasons, (name, quarantined, reasons)
    assert {name: raw for name, raw, *_ in accounting} == {
        row["source_file"]: row["raw_rows"] for row in expected["fct_load_accounting"]
    }
    for row in expected["fct_load_accounting"]:
        assert row["raw_rows"] == (
            row["staged_rows"] + row["duplicate_rows"] + row["quarantined_rows"]
        )

    problems = []
    for mart in MARTS:
        problem = _diff(mart, _project_rows(project, mart), _reference_rows(expected, mart))
        if problem:
            problems.append(problem)
    assert not problems, "\n\n".join(problems)
    return expected


# --------------------------------------------------------------------------- generated data


def test_generated_landing_root_matches_reference(project):
    start = dt.date(2026, 3, 2)
    summary = generate(
        out_dir=project.root,
        start=start,
        days=40,
        companies=6,
        employees=300,
        claims_per_day=150,
        seed=20260302,
        # 2 % of rows per dirt kind (the generator forces `amount_max` once only, so the
        # 90-day costs still show spikes)
        dirt_rate=0.02,
        history_days=200,
        progress=False,
    )
    expected = _compare(project)

    # the generator's summary describes what it wrote: its files and data records are the files
    # the project loaded and the raw rows it counted (and the reference read with csv)
    landed = {
        source: sorted((project.root / "landing" / source).iterdir())
        for source in reference.SOURCES
    }
    assert summary["days"] == 40
    assert summary["start"] == start.isoformat()
    assert summary["last_day"] == (start + dt.timedelta(days=39)).isoformat()
    assert summary["files"] == {source: len(paths) for source, paths in landed.items()}
    assert summary["files_written"] == sum(len(paths) for paths in landed.values()) + 1
    lookup = json.loads((project.root / "reference" / "company_lookup.json").read_text())
    in_lookup = {c: n for c, n in summary["companies"].items() if c != "unknown"}
    assert sum(in_lookup.values()) == len(lookup) == 6  # + companies outside the lookup
    loaded = {
        source: (files, raw)
        for source, files, raw in project.query(
            "SELECT source, COUNT(*), SUM(raw_rows) FROM marts.fct_load_accounting GROUP BY 1"
        )
    }
    assert loaded == {
        source: (summary["files"][source], summary["rows"][source]) for source in reference.SOURCES
    }
    for source in reference.SOURCES:
        assert summary["rows"][source] == sum(
            row["raw_rows"] for row in expected["fct_load_accounting"] if row["source"] == source
        )
    assert summary["rows"]["claims"] > 150 * 30 and summary["rows"]["employees"] >= 300

    # the comparison is only meaningful when the data exercises the marts
    assert expected["fct_claims"]
    assert expected["fct_employee_roster_mismatches"]
    assert expected["fct_claims_cost_spikes"]
    assert expected["fct_plan_gaps"]
    assert sum(row["quarantined_rows"] for row in expected["fct_load_accounting"]) > 0
    versions = Counter(row["person_id"] for row in expected["dim_employees"])
    assert max(versions.values()) >= 2, "no person with several versions"
    assert sum(not row["is_current"] for row in expected["dim_employees"]) > 0


# --------------------------------------------------------------------------- hand-written data

LOOKUP = [
    {
        "ein": "11-1111111",
        "company_name": "Alpha",
        "domains": ["alpha.com", "shared.com"],
        "industry": None,
        "expected_headcount": 4,
        "state": "NY",
    },
    {
        "ein": "22-2222222",
        "company_name": "Beta",
        "domains": ["beta.com", "shared.com"],
        "industry": "retail",
        "expected_headcount": None,
        "state": None,
    },
    {
        "ein": "33-3333333",
        "company_name": "Gamma",
        "domains": ["gamma.com"],
        "industry": None,
        "expected_headcount": 0,
        "state": "CA",
    },
    {
        "ein": "44-4444444",
        "company_name": "Delta",
        "domains": [],
        "industry": None,
        "expected_headcount": 10,
        "state": "TX",
    },
    {
        "ein": "55-5555555",
        "company_name": "Epsilon",
        "domains": ["epsilon.com"],
        "industry": None,
        "expected_headcount": 0,
        "state": None,
    },
    {
        "ein": "66-6666666",
        "company_name": "Zeta",
        "domains": ["zeta.com"],
        "industry": None,
        "expected_headcount": 2,
        "state": None,
    },
]

# (ein, expected_headcount, active persons): pct_diff -33.3333 / +12.5 / +10 / +25 / -5
HEADCOUNT_BOUNDARIES = [
    ("77-0000001", 3, 2),
    ("77-0000002", 8, 9),
    ("77-0000003", 10, 11),
    ("77-0000004", 4, 5),
    ("77-0000005", 100, 95),
]
LOOKUP += [
    {
        "ein": ein,
        "company_name": f"Boundary {ein}",
        "domains": [],
        "industry": None,
        "expected_headcount": expected,
        "state": None,
    }
    for ein, expected, _ in HEADCOUNT_BOUNDARIES
]

EMPLOYEES_1 = (
    "\ufeffPerson_ID , full_name,EMAIL,title,company_ein,start_date,notes,extra\r\n"
    'E1,"Doe, Jane",jane@alpha.com,Eng,EIN: 11-1111111,2025-01-01,,x\r\n'
    'E1,"Doe, Jane",jane@alpha.com,Eng,EIN: 11-1111111,2025-01-01,,y\r\n'
    "\r\n"
    "E2,Bob,,Ops,,1/2/2025,ein: 22-2222222; status: LEAVE,\r\n"
    "E3,Cy,  X@Shared.COM ,Ops,,2025-01-01,,\r\n"
    "E4,Di,x@sub.alpha.com,Ops,,2025-01-01,,\r\n"
    "E5,Ed,ed@alpha.com,Ops,,2025-01-01,Status=terminated,\r\n"
    "E6,Fa,fa@alpha.com,Ops,,2025-01-01,term_date: 2099-01-01 | status : active,\r\n"
    "E7,Gi,gi@alpha.com,Ops,,2025-01-01,was Terminated 2026-01-02 by HR,\r\n"
    "E8,Ha,ha@alpha.com,Ops,,2025-01-01,terminated 2026-02-30,\r\n"
    "E9,Io,io@alpha.com,Ops,,2025-01-01,status: bogus; status: terminated,\r\n"
    "E10,Jo,jo@beta.com,Ops,,2025-01-01,term_date=01/03/2026; terminated 2026-01-01,\r\n"
    "E11,Ka,ka@alpha.com,Ops,11-1111111,2099-01-01,,\r\n"
    "E12,Lu,lu@alpha.com,Ops,99-9999999,2025-01-01,,\r\n"
    "E13,Mo,mo@alpha.com,Ops,,2026/01/05,,\r\n"
    "E14,No,no@alpha.com,Ops,,,,\r\n"
    ",Ox,ox@alpha.com,Ops,,2025-01-01,,\r\n"
    "E20,Pa,pa@alpha.com,Ops,,2025-01-01,,\r\n"
    "E20,Pb,pa@alpha.com,Ops,,not a date,,\r\n"
    " E  21 ,Qa,qa@alpha.com,Ops,,2025-01-01,,\r\n"
    "E 21,Qa,qa@alpha.com,Ops,,2025-01-01,,\r\n"
    "E22,Ra,ra@alpha,Ops,,2025-01-01,,\r\n"
    "E23,Sa,sa@zeta.com,Ops,123,2025-01-01,ein: 1-2; ein: 66-6666666,\r\n"
    "E24,Ta,ta@zeta.com,Ops,,2025-01-01,EIN = 123456789,\r\n"
    "E25,Ua,   ,Ops,   ,2025-01-01,dept: R&D; status=terminated; term_date: 2026-12-31,\r\n"
    "E26,Va,va@gamma.com,Ops,,2026-01-13,,\r\n"
)

EMPLOYEES_1 += "".join(
    f"B{ein}-{n},B,,Ops,{ein},2025-01-01,,\r\n"
    for ein, _, observed in HEADCOUNT_BOUNDARIES
    for n in range(observed)
)

EMPLOYEES_2 = (
    "person_id,full_name,email,title,company_ein,start_date,notes\n"
    "E1,Jane,jane@alpha.com,Eng,11-1111111,31/12/2024,\n"
    "E2,Bob,,Ops,22-2222222,2025-01-02,status: terminated\n"
    "E7,Gi,gi@alpha.com,Ops,,2025-01-01,\n"
    "E30,Wa,wa@epsilon.com,Ops,,2025-06-01,\n"
    "E31,Xa,xa@alpha.com,Ops,,2025-06-01,terminated 2026-01-10\n"
    "E32,Ya,ya@alpha.com,Ops,,2025-06-01,terminated 2026-01-13\n"
)

# one person per unknown company, so that observed_headcount (0/1) shows each person's status
NOTES_PROBES = [
    "Status: Terminated; term_date: garbage",  # terminated as of the delivery date
    "status: active; term_date: 2026-01-03",  # a term_date applies whatever the status
    "TERM_DATE = 1/2/2026",
    "status:active;status:terminated",
    "terminated:2026-01-01",  # no whitespace after `terminated`: not the phrase
    "terminated  2026-01-01",
    "terminated\t1/2/2026",
    "status: terminated 2026-01-05",
    "term_date: nope; terminated 2026-01-04",
    "term_date: 2026-01-12",  # term_date = D: not active
    "term_date: 2026-01-13",
    '"status: leave\nterm_date: 2026-01-03"',  # one field spanning two lines
    "status = LEAVE | term_date = 2027-01-01",
    "dept = a: b; status: terminated; term_date: 1/13/2026",
]
EMPLOYEES_2 += "".join(
    f"N{n},N,,Ops,13-{n:07d},2025-01-01,{note}\n" for n, note in enumerate(NOTES_PROBES)
)
EMPLOYEES_2 += (
    # a person moved company: only the current record's EIN counts
    "E60,Mo,,Ops,11-1111111,2025-01-01,\n"
    # an inactive person of an unknown company still brings the company in
    "E61,In,,Ops,14-0000061,2099-01-01,\n"
    # two @: invalid e-mail, unresolved
    "E62,At,a@b@alpha.com,Ops,,2025-01-01,\n"
    # tab-only fields are NULL; a tab inside a key is whitespace
    "E\t63,Tb,\t,Ops,14-0000063,2025-01-01,\t\n"
    # start date = D is active
    "E64,Sd,,Ops,14-0000064,2026-01-12,\n"
    # leap days
    "E65,Ld,,Ops,14-0000065,2024-02-29,\n"
    "E66,Ld,,Ops,14-0000066,2025-02-29,\n"
    "E67,Ld,,Ops,14-0000067,02/28/2025,\n"
    "E68,Ld,,Ops,14-0000068,2025-2-28,\n"
)
EMPLOYEES_1 += "E60,Mo,,Ops,14-0000060,2025-01-01,,\r\n"

EMPLOYEES_3 = (
    "person_id,full_name,email,title,company_ein,start_date,notes\n"
    "E40,Za,za@alpha.com,Ops,11-1111111,,\n"
    # leaves and returns: E5 was terminated on 2026-01-05 (status, no date) and is re-hired
    "E5,Ed,ed@alpha.com,Ops,,2026-01-11,status: active\n"
    # a rejected re-send (invalid start date) of a person whose 2026-01-10 version stays current
    "E7,Gi,gi@alpha.com,Ops,,2026-13-01,\n"
)

PLANS_1 = (
    "plan_id,company_ein,plan_type,carrier_name,start_date,end_date\n"
    "PL1,11-1111111,medical,aetna health inc.,2025-01-01,2025-03-31\n"
    'PL2,111111111,Medical,"Cigna, Inc.",2025-04-01,2025-06-30\n'
    "PL3,11-1111111,MEDICAL,UNITED   healthcare CORP,2025-08-01,2025-09-30\n"
    "PL4,11-1111111,medical,blue shield,2025-08-01,\n"
    "PL5,11-1111111,medical,kaiser co,2026-05-01,2026-06-01\n"
    "PL6,11-1111111,dental,,2025-01-01,2025-01-31\n"
    "PL7,11-1111111,dental,zeta,2025-01-15,2025-01-31\n"
    "PL8,11-1111111,  Dental ,alpha,2025-03-01,2025-03-02\n"
    "PL9,11-1111111,dental,,2025-03-01,2025-03-02\n"
    "PL10,11-1111111,vision,Inc,2025-01-01,2025-01-10\n"
    "PL11,11-1111111,vision,acme llc,1/12/2025,1/20/2025\n"
    "PL12,11-1111111,vision,o'neil & sons company,2025-01-25,2025-01-25\n"
    ",11-1111111,vision,x,2025-01-01,2025-01-02\n"
    "PL13,12-345,vision,x,2025-01-01,2025-01-02\n"
    "PL14,11-1111111,life,x,2025-01-01,2025-01-02\n"
    "PL15,11-1111111,vision,x,,2025-01-02\n"
    "PL16,11-1111111,vision,x,31/12/2024,2025-01-02\n"
    "PL17,11-1111111,vision,x,2025-01-01,20250105\n"
    "PL18,11-1111111,vision,x,2025-01-02,2025-01-01\n"
    "PL19,,vision,x,2025-01-02,2025-01-01\n"
    "PL19,,vision,x,2025-01-02,2025-01-01\n"
    "PL20,22-2222222,dental,delta dental,2025-01-01,2025-01-31\n"
    "PL21,22-2222222,dental,Delta Dental,2025-01-01,2025-02-28\n"
    "PL22,22-2222222,dental,guardian,2025-03-02,2025-03-31\n"
    "PL22,22-2222222,dental,guardian,2025-03-02,2025-04-30\n"
)

# carrier-name probes, each the `carrier_before` of its own gap
CARRIER_PROBES = [
    "mcdonald's health",
    "3m care",
    "ACME CO.",
    "acme, llc",
    "Aetna, Inc.",
    "co",
    "acme inc inc",
    "blue-cross",
    "  AETNA   Health  INC. ",
    "Élan santé",
    "acme ,",
    "Big Company",
    "Corp",
]
PLANS_1 += "".join(
    f'P{n},15-{n:07d},vision,"{name}",2025-01-01,2025-01-31\n'
    f"Q{n},15-{n:07d},vision,x,2025-03-01,2025-03-31\n"
    for n, name in enumerate(CARRIER_PROBES)
)

PLANS_2 = (
    "end_date,start_date,carrier_name,plan_type,company_ein,plan_id\n"
    "2025-07-15,2025-04-01,Cigna,medical,11-1111111,PL2\n"
    "2025-01-01,2025-03-31,aetna,medical,11-1111111,PL1\n"
    "2025-09-30,2025-08-01,united healthcare,vision,11-1111111,PL3\n"
)

CLAIMS_1 = (
    "claim_id,person_id,company_ein,claim_type,service_date,amount\n"
    "C1,E1,11-1111111,medical,2025-06-01,100\n"
    "C2,E1,11-1111111,medical,2025-09-01,100.00\n"
    "C3,E1,11-1111111,medical,2025-12-01,300.01\n"
    "C4,E2,22-2222222,dental,2025-06-01,10.00\n"
    "C5,E2,22-2222222,dental,2025-10-01,30.00\n"
    'C6,  E 3 ,EIN 33-3333333,PHARMACY ,2025-07-01,"$1,234.565"\n'
    "C7,E3,33-3333333,vision,2026-01-05,1.005\n"
    "C8,E3,33-3333333,vision,1/5/2026,-0.00\n"
    "C9,E3,33-3333333,vision,2026-01-05,-0.001\n"
    'C10,E3,33-3333333,vision,2026-01-05,"1,000,000.00"\n'
    'C11,E3,33-3333333,vision,2026-01-05,"1,000,000.001"\n'
    "C12,E3,33-3333333,vision,2026-01-05,$-5\n"
    "C13,E3,33-3333333,vision,2026-01-05,-$5\n"
    "C14,E3,33-3333333,vision,2026-01-05,.5\n"
    "C15,E3,33-3333333,vision,2026-01-05,1e3\n"
    "C16,E3,33-3333333,vision,2026-01-05,(5.00)\n"
    "C17,E3,33-3333333,vision,2026-01-05,12.34.56\n"
    "C18,E3,33-3333333,vision,2026-01-05, 5 \n"
    "C19,E3,33-3333333,vision,2026-01-05,$ 5\n"
    "C20,E3,33-3333333,vision,2026-01-05,-5\n"
    "C21,E3,33-3333333,vision,2026-01-06,5\n"
    "C22,E3,33-3333333,vision,2026-01-05,\n"
    "C23,E3,33-3333333,life,2026-01-05,5\n"
    "C24,E3,,vision,2026-01-05,5\n"
    "C25,E3,33-3333333,vision,,5\n"
    "C26,E3,33-3333333,vision,2026-01-05T00:00:00,5\n"
    ",E3,33-3333333,vision,2026-01-05,5\n"
    "C27,E3,33-3333333,vision,2026-01-05,5.\n"
    "C28,E3,33-3333333,vision,2026-01-05,$5.5\n"
    "C29,E3,33-3333333,vision,2026-01-05,0.125\n"
    "C30,E3,33-3333333,vision,2026-01-05,5\n"
    "C30,E3,33-3333333,vision,2026-01-05,5\n"
    "C31,E3,33-3333333,vision,2026-01-05,5\n"
    "C31 ,E3,33-3333333,vision,2026-01-05,-5\n"
    "C32,E4,44-4444444,medical,2025-07-01,50\n"
    "C33,E4,44-4444444,medical,2025-11-01,150.01\n"
    "C34,E4,44-4444444,medical,2025-11-02,1000\n"
    "C50,E50,70-0000001,medical,2025-04-30,0.00\n"
    "C51,E50,70-0000001,medical,2025-05-01,10.00\n"
    "C52,E50,70-0000001,medical,2025-08-01,30.00\n"
    "C53,E50,70-0000001,medical,2025-10-27,0.01\n"
    "C54,E50,80-0000001,medical,2025-03-01,1.28\n"
    "C55,E50,80-0000001,medical,2025-08-27,3.85\n"
    "C60,E\t5,33-3333333,medical,2026-01-05,\t\n"
    "C61,E5,33-3333333,medical,2026-01-05,123456789012345678901234567890\n"
    "C62,E5,33-3333333,medical,2026-01-05,0.0000000000000000000000001\n"
    "C63,E5,33-3333333,medical,2026-01-05,00012.5\n"
    'C64,E5,33-3333333,medical,2026-01-05,"1,2,3"\n'
    "C65,E5,33-3333333,medical,2026-01-05,$1000000.004\n"
    "C66,E5,33-3333333,medical,2026-01-05,-\n"
    "C67,E5,33-3333333,medical,2026-01-05,$\n"
    "C68,E5,33-3333333,medical,2026-01-05,0\n"
    "C69,E5,33-3333333,medical,2026-01-05,$$5\n"
    "C70,E5,33-3333333,medical,2026-01-05,--5\n"
    "C71,E5,33-3333333,medical,2026-01-05,$0.995\n"
    "C72,E5,33-3333333,medical,2026-01-05,999999.995\n"
    "C73,E5,33-3333333,medical,2026-01-05,1000000.005\n"
    "C74,E5,33-3333333,medical,2026-01-05,-0.004\n"
    "C75,E5,33-3333333,Medical,2026-01-05,5\n"
    "C75,E5,33-3333333,medical,2026-01-05,5\n"
    # blank vs whitespace-only amount: both NULL (SPEC §1), so identical raw rows -> one exact
    # duplicate + one missing_amount (see reference.BLANK_RAW_IS_NULL)
    "C76,E5,33-3333333,medical,2026-01-05,\n"
    "C76,E5,33-3333333,medical,2026-01-05, \n"
    "C77,E5,33-3333333,medical,2026-1-5,5\n"
    "C78,E5,33-3333333,medical,1/5/26,5\n"
    "C79,E5,33-3333333,medical, 2026-01-05 ,5\n"
    "C80,E5,33-3333333,medical,13/01/2025,5\n"
    "C81,E5,33-3333333,medical,12/31/2025,5\n"
    "C82,E5,12-3456789-0,medical,2026-01-05,5\n"
    "C83,E5,  12 345 6789 ,dental\t,2026-01-05,5\n"
    ",,,,,\n"
    ",,,,,\n"
    '"",,,"",,\n'
)

CLAIMS_2 = (
    "claim_id,person_id,company_ein,claim_type,service_date,amount\n"
    "C1,E9,22-2222222,dental,2025-06-02,99.99\n"
    "C2,E1,11-1111111,medical,2025-09-01,oops\n"
    "C32,E4,44-4444444,medical,2025-07-01,0.01\n"
    "C40,E1,11-1111111,medical,2026-01-10,5\n"
)


def _write_edge_case_root(root: Path) -> None:
    (root / "reference" / "company_lookup.json").write_text(json.dumps(LOOKUP, indent=1))
    files = {
        "employees/employees_2026-01-05.csv": EMPLOYEES_1,
        "employees/employees_2026-01-10.csv": EMPLOYEES_2,
        "employees/employees_2026-01-12.csv": EMPLOYEES_3,
        "plans/plans_2026-01-05.csv": PLANS_1,
        "plans/plans_2026-01-10.csv": PLANS_2,
        "claims/claims_2026-01-05.csv": CLAIMS_1,
        "claims/claims_2026-01-10.csv": CLAIMS_2,
    }
    for name, content in files.items():
        path = root / "landing" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8", newline="") as handle:
            handle.write(content)


def test_edge_case_landing_root_matches_reference(project, monkeypatch):
    _write_edge_case_root(project.root)
    expected = _compare(project)

    # a few anchors so that a wrong reference cannot silently agree with a wrong project
    roster = {row["company_ein"]: row for row in expected["fct_employee_roster_mismatches"]}
    assert roster["44-4444444"]["mismatch_type"] == "missing_roster"
    assert roster["55-5555555"]["mismatch_type"] == "headcount_mismatch"
    assert roster["99-9999999"]["mismatch_type"] == "unknown_company"
    assert roster["22-2222222"]["mismatch_type"] == "no_expectation"
    assert roster["11-1111111"]["as_of_date"] == dt.date(2026, 1, 12)
    claims = {row["claim_id"]: row for row in expected["fct_claims"]}
    assert claims["C6"]["amount"] == Decimal("1234.57")
    assert claims["C6"]["person_id"] == "E 3"
    assert claims["C1"]["company_ein"] == "22-2222222"
    assert claims["C2"]["amount"] == Decimal("100.00")
    assert "C9" not in claims and "C11" not in claims and "C10" in claims
    gaps = {
        (row["company_ein"], row["plan_type"], row["gap_start"]): row
        for row in expected["fct_plan_gaps"]
    }
    gap = gaps[("11-1111111", "medical", dt.date(2025, 7, 16))]
    assert (gap["carrier_before"], gap["carrier_after"]) == ("Cigna", "Blue Shield")
    assert gaps[("11-1111111", "dental", dt.date(2025, 2, 1))]["carrier_before"] == "Zeta"
    assert gaps[("11-1111111", "dental", dt.date(2025, 2, 1))]["carrier_after"] == "Alpha"
    spikes = {
        (row["company_ein"], row["window_end"]): row["pct_change"]
        for row in expected["fct_claims_cost_spikes"]
    }
    assert spikes[("80-0000001", dt.date(2025, 8, 27))] == Decimal("200.7813")
    assert spikes[("70-0000001", dt.date(2025, 10, 27))] == Decimal("200.1000")
    assert ("70-0000001", dt.date(2025, 10, 26)) not in spikes
    versions = defaultdict(list)
    for row in sorted(expected["dim_employees"], key=lambda r: r["valid_from"]):
        versions[row["person_id"]].append(
            (row["valid_from"], row["valid_to"], row["is_current"], row["status"], row["term_date"])
        )
    jan = functools.partial(dt.date, 2026, 1)
    # terminated, then re-hired by a later delivery: two versions, the later one current
    assert versions["E5"] == [
        (jan(5), jan(12), False, "terminated", jan(5)),
        (jan(12), None, True, "active", None),
    ]
    # the re-sends of 2026-01-10 (E1) and 2026-01-12 (E7) were rejected: no version of their own
    assert versions["E1"] == [(jan(5), None, True, "active", None)]
    assert versions["E7"] == [
        (jan(5), jan(10), False, "terminated", jan(2)),
        (jan(10), None, True, "active", None),
    ]
    assert versions["E2"] == [
        (jan(5), jan(10), False, "leave", None),
        (jan(10), None, True, "terminated", jan(10)),
    ]

    # another as-of date D: only employee records delivered on or before D count
    monkeypatch.setenv("BENEFITS_ROSTER_AS_OF", "2026-01-05")
    project.plan()
    mart = "fct_employee_roster_mismatches"
    earlier = reference.compute(project.root, roster_as_of=dt.date(2026, 1, 5))
    alpha = [r for r in earlier[mart] if r["company_ein"] == "11-1111111"]
    assert [(r["observed_headcount"], r["severity"]) for r in alpha] == [(5, "high")]
    problem = _diff(mart, _project_rows(project, mart), _reference_rows(earlier, mart))
    assert not problem, problem
