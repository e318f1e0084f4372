"""Money to the cent (issue 18): the YAML unit tests whose point is a cent, compared exactly.

`sqlmesh test` reads DECIMAL columns into float64 and compares them with pandas' default
relative tolerance (rtol 1e-5, see sqlmesh/core/test/definition.py, ModelTest.assert_equal),
so 2,469,135.78 passes for 2,469,135.79 and 200.1562 for 200.1563. A test's `outputs.query` may
be a SQL `query:` instead of `rows:`, but that only produces the *expected* rows (cast to the
actual column types before the comparison): it cannot make the comparison exact.

Here the same YAML tests run through SQLMesh's own runner with the one difference that the
frames are compared exactly (`check_exact=True`). That equality is decimal equality: DuckDB
converts a DECIMAL to the nearest float64, YAML parses an expected literal to the nearest
float64, and two decimals of at most 15 significant digits have the same nearest float64 only
when they are equal; every float compared is checked to have at most 15 significant digits.

The runner is this file run as a script in a subprocess (SQLMesh loading the project sets up the
process: umask, logs, console; pytest's own process stays out of it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent

#: YAML files whose money (or percentage) values are checked to the last digit.
EXACT_FILES = (
    "tests/test_account_summary.yaml",
    "tests/test_stg_lending_accounts__classified.yaml",
    "tests/test_stg_claims__classified.yaml",
    "tests/test_fct_claims_cost_spikes.yaml",
    "tests/test_trace_cost_spikes.yaml",
)

#: One-digit errors the tolerant comparison lets through: (file, test, the expected row to
#: change (matched on these columns), column, wrong value). SQLMesh sorts both frames by every
#: column before comparing, so a wrong value must not change the row order (that alone fails).
MUTANTS = (
    (
        "tests/test_account_summary.yaml",
        "test_account_summary__half_cent_rounds_away_from_zero",
        {"account_id": "T6"},
        "annual_interest",
        2469135.78,  # half to even (right: .79)
    ),
    (
        "tests/test_account_summary.yaml",
        "test_account_summary__tier_boundaries_without_loan",
        {"account_id": "S3"},
        "new_balance",
        20300.00,  # one cent off (right: 20,299.99)
    ),
    (
        "tests/test_stg_claims__classified.yaml",
        "test_stg_claims__classified__amount_rounded_half_up",
        {"_row_number": 2},
        "amount",
        1234.58,  # one cent off (right: 1234.57; 1234.56 would also move the row in the sort)
    ),
    (
        "tests/test_fct_claims_cost_spikes.yaml",
        "test_fct_claims_cost_spikes__pct_change_rounded_half_away_from_zero",
        {"company_ein": "85-0000003"},
        "pct_change",
        200.1562,  # half to even (right: 200.1563)
    ),
    (
        "tests/test_trace_cost_spikes.yaml",
        "test_trace_cost_spikes__claims_of_both_windows_with_their_lines",
        {"claim_id": "C1"},
        "amount",
        4691357.90,  # one cent off (right: 4,691,357.91)
    ),
)


def _run_script(*args: str) -> dict:
    env = dict(os.environ, SQLMESH__DISABLE_ANONYMIZED_ANALYTICS="1")
    # loading the project needs no warehouse; keep any it might probe out of the project
    env.setdefault("BENEFITS_WAREHOUSE", str(Path("/tmp") / "benefits-mesh-exact" / "w.duckdb"))
    result = subprocess.run(
        [sys.executable, __file__, *args],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert result.returncode == 0 and lines, (
        f"exact runner failed ({result.returncode}):\n{result.stdout[-4000:]}\n"
        f"{result.stderr[-4000:]}"
    )
    return json.loads(lines[-1])


def test_yaml_money_is_checked_to_the_cent() -> None:
    """The money YAML tests pass exactly, and a one-cent (one-digit) error in each mutant passes
    the tolerant comparison of `sqlmesh test` but fails the exact one."""
    report = _run_script("--run")
    assert report["tests"] >= 20, report
    assert report["failures"] == [], "\n\n".join(report["failures"])
    for mutant in report["mutants"]:
        assert mutant["tolerant_passed"], f"{mutant['name']}: {mutant['tolerant_failures']}"
        assert not mutant["exact_passed"], f"{mutant['name']}: a one-digit error went unnoticed"
    assert len(report["mutants"]) == len(MUTANTS)


# ---------------------------------------------------------------------------------------------
# the runner (a separate process)


def _digits_checked(frame, side: str) -> None:
    """Every float compared has at most 15 significant digits (see the module docstring)."""
    for column in frame.columns:
        if frame[column].dtype.kind != "f":
            continue
        for value in frame[column]:
            if value == value and float(f"{value:.15g}") != value:
                raise AssertionError(
                    f"{side} {column}: {value!r} has more than 15 significant digits, "
                    "so float equality would not be decimal equality"
                )


def _main() -> int:
    import copy
    import io

    import pandas.testing
    from sqlmesh import Context
    from sqlmesh.core.test import ModelTestMetadata, run_tests

    tolerant = pandas.testing.assert_frame_equal
    exact = {"on": False}

    def compare(expected, actual, **kwargs):
        if exact["on"]:
            _digits_checked(expected, "expected")
            _digits_checked(actual, "actual")
            kwargs["check_exact"] = True
        return tolerant(expected, actual, **kwargs)

    # SQLMesh calls pandas.testing.assert_frame_equal(expected, actual, ...) at compare time
    pandas.testing.assert_frame_equal = compare
    context = Context(paths=str(PROJECT), load_state=False)

    def run(metadata: list) -> list[str]:
        result = run_tests(
            model_test_metadata=metadata,
            models=context.models,
            config=context.config,
            selected_gateway=context.selected_gateway,
            dialect=context.default_dialect,
            stream=io.StringIO(),
            default_catalog=context.default_catalog,
            default_catalog_dialect=context.config.dialect or "",
        )
        if not result.testsRun:
            return ["no test ran"]
        return [f"{test}: {message}" for test, message in result.failures + result.errors]

    selected = context.select_tests(tests=[str(PROJECT / name) for name in EXACT_FILES])
    originals = {(m.path.name, m.test_name): copy.deepcopy(m.body) for m in selected}
    exact["on"] = True
    failures = run(selected)

    mutants = []
    for file, test, match, column, wrong in MUTANTS:
        body = copy.deepcopy(originals[(Path(file).name, test)])
        rows = [
            row
            for row in body["outputs"]["query"]["rows"]
            if all(row.get(k) == v for k, v in match.items())
        ]
        assert len(rows) == 1 and column in rows[0], (file, test, match, column)
        rows[0][column] = wrong
        name = f"{test} with {column} = {wrong}"
        outcome = {"name": name}
        for mode in ("tolerant", "exact"):
            exact["on"] = mode == "exact"
            meta = ModelTestMetadata(path=PROJECT / file, test_name=test, body=copy.deepcopy(body))
            problems = run([meta])
            outcome[f"{mode}_passed"] = not problems
            outcome[f"{mode}_failures"] = problems
        mutants.append(outcome)
    print(json.dumps({"tests": len(selected), "failures": failures, "mutants": mutants}))
    return 0


if __name__ == "__main__":
    if sys.argv[1:] != ["--run"]:
        sys.exit(f"usage: {sys.argv[0]} --run")
    sys.exit(_main())
