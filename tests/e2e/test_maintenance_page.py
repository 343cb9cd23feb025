"""The maintenance page in headless Chromium against a running ``andon demo`` with live scoring.

The demo's registry already holds the CNC machines' failure and remaining-life models (as a
previous start would have left them), so the demo attaches them at once: the page must show
each CNC machine's failure risk with its trend and its remaining life as the API gives them,
an operator acknowledges an open alert (stored, audited, and announced on the live stream),
and a viewer gets no button. Screenshots go to ``test-output/screenshots/``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from andon.api.credentials import Credentials, Role
from andon.broker import free_port
from andon.historian import DuckDBHistorian
from andon.ml import registry
from andon.ml.alerts import AlertBook, AlertPolicy
from andon.ml.maintenance import FailureClassifier, RulRegressor

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
LINE = "acme/plant1/machining/line1"
CNC = [f"{LINE}/cnc1", f"{LINE}/cnc2", f"{LINE}/cnc3"]
OPERATOR, VIEWER, PASSWORD = "tech", "guest", "bearing noise at 06:00"
OPENED_MS = (int(time.time()) - 600) * 1000
SEEDED = f"{LINE}/cnc2|anomaly|coolant_flow_l_min|{OPENED_MS}"
TAGS = ["air_temp_c", "process_temp_c", "spindle_speed_rpm", "torque_nm", "tool_wear_min",
        "power_kw"]  # fmt: skip


@dataclass
class Demo:
    url: str
    key: str
    process: subprocess.Popen[str]

    def get(self, path: str, **params: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.key}"}
        response = httpx.get(f"{self.url}{path}", params=params, headers=headers, timeout=30)
        response.raise_for_status()
        return response.json()


def _models(directory: Path) -> None:
    """Small real models on the CNC machines' own tag names, stored where the demo looks."""
    rng = np.random.default_rng(0)
    rows = pd.DataFrame({tag: rng.normal(0, 1, 2000) for tag in TAGS})
    rows["tool_wear_min"] = rng.uniform(0, 60, 2000)
    rows["torque_nm"] = rng.normal(40, 8, 2000)
    failing = (rows["tool_wear_min"] > 20).astype(int)  # worn tools fail: risk climbs with wear
    failure = FailureClassifier(n_estimators=20).fit(rows, failing)
    registry.save_model(directory / "demo-cnc-failure", failure, registry.ModelCard("failure"))
    lives = pd.concat(
        [rows.iloc[:60].assign(life=f"l{n}", tool_wear_min=np.arange(60.0)) for n in range(6)]
    )
    target = 60 - lives["tool_wear_min"]
    rul = RulRegressor(unit="life", time="tool_wear_min", model="linear").fit(lives, target)
    registry.save_model(directory / "demo-cnc-rul", rul, registry.ModelCard("rul"))


