"""Safe change (issue 7): retiring a model with virtual environments, on a copy of the project.

The walk starts from the project as it was before intermediate.int_company_daily_claim_cost_v2
existed (the legacy FULL int_company_daily_claim_cost read by marts.fct_claims_cost_spikes and
intermediate.int_companies), built in prod, and then goes through the four steps of DESIGN.md
("Retiring a model") with the real CLI, under a fixed faketime clock. The files the repository
no longer holds (the legacy model, the compatibility view, v2 before the audit moved) come from
tests/fixtures/deprecation/.

1. deprecate: the old model gets its marker (tag + description), v2 appears; the linter warns
   on both models that still read the old one, naming it, its replacement and removal date;
2. compatibility view (old model = VIEW over v2 carrying metric_anomaly, consumers on v2):
   `plan dev` shows the categories, `table_diff prod:dev` proves the view, the mart and
   dim_companies identical to prod row for row, `benefits-mesh plan-summary` reports it all,
   promotion recomputes nothing;
3. removal in dev (this repository's files: the view gone, metric_anomaly on v2): the plan
   refuses while something still references the old model, and once nothing does, it shows
   the removal and v2's metadata change only, and changes no mart;
4. promote the removal: the old name is gone, metric_anomaly runs on v2 with the view's result
   on the same data and fails when a company's day spikes; then roll back twice by restoring
   files (to the compatibility view and to the legacy table): pure virtual updates, no model
   batch runs, content identical.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from conftest import BIN, PROJECT, Project

from benefits_mesh.generate import generate

CLOCK = "2026-03-08 06:00:00"  # deliveries 2026-03-02 .. 2026-03-07 have all landed
OLD = "intermediate.int_company_daily_claim_cost"
NEW = "intermediate.int_company_daily_claim_cost_v2"
OLD_FILE = "models/intermediate/int_company_daily_claim_cost.sql"
NEW_FILE = "models/intermediate/int_company_daily_claim_cost_v2.sql"
CONSUMERS = ("models/marts/fct_claims_cost_spikes.sql", "models/intermediate/int_companies.sql")
REMOVAL_DATE = "2027-03-01"

#: The files the repository no longer holds, as they were at each step (tests/fixtures/deprecation)
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "deprecation"
LEGACY_MODEL = FIXTURES / "int_company_daily_claim_cost__legacy.sql"  # FULL, before v2 existed
COMPAT_VIEW = FIXTURES / "int_company_daily_claim_cost__compat_view.sql"  # grace period, audited
GRACE_V2 = FIXTURES / "int_company_daily_claim_cost_v2__grace.sql"  # v2 before the audit moved
DEPRECATION = (
    "  tags (deprecated),\n"
    f"  description 'DEPRECATED (replaced_by: {NEW}, removal_date: {REMOVAL_DATE}): old grain',\n"
)


@dataclass
class CopiedProject(Project):
    """A Project whose commands run against a copy of the SQLMesh project folder."""

    project: Path = PROJECT

    def command(self, *args: str) -> list[str]:
        return ["faketime", self.clock, str(BIN / "sqlmesh"), "-p", str(self.project), *args]

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """`benefits-mesh args` under the same clock and environment."""
        result = subprocess.run(
            ["faketime", self.clock, str(BIN / "benefits-mesh"), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"benefits-mesh {args} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def file(self, relative: str) -> Path:
        return self.project / relative

    def from_repository(self, *relatives: str) -> None:
        for relative in relatives:
            shutil.copyfile(PROJECT / relative, self.file(relative))

    def from_fixture(self, fixture: Path, relative: str) -> None:
        shutil.copyfile(fixture, self.file(relative))

    def grace_period(self) -> None:
        """The files of step 2: the compatibility view (with metric_anomaly), v2 without it, the
        consumers on v2 (they have not changed since)."""
        self.from_fixture(COMPAT_VIEW, OLD_FILE)
        self.from_fixture(GRACE_V2, NEW_FILE)
        self.from_repository(*CONSUMERS)

    def content(self, relation: str) -> list[tuple]:
        return sorted(self.query(f"SELECT * FROM {relation}"), key=repr)


def _flat(result: subprocess.CompletedProcess) -> str:
    """stdout + stderr with the console's line wrapping undone."""
    return " ".join((result.stdout + "\n" + result.stderr).split())


