"""The UI beside the schedule (issue 17), end to end, as a person uses it.

One small generated warehouse, one real `make ui` (SQLMesh's web UI through `benefits-mesh ui`),
one headless Chromium (Debian's /usr/bin/chromium, driven by Playwright; no browser download):

1. the model list shows every mart (models/marts), a mart's page draws its lineage back to the
   staging models, and the plan page computes a plan without an error;
2. with the UI up, a new day lands; `sqlmesh run` one day later (faketime) succeeds beside the
   UI at rest (it has served pages, then gives the warehouse back), `make run` beside a page
   that stays open; the UI still answers afterwards and a query typed into its editor shows the
   new day.

Everything is asserted on what the page shows (text, roles, the lineage nodes' names); the UI's
API only tells which nodes a lineage must show. Screenshots go to .cache/ui-screenshots/ (git
ignored); `ui-lineage.png` there is the picture kept as docs/img/ui-lineage.png.

One test on purpose: the steps share one server and one browser and run in order, and
pytest-xdist (`make pytest` runs `-n 2`) would otherwise split them over two workers.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import duckdb
import pytest
from conftest import PROJECT, Project, clean_stale_faketime_files
from playwright.sync_api import Page, expect, sync_playwright

from benefits_mesh.generate import generate

CHROMIUM = Path("/usr/bin/chromium")
#: the machine's network is closed: Chromium's own background connections would only fail
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 800}
#: 1280x800 pages drawn at 1.5x: the lineage nodes' names stay legible in a screenshot
SCALE = 1.5
SCREENSHOTS = PROJECT / ".cache" / "ui-screenshots"
MARTS = sorted(path.stem for path in (PROJECT / "models" / "marts").glob("*.sql"))

START = dt.date(2026, 3, 2)
DAYS = 6
#: the first plan, the morning after the last generated day
PLAN_CLOCK = f"{START + dt.timedelta(days=DAYS):%Y-%m-%d} 06:00:00"
#: the run one day later, after the next day has landed
NEW_DAY = START + dt.timedelta(days=DAYS)
RUN_CLOCK = f"{NEW_DAY + dt.timedelta(days=1):%Y-%m-%d} 06:00:00"

#: the UI's first start may install the `ui` extra (`make ui`); later starts take seconds
UI_START_TIMEOUT = 600
#: a page's wait for what it shows (the UI reloads its models whenever a project file changes)
PAGE_TIMEOUT_MS = 90_000


# --------------------------------------------------------------------------------------------
# fixtures: a browser, a warehouse, `make ui`


@pytest.fixture(scope="module")
def chromium() -> Path:
    """Debian's Chromium, installed with apt-get when missing (as root)."""
    if not CHROMIUM.exists():
        if os.geteuid() != 0 or shutil.which("apt-get") is None:
            pytest.fail(
                f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)",
                pytrace=False,
            )
        apt_env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, capture_output=True, env=apt_env)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "chromium"],
            check=True,
            capture_output=True,
            env=apt_env,
        )
    assert CHROMIUM.exists(), f"{CHROMIUM} not found after apt-get install chromium"
    return CHROMIUM


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory, faketime) -> Project:
    """Six clean days of a small generated feed, planned the morning after the last one."""
    folder = tmp_path_factory.mktemp("ui")
    generate(
        out_dir=folder / "root",
        start=START,
        days=DAYS,
        companies=3,
        employees=60,
        claims_per_day=40,
        seed=17,
        dirt_rate=0.0,
        history_days=20,
        progress=False,
    )
    project = Project(
        root=folder / "root",
        warehouse=folder / "wh" / "warehouse.duckdb",
        start=(START - dt.timedelta(days=1)).isoformat(),
        clock=PLAN_CLOCK,
    )
    project.plan()
    return project


def _make_env(project: Project) -> dict[str, str]:
    """The project's variables for a nested `make` (none of an outer make's jobserver flags)."""
    env = project.env
    for name in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL"):
        env.pop(name, None)
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str, timeout: float = 5) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (loopback)
        return response.read().decode()