def _prepare(db: Path) -> str:
    historian = DuckDBHistorian(db)
    try:
        credentials = Credentials(historian)
        key, _ = credentials.create_key(Role.ADMIN, "e2e", actor="test")
        credentials.set_user(OPERATOR, PASSWORD, Role.OPERATOR, actor="test")
        credentials.set_user(VIEWER, PASSWORD, Role.VIEWER, actor="test")
        # An alert left open by a previous run (a sensor that has since gone quiet).
        policy = AlertPolicy(warning=0.9, critical=0.99, clear=0.5, confirm=1)
        AlertBook(historian).observe(
            CNC[1], "anomaly", "coolant_flow_l_min", OPENED_MS, 0.95, policy
        )
    finally:
        historian.close()
    _models(db.parent / "models")
    return key


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    db = tmp_path_factory.mktemp("maintenance") / "demo.duckdb"
    key = _prepare(db)
    port = free_port()
    command = [sys.executable, "-m", "andon", "demo", "--duration", "300", "--backfill", "0.5"]
    command += ["--speed", "5", "--port", str(port), "--db", str(db), "--seed", "5"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    served = Demo(f"http://127.0.0.1:{port}", key, process)
    try:
        _wait_until_scored(served)
        yield served
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def _wait_until_scored(demo: Demo) -> None:
    """Serving, and every CNC machine has a failure risk and a remaining life."""
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline:
        if demo.process.poll() is not None:
            output = demo.process.stdout.read() if demo.process.stdout else ""
            raise AssertionError(f"demo exited early:\n{output}")
        try:
            healths = [demo.get(f"/api/v1/health/{path}") for path in CNC]
            if all(h["failure_risk"] and h["rul"] for h in healths):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError("the CNC machines were not scored within 150 s")


@pytest.fixture(scope="module")
def chromium(demo: Demo) -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is missing: .ci/run installs Debian's chromium package")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


def _page(demo: Demo, chromium: Any, user: str, errors: list[str]) -> Any:
    """A fresh browser context signed in as ``user``, on the maintenance page."""
    page = chromium.new_context(viewport={"width": 1600, "height": 1100}).new_page()
    page.set_default_timeout(30_000)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("request", lambda r: None if r.url.startswith(demo.url) else errors.append(r.url))
    page.goto(f"{demo.url}/login?next=/maintenance")
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click("#password-form button[type=submit]")
    page.wait_for_url(lambda url: httpx.URL(url).path.endswith("/maintenance"))
    page.wait_for_function(
        "Number(document.body.dataset.scored) >= 3"
        " || !document.querySelector('#maint-error').hidden"
    )
    assert page.locator("#maint-error").is_hidden(), page.locator("#maint-error").inner_text()
    return page


def test_risk_trend_and_remaining_life_per_machine(demo: Demo, chromium: Any) -> None:
    errors: list[str] = []
    page = _page(demo, chromium, OPERATOR, errors)
    with page.expect_response(lambda r: f"/api/v1/health/{CNC[0]}" in r.url) as got:
        page.evaluate("document.querySelector('#maint-hours button').click()")  # a re-read
    shown = got.value.json()  # what the page was given in that refresh
    page.wait_for_timeout(500)
    assert (page.locator("#risk-title").text_content() or "").endswith(
        CNC[0]
    )  # the first one scored
    row = page.locator(f'#health-rows tr[data-asset="{CNC[0]}"]')
    risk = row.locator('td[data-role="risk"]').inner_text()
    assert risk == f"{round(shown['failure_risk']['value'] * 100)}%"
    assert row.locator('td[data-role="rul"]').inner_text() == f"{shown['rul']['value']:.0f}"
    trends = page.locator("#health-rows td[data-trend]")
    assert trends.count() == 3  # the CNC machines: the others have no failure model
    assert {trends.nth(i).get_attribute("data-trend") for i in range(3)} <= {
        "rising", "falling", "steady"
    }  # fmt: skip
    page.locator(f'#health-rows tr[data-asset="{CNC[2]}"]').click()  # its histories
    page.wait_for_function(
        "document.querySelector('#rul-title').textContent.endsWith('cnc3')"
        " && Number(document.querySelector('#risk-chart').dataset.count) >= 1"
        " && Number(document.querySelector('#rul-chart').dataset.count) >= 1"
    )
    models = {m["name"] for m in demo.get("/api/v1/ml/models")}
    assert {"demo-cnc-failure", "demo-cnc-rul"} <= models
    page.screenshot(path=str(SCREENSHOTS / "maintenance.png"), full_page=True)
    assert errors == []


def test_an_operator_acknowledges_an_alert_and_the_stream_says_so(
    demo: Demo, chromium: Any
) -> None:
    errors: list[str] = []
    page = _page(demo, chromium, OPERATOR, errors)
    open_alerts = demo.get("/api/v1/alerts", open="true")
    page.wait_for_function(
        "(n) => document.querySelectorAll('#alert-rows tr').length === n", arg=len(open_alerts)
    )
    row = page.locator(f'#alert-rows tr[data-alert="{SEEDED}"]')
    events_before = int(page.evaluate("Number(document.body.dataset.alertEvents ?? 0)"))
    with page.expect_response(
        lambda r: r.url.endswith("/ack") and r.request.method == "POST"
    ) as ack:
        row.get_by_role("button", name="Acknowledge").click()
    assert ack.value.status == 200, ack.value.text()
    page.wait_for_function(
        "(n) => Number(document.body.dataset.alertEvents ?? 0) > n"
        " && document.querySelector('#alert-feed').dataset.event === 'acknowledged'",
        arg=events_before,
    )  # the live stream's `alert` event, not the page's own answer
    assert f"by user:{OPERATOR}" in page.locator("#alert-feed").inner_text()
    page.wait_for_selector(f'#alert-rows tr[data-alert="{SEEDED}"] td[data-acked="true"]')
    assert f"user:{OPERATOR}" in row.inner_text()
    [stored] = [a for a in demo.get("/api/v1/alerts", open="true") if a["id"] == SEEDED]
    assert stored["acked_by"] == f"user:{OPERATOR}"
    audit = demo.get("/api/v1/audit", entity="alert")
    assert [(e["action"], e["key"]) for e in audit] == [("acknowledge", SEEDED)]
    page.screenshot(path=str(SCREENSHOTS / "maintenance-acknowledged.png"), full_page=True)
    assert errors == []


def test_a_viewer_sees_alerts_without_a_button(demo: Demo, chromium: Any) -> None:
    errors: list[str] = []
    page = _page(demo, chromium, VIEWER, errors)
    page.wait_for_selector("#alert-rows tr")
    assert page.locator("#alert-rows button").count() == 0
    assert errors == []
