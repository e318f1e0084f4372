"""`benefits-mesh` failures are one clear line (issue 17), through the real command."""

from __future__ import annotations

import subprocess

import pytest
from conftest import BIN


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["generate", "--out", "x", "--days", "abc"],
            "argument --days: expected a non-negative integer, got 'abc'",
        ),
        (
            ["generate", "--out", "x", "--dirt-rate", "lots"],
            "argument --dirt-rate: expected a rate between 0 and 1, got 'lots'",
        ),
    ],
)
def test_bad_arguments_name_the_argument_not_a_function(tmp_path, args, expected):
    done = subprocess.run(
        [str(BIN / "benefits-mesh"), *args], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 2
    assert expected in done.stderr
    assert "_positive" not in done.stderr and "_rate" not in done.stderr


def test_generate_prints_its_summary_one_figure_per_line(tmp_path):
    done = subprocess.run(
        [str(BIN / "benefits-mesh"), "generate", "--out", str(tmp_path / "root"), "--days", "2",
         "--companies", "2", "--employees", "10", "--claims-per-day", "5"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "{" not in done.stdout and "}" not in done.stdout, done.stdout
    lines = done.stdout.splitlines()
    assert "rows:" in lines
    claims = [line for line in lines if line.split() and line.split()[0] == "claims"]
    assert claims and all(line.startswith("  ") for line in claims)
