"""The SQLMesh YAML unit tests (tests/*.yaml), run by `sqlmesh test` inside the pytest run.

`make test` used to run `sqlmesh test` (about a minute) before pytest, one core idle; as a
pytest test it runs on one xdist worker beside the others (conftest.py schedules it first).
`make unit` still runs `sqlmesh test` on its own. The command is exactly `make unit`'s:
`sqlmesh -p <project> test`, from the project folder.
"""

from __future__ import annotations

import os
import re
import subprocess

from conftest import BIN, PROJECT


def test_sqlmesh_yaml_unit_tests_pass():
    yaml_tests = sorted(PROJECT.glob("tests/*.yaml"))
    assert yaml_tests, "no YAML unit test in tests/"
    result = subprocess.run(
        [str(BIN / "sqlmesh"), "-p", str(PROJECT), "test"],
        cwd=PROJECT,
        env={**os.environ, "SQLMESH__DISABLE_ANONYMIZED_ANALYTICS": "1"},
        capture_output=True,
        text=True,
        timeout=1200,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-8000:]
    # every YAML file's tests ran (not an empty selection): "Successfully Ran `N` Tests"
    ran = re.search(r"Successfully Ran `?(\d+)`? Tests?", output)
    assert ran and int(ran.group(1)) >= len(yaml_tests), output[-3000:]
