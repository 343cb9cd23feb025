"""Every dashboard page in headless Chromium against a running ``andon demo`` with auth on.

One demo process and one browser for the module: sign in through the login page, check that
what each page shows equals what the API answers, annotate a stop and see OEE move, watch a
live tick arrive, zoom the tag explorer, and fetch a shift report. Screenshots go to
``test-output/screenshots/``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from paho.mqtt import publish

from andon import mes
from andon.api.credentials import Credentials, Role
from andon.broker import free_port
from andon.historian import DuckDBHistorian

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LINE = "acme/plant1/machining/line1"
AMBIENT = "acme/plant1/utilities/ambient/station1"
USER, PASSWORD = "supervisor", "shift change 06:00"
CALENDAR = {
    "timezone": "UTC",
    "shifts": [
        {
            "name": "early",
            "start": "06:00",
            "hours": 8,
            "breaks": [{"start": "09:45", "minutes": 30}],
        },
        {
            "name": "late",
            "start": "14:00",
            "hours": 8,
            "breaks": [{"start": "17:45", "minutes": 30}],
        },
        {
            "name": "night",
            "start": "22:00",
            "hours": 8,
            "breaks": [{"start": "01:45", "minutes": 30}],
        },
    ],
}


@dataclass
class Demo:
    url: str
    key: str
    process: subprocess.Popen[str]
    mqtt_port: int

    def get(self, path: str, **params: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.key}"}
        response = httpx.get(f"{self.url}{path}", params=params, headers=headers, timeout=30)
        response.raise_for_status()
        return response.json()


def _prepare(db: Path) -> str:
    """Auth on (an admin key, an engineer who signs in) and the plant's shifts, before start."""
    historian = DuckDBHistorian(db)
    try:
        credentials = Credentials(historian)
        key, _ = credentials.create_key(Role.ADMIN, "e2e", actor="test")
        credentials.set_user(USER, PASSWORD, Role.ENGINEER, actor="test")
        mes.save_calendar(historian, mes.Calendar.from_mapping(CALENDAR), "test")
    finally:
        historian.close()
    return key


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    db = tmp_path_factory.mktemp("pages") / "demo.duckdb"
    key = _prepare(db)
    port, mqtt_port = free_port(), free_port()
    command = [sys.executable, "-m", "andon", "demo", "--duration", "300", "--backfill", "1"]
    command += ["--speed", "5", "--port", str(port), "--db", str(db), "--seed", "11"]
    command += ["--mqtt-port", str(mqtt_port)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    served = Demo(f"http://127.0.0.1:{port}", key, process, mqtt_port)
    try:
        _wait_until_serving(served)
        yield served
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def _wait_until_serving(demo: Demo) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if demo.process.poll() is not None:
            output = demo.process.stdout.read() if demo.process.stdout else ""
            raise AssertionError(f"demo exited early:\n{output}")
        try:
            if httpx.get(f"{demo.url}/api/v1/auth/me", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise AssertionError("the demo did not serve within 120 s")


@dataclass
class Browser:
    page: Any
    errors: list[str]
    external: list[str]


@pytest.fixture(scope="module")
def browser(demo: Demo) -> Iterator[Browser]:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is missing: .ci/run installs Debian's chromium package")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = chromium.new_page(viewport={"width": 1600, "height": 1000})
        seen = Browser(page, [], [])
        page.on("pageerror", lambda exc: seen.errors.append(str(exc)))
        page.on(
            "request", lambda r: None if r.url.startswith(demo.url) else seen.external.append(r.url)
        )
        page.set_default_timeout(30_000)
        yield seen
        chromium.close()
    assert seen.errors == []
    assert seen.external == []


def _signed_in(demo: Demo, browser: Browser) -> Any:
    """The browser's page with a session (each test may run alone)."""
    page = browser.page
    if not any(c["name"] == "andon_session" for c in page.context.cookies()):
        page.goto(f"{demo.url}/login")
        page.fill("#username", USER)
        page.fill("#password", PASSWORD)
        page.click("#password-form button[type=submit]")
        page.wait_for_selector(".tile[data-asset]")
    return page


def _percent(ratio: float | None) -> str:
    return "—" if ratio is None else f"{round(ratio * 100)}%"


def test_the_api_is_closed_and_the_page_asks_to_sign_in(demo: Demo, browser: Browser) -> None:
    assert httpx.get(f"{demo.url}/api/v1/overview").status_code == 401
    page = browser.page
    page.goto(demo.url)
    page.wait_for_url("**/login?next=*")
    page.fill("#username", USER)
    page.fill("#password", "not the password")
    page.click("#password-form button[type=submit]")
    page.wait_for_selector("#login-error:not([hidden])")
    page.fill("#password", PASSWORD)
    page.click("#password-form button[type=submit]")
    page.wait_for_selector(".tile[data-asset]")
    assert page.locator("#user").inner_text() == f"user:{USER} · engineer"


def test_overview_tiles_show_the_api_numbers(demo: Demo, browser: Browser) -> None:
    page = _signed_in(demo, browser)
    with page.expect_response(lambda r: "/api/v1/overview" in r.url and r.status == 200) as got:
        pass
    overview = got.value.json()
    page.wait_for_timeout(300)
    tiles = page.locator(".tile[data-asset]")
    assert tiles.count() == len(overview["machines"]) >= 7
    for machine in overview["machines"]:
        tile = page.locator(f'.tile[data-asset="{machine["asset"]}"]')
        assert tile.locator(".tile-oee-value").inner_text().strip() == _percent(
            machine["oee"]["oee"]
        )
    # The ambient station measures, it does not produce: a strip of readings, not a tile.
    (station,) = overview["stations"]
    assert station["asset"] == AMBIENT
    assert page.locator(f'.tile[data-asset="{AMBIENT}"]').count() == 0
    strip = page.locator(f'#stations .station[data-asset="{AMBIENT}"]')
    assert strip.is_visible()
    assert {r["tag"] for r in station["readings"]} == {"air_temp_c", "humidity_pct"}
    for reading in station["readings"]:
        # Each reading as the API stores it at the instant shown (a newer tick may have come).
        shown = strip.locator(f'.station-reading[data-tag="{reading["tag"]}"]')
        ts, text = shown.evaluate(  # one read: the time and the value of the same update
            "el => [Number(el.dataset.ts), el.querySelector('.station-value').textContent]"
        )
        window = {"tag": reading["tag_id"], "from": ts, "to": ts + 1}
        (stored,) = demo.get("/api/v1/series", **window)["points"]
        half = 0.05 + 1e-9  # shown with one decimal: 61.05 may show as 61.1
        assert float(text.split()[0].replace(",", "")) == pytest.approx(stored["value"], abs=half)
        assert text.endswith(reading["unit"])
    page.screenshot(path=str(SCREENSHOTS / "pages-overview.png"))


def test_live_ticks_arrive_over_one_stream(demo: Demo, browser: Browser) -> None:
    page = _signed_in(demo, browser)
    clock = page.locator("#clock").inner_text()
    ticks = int(page.evaluate("document.body.dataset.ticks || '0'"))
    page.wait_for_function(f"Number(document.body.dataset.ticks) > {ticks + 1}", timeout=15_000)
    page.wait_for_function(
        "(before) => document.querySelector('#clock').textContent !== before", arg=clock
    )
    assert page.locator("#status").get_attribute("data-state") == "ok"
    assert page.locator("#status-text").inner_text() == "live"


def _kpis_answer(page: Any, action: Any) -> dict[str, Any]:
    with page.expect_response(lambda r: "/api/v1/kpis" in r.url and r.status == 200) as got:
        action()
    answer: dict[str, Any] = got.value.json()
    return answer


def test_machine_view_equals_the_api_and_an_annotation_moves_oee(
    demo: Demo, browser: Browser
) -> None:
    page = _signed_in(demo, browser)
    kpis = _kpis_answer(page, lambda: page.goto(f"{demo.url}/machine?asset={LINE}&hours=8"))
    page.wait_for_function("document.body.dataset.oee !== undefined")
    total = kpis["total"]
    assert page.locator("#kpi-oee").inner_text() == _percent(total["oee"])
    assert page.locator("#kpi-availability").inner_text() == _percent(total["availability"])
    assert page.locator("#kpi-produced").inner_text() == f"{total['produced']:,}"
    request = next(r for r in _requests(page) if "/api/v1/kpis" in r)
    assert "by=hour" in request
    page.check("#show-micro")  # an hour of history may hold only short stops
    page.wait_for_selector("#events tr .annotate-button:not([disabled])")
    page.screenshot(path=str(SCREENSHOTS / "pages-machine.png"), full_page=True)
    row = page.locator("#events tr", has=page.locator(".annotate-button:not([disabled])")).first
    start = int(row.get_attribute("data-start") or 0)
    cell = row.get_attribute("data-asset")
    row.locator(".annotate-button").click()
    page.select_option("#annotate-reason", "planned_maintenance")
    page.fill("#annotate-note", "e2e: scheduled")
    with page.expect_response(lambda r: "/downtime/annotations" in r.url) as posted:
        page.click("#annotate-form button[type=submit]")
    assert posted.value.status == 201, posted.value.text()
    shown = _kpis_answer(page, lambda: None)["total"]  # the page refreshes after the write
    page.wait_for_function(
        "(v) => document.querySelector('#kpi-oee').textContent === v", arg=_percent(shown["oee"])
    )
    # The same window as before the annotation: the stop is now planned downtime, so the
    # planned busy time shrinks and OEE moves up.
    window = {"from": total["start_ms"], "to": total["end_ms"]}
    after = demo.get("/api/v1/kpis", asset=LINE, **window)["total"]
    assert after["planned_downtime_s"] > total["planned_downtime_s"]
    assert after["pbt_s"] < total["pbt_s"]
    assert after["oee"] > total["oee"]
    notes = demo.get("/api/v1/downtime/annotations", asset=cell, **{"from": start, "to": start + 1})
    assert cell is not None
    assert [(n["reason"], n["actor"]) for n in notes] == [("planned_maintenance", f"user:{USER}")]


def _requests(page: Any) -> list[str]:
    names: list[str] = page.evaluate("performance.getEntriesByType('resource').map(e => e.name)")
    return names


# What a drag on the chart does: plotly relayouts the x axis to local wall-time strings.
ZOOM = """([a, b]) => {
  const pad = (n) => String(n).padStart(2, "0");
  const wall = (ms) => {
    const d = new Date(ms);
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
      `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  };
  Plotly.relayout("explorer-chart", {"xaxis.range[0]": wall(a), "xaxis.range[1]": wall(b)});
}"""


def test_tag_explorer_asks_the_server_for_one_bucket_per_pixel(
    demo: Demo, browser: Browser
) -> None:
    page = _signed_in(demo, browser)
    tag = next(
        t for t in demo.get("/api/v1/tags", asset=f"{LINE}/cnc2") if t["name"] == "torque_nm"
    )
    with page.expect_response(lambda r: "/api/v1/series" in r.url and r.status == 200) as got:
        page.goto(f"{demo.url}/tags?tag={tag['id']}&hours=1")
    first = got.value.json()
    points = int(httpx.URL(got.value.url).params["points"])
    assert 100 <= points <= 4000
    assert 0 < len(first["points"]) <= points
    assert first["bucket_s"] > 0
    page.wait_for_function(
        f"document.querySelector('#explorer-chart').dataset.tag === '{tag['id']}'"
    )
    span = first["to"] - first["from"]
    zoom_from, zoom_to = first["from"] + span // 2, first["from"] + span // 2 + 300_000
    with page.expect_response(lambda r: "/api/v1/series" in r.url and r.status == 200) as zoomed:
        page.evaluate(ZOOM, [zoom_from, zoom_to])
    fine = zoomed.value.json()
    assert abs(fine["from"] - zoom_from) < 1000
    assert abs(fine["to"] - zoom_to) < 1000
    assert fine["bucket_s"] < first["bucket_s"]
    page.screenshot(path=str(SCREENSHOTS / "pages-tags.png"))


def test_quality_and_orders_pages(demo: Demo, browser: Browser) -> None:
    page = _signed_in(demo, browser)
    page.goto(f"{demo.url}/quality")
    page.wait_for_function("document.body.dataset.scrap !== undefined")
    shown = int(page.evaluate("document.body.dataset.scrap"))
    assert page.locator("#q-scrap").inner_text() == f"{shown:,}"
    assert int(page.locator("#quality-rows").get_attribute("data-count") or 0) > 0
    page.screenshot(path=str(SCREENSHOTS / "pages-quality.png"))
    with page.expect_response(
        lambda r: "/api/v1/forecast/next-shift" in r.url and r.status == 200
    ) as forecasted:
        page.goto(f"{demo.url}/orders")
    page.wait_for_selector("#import-orders:not([hidden])")
    with page.expect_response(lambda r: "/api/v1/orders/import" in r.url) as imported:
        page.click("#import-orders")
    assert imported.value.status == 200
    page.wait_for_function("Number(document.querySelector('#orders').dataset.count) > 0")
    orders = demo.get("/api/v1/orders")
    open_orders = [o for o in orders if o["status"] not in {"completed", "cancelled"}]
    assert page.locator("#orders tr").count() == len(open_orders)
    # The next-shift forecast: a row a line, showing the downtime the API forecast.
    forecast = forecasted.value.json()
    page.wait_for_function("Number(document.querySelector('#forecasts').dataset.count) > 0")
    row = page.locator(f"#forecasts tr[data-line='{forecast['line']}']")
    assert float(row.get_attribute("data-downtime") or "nan") == forecast["downtime"]["forecast"]
    assert forecast["shift"] in row.inner_text()
    page.screenshot(path=str(SCREENSHOTS / "pages-orders.png"))


def test_maintenance_shows_the_failure_risk_live_scoring_writes(
    demo: Demo, browser: Browser
) -> None:
    """A scorer writes ``ml_failure_risk`` back as a tag; here it arrives as one over MQTT."""
    cnc1 = f"{LINE}/cnc1"
    now = demo.get("/api/v1/health")["latest_ts"]
    payload = json.dumps({"ts": now, "values": {"ml_failure_risk": 0.42}})
    publish.single(
        f"andon/v1/{cnc1}/metrics", payload, qos=1, hostname="127.0.0.1", port=demo.mqtt_port
    )
    deadline = time.monotonic() + 15
    while demo.get(f"/api/v1/health/{cnc1}")["failure_risk"] is None:
        assert time.monotonic() < deadline, "the risk reading never reached the historian"
        time.sleep(0.3)
    page = _signed_in(demo, browser)
    page.goto(f"{demo.url}/maintenance")
    page.wait_for_function(
        "Number(document.body.dataset.scored) >= 1"
        " || !document.querySelector('#maint-error').hidden"
    )
    assert page.locator("#maint-error").is_hidden(), page.locator("#maint-error").inner_text()
    row = page.locator(f'#health-rows tr[data-asset="{cnc1}"]')
    assert "42%" in row.inner_text()
    row.click()  # its failure risk history
    page.wait_for_function(
        "document.querySelector('#risk-title').textContent.endsWith('cnc1')"
        " && Number(document.querySelector('#risk-chart').dataset.count) >= 1"
    )
    open_alerts = demo.get("/api/v1/alerts", open="true")
    assert page.locator("#alert-rows tr").count() == len(open_alerts)
    page.screenshot(path=str(SCREENSHOTS / "pages-maintenance.png"), full_page=True)


def test_shift_report_of_the_running_shift(demo: Demo) -> None:
    now = demo.get("/api/v1/health")["latest_ts"]
    windows = demo.get("/api/v1/shifts/windows", **{"from": now - 1, "to": now})
    shift = windows[-1]["label"]
    report = demo.get("/api/v1/reports/shift", asset=LINE, shift=shift, format="json")
    assert report["shift"] == shift
    assert report["total"]["produced"] > 0
    headers = {"Authorization": f"Bearer {demo.key}"}
    pdf = httpx.get(
        f"{demo.url}/api/v1/reports/shift",
        params={"asset": LINE, "shift": shift, "format": "pdf"},
        headers=headers,
        timeout=60,
    )
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF-")
    (SCREENSHOTS / "shift-report.pdf").write_bytes(pdf.content)