def _tail(path: Path, chars: int = 4000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else ""


@pytest.fixture(scope="module")
def ui(warehouse: Project):
    """`make ui UI_PORT=<free port>` on the warehouse (the real clock); its process group is
    stopped at the end. Yields (base url, process, server log)."""
    port = _free_port()
    log = warehouse.root.parent / "ui-server.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            ["make", "-C", str(PROJECT), "ui", f"UI_PORT={port}"],
            cwd=warehouse.root.parent,
            env=_make_env(warehouse),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + UI_START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"make ui ended ({process.returncode}):\n{_tail(log)}", pytrace=False)
            try:
                if _get(f"{url}/health", timeout=2).strip('"\n') == "ok":
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"no /health after {UI_START_TIMEOUT} s:\n{_tail(log)}", pytrace=False)
            time.sleep(0.5)
        yield url, process, log
    finally:
        _stop(process)


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM to the process group `make ui` leads (make and the server), SIGKILL if needed."""
    for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture(scope="module")
def browser(chromium: Path, ui):
    """One headless Chromium for the module (closed before the server stops)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


class ApiWatch:
    """Every answer of the UI's API that the pages got, to find failed requests among them:
    a server error, or the UI's own error answer (422: SQLMesh's ApiException, e.g. "Unable to
    create a loaded context" when the warehouse stayed busy)."""

    def __init__(self, page: Page):
        self.errors: list[str] = []
        self.plans = 0
        page.on("response", self._response)

    def _response(self, response) -> None:
        if "/api/" not in response.url:
            return
        if response.url.endswith("/api/plan") and response.ok:
            self.plans += 1
        if response.status >= 500 or response.status == 422:
            try:
                body = response.text()[:600]
            except Exception as error:  # noqa: BLE001 (the body may be gone already)
                body = repr(error)
            self.errors.append(
                f"{response.status} {response.request.method} {response.url}: {body}"
            )


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport=VIEWPORT, device_scale_factor=SCALE)
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def api(page) -> ApiWatch:
    return ApiWatch(page)


expect.set_options(timeout=PAGE_TIMEOUT_MS)


# --------------------------------------------------------------------------------------------
# what a person does in the UI


def _shot(page: Page, name: str) -> Path:
    """A screenshot once the page has stopped loading (an artifact, not an assertion)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    expect(_busy(page)).to_have_count(0)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=path)
    return path


def _no_errors(page: Page, url: str, when: str) -> None:
    """The header counts no error; else the UI's error list is the failure's message."""
    try:
        expect(page.get_by_text("No Errors", exact=True)).to_be_visible(timeout=15_000)
    except AssertionError:
        page.goto(f"{url}/errors")
        page.wait_for_timeout(2000)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / f"errors-{when.replace(' ', '-')}.png")
        pytest.fail(f"the UI shows errors {when}:\n{page.locator('body').inner_text()[-3000:]}")


def _model_list_shows_every_mart(page: Page, url: str, name: str) -> None:
    page.goto(f"{url}/data-catalog")
    expect(page.get_by_text("marts", exact=True)).to_be_visible()  # the list's schema group
    for mart in MARTS:
        expect(page.get_by_text(mart, exact=True), f"{mart} in the model list").to_be_visible()
    _shot(page, name)


def _lineage(url: str, model: str) -> set[str]:
    """``model`` and every model upstream of it, named as the lineage draws them (schema.name),
    from the UI's own lineage API: which nodes the page must show."""
    graph = json.loads(_get(f"{url}/api/lineage/{model}", timeout=60))
    fqns = set(graph) | {parent for parents in graph.values() for parent in parents}
    # '"warehouse"."marts"."fct_plan_gaps"' -> 'marts.fct_plan_gaps'
    return {".".join(part.strip('"') for part in fqn.split(".")[-2:]) for fqn in fqns}


def _lineage_reaches_staging(page: Page, url: str, model: str, name: str) -> set[str]:
    """Open the mart from the model list; its lineage graph shows the mart and every model
    upstream of it, staging ones included. Returns the names drawn."""
    page.goto(f"{url}/data-catalog")
    page.get_by_text(model.split(".", 1)[1], exact=True).click()
    expect(page).to_have_url(re.compile(rf"/data-catalog/models/{re.escape(model)}$"))
    nodes = page.locator(".react-flow__node")
    expect(nodes.get_by_text(model, exact=True)).to_be_visible()
    page.locator(".react-flow__controls-fitview").click()  # the whole graph in the pane
    expected = _lineage(url, model)
    assert model in expected and any(n.startswith("staging.stg_") for n in expected), expected
    for node in sorted(expected):
        expect(nodes.get_by_text(node, exact=True), f"lineage node {node}").to_be_visible()
    expect(nodes).to_have_count(len(expected))
    _shot(page, name)
    return expected