def _dev(model: str) -> str:
    """How plan output names a model of the dev environment: schema__dev.table."""
    schema, table = model.split(".")
    return f"{schema}__dev.{table}"


def _legacy(project: CopiedProject) -> None:
    project.from_fixture(LEGACY_MODEL, OLD_FILE)
    project.file(NEW_FILE).unlink(missing_ok=True)
    for relative in CONSUMERS:
        path = project.file(relative)
        path.write_text(path.read_text().replace(NEW, OLD))


def _relations(project: CopiedProject, schema: str) -> set[str]:
    rows = project.query(
        f"SELECT table_name FROM information_schema.tables WHERE table_schema = '{schema}'"
    )
    return {name for (name,) in rows}


def _assert_no_recompute(result: subprocess.CompletedProcess, what: str) -> None:
    text = _flat(result)
    batches = re.findall(r"Executing model batches .*? (\d+)/(\d+)", text)  # "... • 0/0 • ..."
    assert batches and all(total == "0" for _, total in batches), f"{what} computed:\n{text}"
    assert "Virtual layer updated" in text, text


def _assert_identical(result: subprocess.CompletedProcess, models: list[str]) -> None:
    """`table_diff prod:dev -m a -m b ...` lists every model under "Identical Tables" (joined on
    its grain, every row in both, every column equal)."""
    text = _flat(result)
    assert "Identical Tables" in text, text
    identical = text.split("Identical Tables", 1)[1]
    for model in models:
        schema, table = model.split(".")
        pair = f".{schema}.{table} - "
        assert pair in identical and f".{schema}__dev.{table}" in identical, (model, text)


def _metric_anomaly(project: CopiedProject, model: str) -> int:
    """`sqlmesh audit --model <model>`: the failing rows of its metric_anomaly (0 = passed)."""
    text = _flat(project.sqlmesh("audit", "--model", model, check=False))
    found = re.findall(
        rf"metric_anomaly on model \S*{re.escape(model)}\S* (?:✅ PASS|❌ FAIL \[(\d+)\])", text
    )
    assert len(found) == 1, f"metric_anomaly did not run once on {model}:\n{text}"
    return int(found[0] or 0)


#: On the last service day, the company whose daily total is nearest its trailing mean (the
#: audit's window), i.e. a company-day metric_anomaly does not flag: the one to spike.
QUIET_COMPANY_DAY = f"""
WITH daily AS (
  SELECT company_ein, service_date, SUM(claim_cost) AS claim_cost
  FROM {NEW} GROUP BY ALL
), judged AS (
  SELECT company_ein, service_date, claim_cost,
    AVG(claim_cost) OVER w AS mean, STDDEV_POP(claim_cost) OVER w AS sd
  FROM daily
  WINDOW w AS (PARTITION BY company_ein ORDER BY service_date
               ROWS BETWEEN 90 PRECEDING AND 1 PRECEDING)
)
SELECT company_ein, service_date FROM judged
WHERE service_date = (SELECT MAX(service_date) FROM daily) AND sd > 0
ORDER BY ABS(claim_cost - mean) / sd, company_ein
LIMIT 1
"""


@contextmanager
def _spiked(project: CopiedProject) -> Iterator[None]:
    """Add 1,000,000 to one claim type's cost of a quiet company-day in v2's physical table (the
    table prod's view reads), then put it back."""
    with duckdb.connect(str(project.warehouse)) as con:
        (schema, table), *others = con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables WHERE "
            f"starts_with(table_name, '{NEW.replace('.', '__')}__') AND table_type = 'BASE TABLE'"
        ).fetchall()
        assert not others, others
        company, day = con.execute(QUIET_COMPANY_DAY).fetchone()
        where = f"company_ein = '{company}' AND service_date = DATE '{day}'"
        (claim_type,) = con.execute(f"SELECT MIN(claim_type) FROM {NEW} WHERE {where}").fetchone()
        where += f" AND claim_type = '{claim_type}'"
        con.execute(
            f'UPDATE "{schema}"."{table}" SET claim_cost = claim_cost + 1000000 WHERE {where}'
        )
    try:
        yield
    finally:
        with duckdb.connect(str(project.warehouse)) as con:
            con.execute(
                f'UPDATE "{schema}"."{table}" SET claim_cost = claim_cost - 1000000 WHERE {where}'
            )


