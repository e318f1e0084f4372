"""Bad delivery files fail the run with a message naming file (and line); nothing half-loads."""

from __future__ import annotations

import pytest

CLAIMS_HEADER = "claim_id,person_id,company_ein,claim_type,service_date,amount\n"
GOOD_ROWS = "C1,P1,12-3456789,medical,2026-01-02,10.00\nC2,P2,12-3456789,dental,2026-01-03,5\n"


@pytest.fixture
def project(project, faketime):
    """The shared empty project, run on 2026-01-08: the plans cover a week of daily intervals,
    not every day since 2026-01-01 up to the real date."""
    project.clock = "2026-01-08 06:00:00"
    return project


def _loaded_claim_files(project) -> list[str]:
    return [
        name
        for (name,) in project.query(
            "SELECT DISTINCT _source_file FROM staging.stg_claims__classified ORDER BY 1"
        )
    ]


def _rows_anywhere(project, source_file: str) -> int:
    """Rows of `source_file` in any physical table of the warehouse (all schemas, all versions)."""
    if not project.warehouse.exists():
        return 0
    tables = project.query(
        "SELECT table_schema, table_name FROM information_schema.columns "
        "WHERE column_name IN ('_source_file', 'source_file')"
    )
    total = 0
    for schema, table in tables:
        total += sum(
            count
            for (count,) in project.query(
                f'SELECT COUNT(*) FROM "{schema}"."{table}" '
                f"WHERE COLUMNS(c -> c IN ('_source_file', 'source_file')) = '{source_file}'"
            )
        )
    return total


def test_good_file_loads_from_another_directory(project):
    (project.landing("claims") / "claims_2026-01-05.csv").write_text(CLAIMS_HEADER + GOOD_ROWS)
    project.plan()
    assert project.warehouse.exists()
    assert project.query("SELECT claim_id, amount FROM staging.stg_claims ORDER BY 1") == [
        ("C1", pytest.approx(10)),
        ("C2", pytest.approx(5)),
    ]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param(
            b"claim_id,person_id,company_ein,claim_type,service_date\nC1,P1,x,medical,2026-01-02\n",
            ["claims_2026-01-06.csv", "line 1", "amount"],
            id="missing-required-column",
        ),
        pytest.param(
            b"claim,person,ein,type,date,amt\nC1,P1,x,medical,2026-01-02,1\n",
            ["claims_2026-01-06.csv", "line 1", "claim_id"],
            id="wrong-header",
        ),
        pytest.param(
            b"claim_id,person_id,company_ein,claim_type,service_date,amount\n"
            b"C1,P1,12-3456789,medical,2026-01-02,1\nC2,P1,12-3456789,medical,2026-01-02,\xff\xfe\n",
            ["claims_2026-01-06.csv", "Line: 3", "not utf-8"],
            id="non-utf8-body",
        ),
        pytest.param(
            b"claim_id,person_id,company_ein,claim_type,service_date,am\xffount\n",
            ["claims_2026-01-06.csv", "line 1", "not UTF-8"],
            id="non-utf8-header",
        ),
        pytest.param(
            CLAIMS_HEADER.encode()
            + b'C1,P1,12-3456789,medical,2026-01-02,"1\nC2,P1,x,medical,1/1/2026,2\n',
            ["claims_2026-01-06.csv", "Line: 2", "unterminated quote"],
            id="unbalanced-quote",
        ),
        pytest.param(
            CLAIMS_HEADER.encode() + b"C1,P1,12-3456789,medical,2026-01-02,1,extra\n",
            ["claims_2026-01-06.csv", "Line: 2", "Expected Number of Columns: 6 Found: 7"],
            id="extra-field",
        ),
        pytest.param(
            b"",
            ["claims_2026-01-06.csv", "line 1", "no header row"],
            id="empty-file",
        ),
    ],
)
def test_bad_file_fails_naming_file_and_nothing_half_loads(project, content, expected):
    (project.landing("claims") / "claims_2026-01-05.csv").write_text(CLAIMS_HEADER + GOOD_ROWS)
    bad = project.landing("claims") / "claims_2026-01-06.csv"
    bad.write_bytes(content)

    result = project.plan(check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    for fragment in expected:
        assert fragment.lower() in output.lower(), f"{fragment!r} not in output:\n{output[-3000:]}"
    assert _rows_anywhere(project, "claims_2026-01-06.csv") == 0

    # Fixing the file (a corrected re-delivery under the same name) loads everything, once.
    bad.write_text(CLAIMS_HEADER + "C3,P3,12-3456789,vision,2026-01-04,7.50\n")
    project.plan()
    assert _loaded_claim_files(project) == ["claims_2026-01-05.csv", "claims_2026-01-06.csv"]
    assert project.query(
        "SELECT source_file, raw_rows, staged_rows FROM marts.fct_load_accounting ORDER BY 1"
    ) == [("claims_2026-01-05.csv", 2, 2), ("claims_2026-01-06.csv", 1, 1)]


def test_header_variants_map_by_name(project):
    content = (
        "\ufeff  AMOUNT , Claim_ID,person_id,COMPANY_EIN,claim_type,service_date,note\r\n"
        '"$1,234.50",C9,P9,123456789,Pharmacy,1/4/2026,"a, b"\r\n'
        "\r\n"
        "7,C10,P9,12-3456789,medical,2026-01-04,x\r\n"
    )
    (project.landing("claims") / "claims_2026-01-05.csv").write_text(content, encoding="utf-8")
    project.plan()
    rows = project.query(
        "SELECT claim_id, company_ein, claim_type, amount::VARCHAR, service_date::VARCHAR, "
        "_row_number FROM staging.stg_claims ORDER BY _row_number"
    )
    assert rows == [
        ("C9", "12-3456789", "pharmacy", "1234.50", "2026-01-04", 1),
        ("C10", "12-3456789", "medical", "7.00", "2026-01-04", 2),
    ]
    assert project.query("SELECT extra_columns FROM staging.stg_delivery_files") == [("note",)]
