"""``andon demo`` end to end, as a user runs it: a real process, broker, browser."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from andon.broker import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
LINE = "acme/plant1/machining/line1"


@dataclass
class Demo:
    url: str
    db: Path
    process: subprocess.Popen[str]
    started_ms: int


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    db = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    port = free_port()
    started_ms = int(time.time()) * 1000
    command = [
        sys.executable,
        "-m",
        "andon",
        "demo",
        "--duration",
        "120",
        "--backfill",
        "0.5",
        "--speed",
        "5",
        "--port",
        str(port),
        "--db",
        str(db),
        "--seed",
        "7",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(url, process)
        yield Demo(url, db, process, started_ms)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def _wait_until_serving(url: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"demo exited early:\n{process.stdout.read() if process.stdout else ''}"
            )
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise AssertionError("the demo did not serve its API within 90 s")


def test_backfilled_history_gives_oee_and_series(demo: Demo) -> None:
    window = {"from": demo.started_ms - 20 * 60_000, "to": demo.started_ms - 5 * 60_000}
    oee = httpx.get(f"{demo.url}/api/v1/oee", params={"asset": LINE, **window}).json()
    assert oee["machines"] == 3
    assert oee["pot_s"] == 3 * 15 * 60
    assert oee["no_data_s"] == 0  # the backfill covered the window
    assert oee["pbt_s"] == oee["pot_s"] - oee["planned_downtime_s"]
    if oee["apt_s"] > 0:  # the window may fall in a planned break: then nothing is defined
        for key in ("availability", "performance", "quality", "oee"):
            assert oee[key] is not None, key
            assert 0 < oee[key] <= 1.5, (key, oee)
    else:
        assert oee["time_by_state"].get("break", 0) > 0, oee
    tags = httpx.get(f"{demo.url}/api/v1/tags", params={"asset": f"{LINE}/cnc1"}).json()
    torque = next(t for t in tags if t["name"] == "torque_nm")
    series = httpx.get(
        f"{demo.url}/api/v1/series", params={"tag": torque["id"], "bucket": 60, **window}
    ).json()
    assert len(series["points"]) == 15
    assert sum(p["count"] for p in series["points"]) == 15 * 60  # 1 Hz, nothing lost


def test_live_data_keeps_arriving_over_mqtt(demo: Demo) -> None:
    first = httpx.get(f"{demo.url}/api/v1/health").json()
    time.sleep(3)
    second = httpx.get(f"{demo.url}/api/v1/health").json()
    assert second["latest_ts"] > first["latest_ts"]
    assert second["ingest"]["rejected"] == 0


def test_dashboard_shows_the_api_numbers_in_a_real_browser(demo: Demo) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is missing: .ci/run installs Debian's chromium package")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        external: list[str] = []
        page.on("request", lambda r: None if r.url.startswith(demo.url) else external.append(r.url))
        page.goto(demo.url)
        page.wait_for_selector(".tile[data-asset]")
        with page.expect_response(lambda r: "/api/v1/overview" in r.url) as answer:
            pass
        overview = answer.value.json()
        page.wait_for_timeout(300)  # the page renders what it just received
        for machine in overview["machines"]:
            tile = page.locator(f'.tile[data-asset="{machine["asset"]}"]')
            shown = tile.locator(".tile-oee-value").inner_text().strip()
            expected = machine["oee"]["oee"]
            assert shown == ("—" if expected is None else f"{round(expected * 100)}%")
        assert page.locator(".tile").count() == len(overview["machines"]) >= 7
        cnc2 = f"{LINE}/cnc2"
        tag_ids = [
            str(t["id"])
            for t in httpx.get(f"{demo.url}/api/v1/tags", params={"asset": cnc2}).json()
        ]
        page.locator(f'.tile[data-asset="{cnc2}"]').click()
        page.wait_for_function(
            "([ids, asset]) => { const t = document.querySelector('#trend').dataset;"
            " const l = document.querySelector('#timeline').dataset;"
            " return ids.includes(t.tag) && Number(t.count) > 0"
            " && l.asset === asset && Number(l.count) > 0; }",
            arg=[tag_ids, cnc2],
        )
        page.screenshot(path=str(SCREENSHOTS / "dashboard.png"), full_page=True)
        browser.close()
    assert errors == []
    assert external == []


def test_ctrl_c_shuts_down_cleanly_and_the_cli_agrees_with_the_api(demo: Demo) -> None:
    window = {"from": demo.started_ms - 25 * 60_000, "to": demo.started_ms - 2 * 60_000}
    api = httpx.get(f"{demo.url}/api/v1/oee", params={"asset": LINE, **window}).json()
    demo.process.send_signal(signal.SIGINT)
    output, _ = demo.process.communicate(timeout=60)
    assert demo.process.returncode == 0, output
    assert "stopped:" in output
    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "andon",
            "oee",
            "--db",
            str(demo.db),
            "--asset",
            LINE,
            "--from",
            str(window["from"]),
            "--to",
            str(window["to"]),
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert json.loads(cli.stdout) == api