def _plan_page_renders(page: Page, api: ApiWatch, url: str) -> None:
    """The plan module for prod: it computes a plan (never applied here) without an error."""
    plans = api.plans
    page.goto(f"{url}/plan")
    expect(page).to_have_url(re.compile(r"/plan/environments/prod$"))
    expect(page.get_by_text("Prod Environment")).to_be_visible()
    expect(page.get_by_text("Start Date (UTC)")).to_be_visible()
    # a computed plan offers to apply it; the header counts no error
    expect(page.get_by_role("button", name=re.compile(r"^Apply"))).to_be_visible()
    expect(page.get_by_text(re.compile(r"^Failed"))).to_have_count(0)
    _no_errors(page, url, "on the plan page")
    assert api.plans > plans, "the plan page did not get a plan from /api/plan"
    _shot(page, "03-plan")


def _query(page: Page, url: str, sql: str, tag: str, name: str) -> dict[str, str]:
    """Type ``sql`` into the editor's Custom SQL tab, run it (Ctrl+Enter, as its Run Query
    button does) and read the one result row shown, by column header. Typed again when a
    reload of the page took the keystrokes (see _busy)."""
    text = f"SELECT '{tag}' AS query_tag, {sql}"
    table = page.locator("table").filter(has=page.get_by_text(tag, exact=True))
    for _ in range(3):
        page.goto(f"{url}/editor")
        editor = page.locator(".cm-content").first
        expect(editor).to_be_visible()
        expect(_busy(page)).to_have_count(0)
        editor.click()
        page.keyboard.press("Control+A")
        page.keyboard.type(text)
        if editor.inner_text().strip() != text:
            continue
        page.keyboard.press("Control+Enter")
        try:
            expect(table.locator("tbody tr")).to_have_count(1, timeout=30_000)
            break
        except AssertionError:
            continue
    expect(table.locator("tbody tr"), f"the result of {text}").to_have_count(1)
    headers = [text.strip() for text in table.locator("thead th").all_inner_texts()]
    cells = [text.strip() for text in table.locator("tbody tr td").all_inner_texts()]
    _shot(page, name)
    return dict(zip(headers, cells, strict=True))


LOADED = (
    "COUNT(*) AS loaded_files, CAST(MAX(delivery_date) AS VARCHAR) AS last_delivery "
    "FROM marts.fct_load_accounting"
)


def _released(warehouse: Path, timeout: float = 60) -> float:
    """Seconds until no process holds the warehouse (the UI answers what is in flight, then
    closes it); fails when the UI keeps it."""
    started = time.monotonic()
    while True:
        try:
            duckdb.connect(str(warehouse), read_only=True).close()
            return time.monotonic() - started
        except duckdb.IOException as error:
            if time.monotonic() - started > timeout:
                pytest.fail(f"the UI at rest still holds the warehouse after {timeout} s: {error}")
            time.sleep(0.2)


def _busy(page: Page):
    """What the page shows while it (re)loads: the UI reloads its models and recomputes the
    header's plan summary whenever a file of the project changes (logs/ included)."""
    return page.get_by_text(re.compile(r"^(Loading|Getting|Checking|Applying|Running)"))


def _docs_lineage(browser, url: str, model: str, attempts: int = 6) -> Path:
    """The picture for the docs: the mart's page with the model list dragged aside and the
    lineage pane over the code, the whole graph fitted in. A reload of the page in between
    undoes the arrangement, so it is redone until a screenshot is taken on a page that stayed
    still. In a fresh context: the page remembers dragged panes."""
    context = browser.new_context(viewport=VIEWPORT, device_scale_factor=SCALE)
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    try:
        page = context.new_page()
        for attempt in range(1, attempts + 1):
            page.goto(f"{url}/data-catalog/models/{model}")
            nodes = page.locator(".react-flow__node")
            expect(nodes.get_by_text(model, exact=True)).to_be_visible()
            expect(_busy(page)).to_have_count(0)
            _drag(page, page.locator(".gutter-horizontal").bounding_box(), to_x=56)
            separators = page.get_by_role("separator", name="Resize")
            boxes = [separators.nth(i).bounding_box() for i in range(separators.count())]
            _drag(page, next(b for b in boxes if b and b["width"] > b["height"]), to_y=135)
            page.locator(".react-flow__controls-fitview").click()
            page.wait_for_timeout(600)  # the fit's animation
            path = _shot(page, "ui-lineage")
            pane = page.locator(".react-flow").bounding_box()
            still = _busy(page).count() == 0 and page.get_by_text("No Errors").count() == 1
            if still and pane and pane["height"] > VIEWPORT["height"] * 0.6:
                return path
            print(f"docs lineage: the page reloaded under attempt {attempt}, again")
        return path
    finally:
        context.close()