@pytest.fixture
def legacy_prod(tmp_path: Path, faketime: str) -> CopiedProject:
    """A copy of the project in its legacy layout, built in prod on a small generated root."""
    copy = tmp_path / "project"
    for name in ("models", "macros", "materializations", "signals", "seeds", "audits", "linter"):
        if (PROJECT / name).is_dir():
            shutil.copytree(PROJECT / name, copy / name)
    shutil.copyfile(PROJECT / "config.yaml", copy / "config.yaml")
    root = tmp_path / "root"
    generate(root, dt.date(2026, 3, 2), 6, 5, 100, 40, 3, 0.02, history_days=200, progress=False)
    project = CopiedProject(
        root=root,
        warehouse=tmp_path / "wh" / "warehouse.duckdb",
        start="2026-03-01",
        clock=CLOCK,
        extra_env={"COLUMNS": "250"},
        project=copy,
    )
    _legacy(project)
    project.plan()
    return project


def test_retiring_a_model_through_virtual_environments(legacy_prod: CopiedProject) -> None:
    project = legacy_prod
    spikes = project.content("marts.fct_claims_cost_spikes")
    daily = project.content(OLD)
    companies = project.content("marts.dim_companies")
    assert spikes and daily and companies, "the legacy build must give the diffs something to prove"

    # ---- step 1: mark the old model deprecated; the linter names every model still reading it
    legacy = project.file(OLD_FILE).read_text()
    project.file(OLD_FILE).write_text(
        legacy.replace(
            "  grain (company_ein, service_date),\n",
            "  grain (company_ein, service_date),\n" + DEPRECATION,
        )
    )
    project.from_fixture(GRACE_V2, NEW_FILE)
    lint = _flat(project.sqlmesh("lint"))
    for consumer in ("marts.fct_claims_cost_spikes", "intermediate.int_companies"):
        assert (
            f"{consumer} references deprecated model {OLD}, replaced by {NEW}, "
            f"removal date {REMOVAL_DATE}" in lint
        ), lint
    # printed, not applied (no prompt to answer): the marker is a metadata-only change
    dry = _flat(project.sqlmesh("plan", "dev", "--no-prompts", "--skip-tests", check=False))
    assert re.search(rf"Metadata Updated:\W+{re.escape(_dev(OLD))}\W", dry), dry
    assert not re.search(r"Directly Modified", dry), dry

    # ---- step 2: the compatibility view and the consumers on v2
    project.grace_period()
    planned = _flat(project.plan("dev"))  # the plan lints too: no model reads the old one now
    assert "nodeprecatedreferences" not in planned, planned
    assert re.search(rf"Added Models:\W+{re.escape(_dev(NEW))}\W", planned), planned
    for model in (OLD, "marts.fct_claims_cost_spikes", "intermediate.int_companies"):
        assert f"{_dev(model)}` (Breaking)" in planned, (model, planned)
    assert f"{_dev('marts.dim_companies')}` (Indirect Breaking)" in planned, planned
    diffed = [OLD, "marts.fct_claims_cost_spikes", "marts.dim_companies"]
    selection = [arg for model in diffed for arg in ("-m", model)]
    _assert_identical(project.sqlmesh("table_diff", "prod:dev", *selection), diffed)

    review = project.cli(
        "plan-summary", "--env", "dev", "--markdown", "--project", str(project.project)
    )
    text = review.stdout
    assert (
        "| `intermediate.int_company_daily_claim_cost` | directly modified | breaking | view |"
        in text
    )
    assert f"| `{NEW}` | added |" in text, text
    spikes_row = next(
        line for line in text.splitlines() if "`marts.fct_claims_cost_spikes`" in line
    )
    assert "directly modified | breaking | full" in spikes_row, spikes_row
    assert "dev: 2026-03-02..2026-03-07" in spikes_row and "promotion: virtual update" in spikes_row
    assert re.search(r"\d+ passed", spikes_row) and "FAILED" not in spikes_row, spikes_row
    assert (
        f"prod {len(spikes):,} / env {len(spikes):,} rows: {len(spikes):,} equal, 0 changed, "
        "0 prod only, 0 env only" in spikes_row
    ), spikes_row
    assert "WARNING: the project files differ" not in text, text
    # quiet: SQLMesh's table_diff logs each statement it runs as a warning; they go to the
    # command's log file in logs/, not to the terminal
    assert review.stderr.strip() == "", review.stderr

    promoted = project.plan()
    _assert_no_recompute(promoted, "promoting the compatibility view")
    assert project.content(OLD) == daily  # the view over v2 == the legacy table
    assert project.content("marts.fct_claims_cost_spikes") == spikes
    assert project.content("marts.dim_companies") == companies
    # the grace period's guard: metric_anomaly on the view (company x day)
    on_view = _metric_anomaly(project, OLD)

    # ---- step 3: remove the old model in dev; the plan refuses while a reference remains
    project.file(OLD_FILE).unlink()
    project.from_repository(NEW_FILE)  # this repository's v2: metric_anomaly moved onto it
    consumer = project.file(CONSUMERS[1])
    on_v2 = consumer.read_text()
    consumer.write_text(on_v2.replace(NEW, OLD))
    refused = project.sqlmesh("plan", "dev", "--no-prompts", "--skip-tests", check=False)
    refusal = _flat(refused)
    assert refused.returncode != 0, refusal
    assert re.search(r"Removed '[^']*int_company_daily_claim_cost\"?' are referenced in", refusal)
    assert "int_companies" in refusal and "Please remove broken references" in refusal, refusal
    consumer.write_text(on_v2)
    removal = _flat(project.plan("dev"))
    assert re.search(rf"Removed Models:\W+{re.escape(_dev(OLD))}\W", removal), removal
    # the audit moved: a metadata change of v2 (same table), nothing recomputed
    assert re.search(rf"Metadata Updated:\W+{re.escape(_dev(NEW))}\W", removal), removal
    assert "Directly Modified" not in removal and "Indirectly Modified" not in removal, removal
    unchanged = _flat(project.sqlmesh("table_diff", "prod:dev", "-m", "marts.*"))
    assert "No models contain differences" in unchanged, unchanged

    # ---- step 4: promote the removal; roll back by re-promoting earlier versions
    removed = project.plan()
    _assert_no_recompute(removed, "promoting the removal")
    assert "int_company_daily_claim_cost" not in _relations(project, "intermediate")
    assert project.content("marts.fct_claims_cost_spikes") == spikes
    # what a reader still on the old name gets
    with pytest.raises(duckdb.CatalogException, match=f"Did you mean .*{NEW.split('.')[1]}"):
        project.query(f"SELECT * FROM {OLD}")

    # the audit did not vanish with the view: it runs on v2, with the view's result on the same
    # data, and it fires when one company's day spikes (one more failing company-day)
    on_v2 = _metric_anomaly(project, NEW)
    assert on_v2 == on_view, (on_view, on_v2)
    with _spiked(project):
        assert _metric_anomaly(project, NEW) == on_v2 + 1
    assert _metric_anomaly(project, NEW) == on_v2

    project.grace_period()  # back to the grace period: the compatibility view
    _assert_no_recompute(project.plan(), "rolling back to the compatibility view")
    assert project.content(OLD) == daily

    _legacy(project)  # all the way back: the legacy FULL table, computed in step 0, reused
    _assert_no_recompute(project.plan(), "rolling back to the legacy table")
    assert project.content(OLD) == daily
    assert project.content("marts.fct_claims_cost_spikes") == spikes
    assert NEW.split(".")[1] not in _relations(project, "intermediate")


def test_date_ranges_merge_daily_intervals() -> None:
    from benefits_mesh.review import _subtract, date_ranges, format_ranges

    day = 86_400_000
    start = int(dt.datetime(2026, 3, 2, tzinfo=dt.UTC).timestamp() * 1000)
    intervals = [(start, start + 2 * day), (start + 2 * day, start + 3 * day)]
    intervals.append((start + 5 * day, start + 6 * day))
    ranges = date_ranges(intervals)
    assert format_ranges(ranges) == "2026-03-02..2026-03-04 (3 days), 2026-03-07"
    assert _subtract([(start, start + 6 * day)], intervals) == [(start + 3 * day, start + 5 * day)]
