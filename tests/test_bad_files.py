"""Delivery files read from a project run in another directory, and header variants mapped by name.

The bad-file matrix (a file that fails the run naming file and line, nothing half-loaded, every
table unchanged, the corrected re-delivery loaded once) is in test_bad_input.py.
"""

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


def test_good_file_loads_from_another_directory(project):
    (project.landing("claims") / "claims_2026-01-05.csv").write_text(CLAIMS_HEADER + GOOD_ROWS)
    project.plan()
    assert project.warehouse.exists()
    assert project.query("SELECT claim_id, amount FROM staging.stg_claims ORDER BY 1") == [
        ("C1", pytest.approx(10)),
        ("C2", pytest.approx(5)),
    ]


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