def _drag(page: Page, box: dict | None, to_x: float | None = None, to_y: float | None = None):
    assert box, "nothing to drag"
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(to_x if to_x is not None else x, to_y if to_y is not None else y, steps=8)
    page.mouse.up()


# --------------------------------------------------------------------------------------------
# the test


def test_ui_shows_the_project_and_stays_up_beside_runs(warehouse, ui, browser, page, api):
    url, server, log = ui
    assert MARTS, "no mart in models/marts"

    # 1. what the UI shows: every mart, a mart's lineage back to staging, the plan page
    _model_list_shows_every_mart(page, url, "01-model-list")
    _lineage_reaches_staging(page, url, "marts.fct_claims_cost_spikes", "02-lineage")
    _plan_page_renders(page, api, url)
    before = _query(page, url, LOADED, "before the run", "04-query-before")
    assert before["last_delivery"] == f"{NEW_DAY - dt.timedelta(days=1)}", before

    # 2. a new day lands, and the schedule goes on beside the UI
    warehouse.clock = RUN_CLOCK
    delivered = warehouse.cli("deliver", "--quiet")
    assert delivered.returncode == 0, delivered.stderr
    new_files = delivered.stdout.split()
    assert new_files and all(f"_{NEW_DAY}.csv" in path for path in new_files), delivered.stdout

    # 2a. plain `sqlmesh run` beside the UI at rest (the browser left its pages): the UI gives
    #     the lock back once its requests are answered (a UI that kept it would make the run
    #     wait BENEFITS_LOCK_WAIT and fail).
    page.goto("about:blank")
    released = _released(warehouse.warehouse)
    started = time.monotonic()
    ran = warehouse.sqlmesh("run")
    run_seconds = time.monotonic() - started
    assert "Run finished for environment 'prod'" in ran.stdout, ran.stdout[-2000:]

    # 2b. `make run` (plan, `benefits-mesh run`, summary) beside an open page: the editor, which
    #     the UI refreshes (models, plan summary) whenever a project file changes, logs included
    page.goto(f"{url}/editor")
    expect(page.locator(".cm-content").first).to_be_visible()
    clean_stale_faketime_files()
    started = time.monotonic()
    made = subprocess.run(
        ["faketime", RUN_CLOCK, "make", "-C", str(PROJECT), "run"],
        cwd=warehouse.root.parent,
        env=_make_env(warehouse),
        capture_output=True,
        text=True,
        timeout=600,
    )
    make_seconds = time.monotonic() - started
    output = made.stdout + made.stderr
    assert made.returncode == 0, f"make run failed ({made.returncode}):\n{output[-4000:]}"
    assert "rows per mart:" in made.stdout, made.stdout[-2000:]
    waits = [line for line in made.stderr.splitlines() if line.startswith("waiting for warehouse")]
    print(
        f"\nUI at rest: lock free after {released:.1f} s, sqlmesh run {run_seconds:.1f} s; "
        f"make run {make_seconds:.1f} s beside an open page, waited for the UI: {len(waits)}x"
    )

    # 3. the UI still answers, and shows the new day
    assert server.poll() is None, f"the UI ended during the runs:\n{_tail(log)}"
    page.reload()
    _model_list_shows_every_mart(page, url, "05-model-list-after-run")
    _lineage_reaches_staging(page, url, "marts.fct_claims_cost_spikes", "06-lineage-after-run")
    after = _query(page, url, LOADED, "after the run", "07-query-after")
    assert after["last_delivery"] == f"{NEW_DAY}", after
    assert int(after["loaded_files"]) == int(before["loaded_files"]) + len(new_files), (
        before,
        after,
        new_files,
    )
    _no_errors(page, url, "after the runs")
    assert not api.errors, f"the UI's API failed: {api.errors}\n{_tail(log)}"

    # the docs' picture (docs/img/ui-lineage.png is a copy of one such run)
    _docs_lineage(browser, url, "marts.fct_plan_gaps")
