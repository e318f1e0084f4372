"""`benefits-mesh bench` at a tiny scale: it runs end to end, loads the new day and reports.

No timing assertions: this only proves the benchmark works (issue 5); figures are in BENCHMARKS.md.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent
BENCH_LINE = re.compile(
    r"^BENCH run_vs_handwritten=(\S+) run_vs_rebuild=(\S+) peak_rss_mb=(\S+) noop_s=(\S+)$"
)


def test_bench_tiny(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            str(BIN / "benefits-mesh"),
            "bench",
            "--history-days=3",
            "--rows-per-day=2000",
            "--companies=10",
            "--employees=300",
            "--repeat=1",
            f"--work-dir={tmp_path}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    lines = result.stdout.strip().splitlines()
    match = BENCH_LINE.match(lines[-1])
    assert match, lines[-5:]
    run_vs_handwritten, run_vs_rebuild, peak_rss_mb, noop_s = map(float, match.groups())
    assert run_vs_handwritten > 0 and run_vs_rebuild > 0 and peak_rss_mb > 0 and noop_s > 0
    # the daily run was checked to load the new day's claims (else bench exits 1), and each table
    # row names its rows: the run row must show exactly one day of claims
    run_row = next(line for line in lines if line.startswith("sqlmesh run (new day)"))
    assert re.search(r"\s2,000\s", run_row), run_row
    assert "same results (sqlmesh vs handwritten): yes" in lines
    # the run's wall time split along SQLMesh's main thread, the models on its two workers
    split = next(line for line in lines if line.startswith("last run: "))
    parts = re.search(
        r"= before logging ([\d.]+), before the models ([\d.]+), models on 2 worker\(s\) "
        r"([\d.]+), after them ([\d.]+) s; the workers busy ([\d.]+) s",
        split,
    )
    assert parts, split
    wall = float(re.search(r"last run: ([\d.]+) s wall", split)[1])
    assert abs(sum(map(float, parts.groups()[:4])) - wall) < 0.3, split
    work = tmp_path / "h3_r2000"
    assert not (work / "root").exists() and not (work / "warehouse").exists(), "not cleaned up"
    assert (work / "logs" / "run_1.log").is_file()
