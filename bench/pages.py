"""Page load to first full render, in headless Chromium, on months of history.

The plant of ``bench/api.py`` (``--machines`` machines, ``--days`` of 1 Hz history, reused
when already generated) is served by ``andon serve`` with auth on; the browser signs in with
an API key once. Each page is loaded ``--runs`` times in a fresh tab of one browser profile
(the first load is cold, the others find plotly.js in the cache, as a wall screen does); the
time runs from navigation start until everything it draws is on screen:

- ``login``: a baseline, the sign-in page before signing in (andon's scripts and styles,
  one API call, no data);
- ``plotly_js``: a baseline, a blank page that only loads plotly.js (4.8 MB) from andon: the
  part of every chart page's load that no andon code can shorten;
- ``overview``: every tile filled and the selected machine's timeline and trend drawn;
- ``machine_7d``: a line's KPIs, OEE per hour, Gantt, losses and Pareto over 7 days;
- ``tags_30d``: one tag over 30 days, downsampled on the server to one bucket per pixel.

    .venv/bin/python bench/pages.py [--days 30] [--machines 10] [--runs 5]

Wall times stretch with the box's load (other processes compete for the CPU), so the CPU
time the server spends on the machine page's API calls is measured too, in-process after the
browser runs: ``machine_7d_api_cpu_ms`` for the calls the page makes (``/kpis`` by hour,
``/downtime`` with ``limit``, ``/states`` per machine), and as a baseline in the same run
``machine_7d_api_all_events_cpu_ms``, the same calls with every stop sent (what the page
asked for before ``limit``).

Target: under 1.5 s for each page. The last line is ``RESULT key=value ...``.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

from playwright.sync_api import Page, sync_playwright

from andon.broker import free_port

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
READY = {
    "login": "document.readyState === 'complete' && document.querySelector('#key-form') !== null",
    "plotly_js": "window.Plotly !== undefined",
    "overview": (
        "document.querySelectorAll('.tile[data-asset]').length >= {machines}"
        " && [...document.querySelectorAll('.tile-oee-value')].every(e => e.textContent !== '—')"
        " && Number(document.querySelector('#timeline').dataset.count) > 0"
        " && Number(document.querySelector('#trend').dataset.count) > 0"
    ),
    "machine_7d": (
        "document.body.dataset.oee !== undefined"
        " && Number(document.querySelector('#gantt').dataset.count) > 0"
        " && document.querySelector('#pareto').dataset.count !== undefined"
        " && Number(document.querySelector('#kpi-trend').dataset.count) > 0"
    ),
    "tags_30d": "Number(document.querySelector('#explorer-chart').dataset.count) > 0",
}


def _bench_api() -> ModuleType:
    """bench/api.py, for its plant generator and server helpers."""
    spec = importlib.util.spec_from_file_location("bench_api", Path(__file__).with_name("api.py"))
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _paths(tag: int) -> dict[str, str]:
    return {
        "login": "/login",
        "plotly_js": "/static/plotly.min.js",
        "overview": "/",
        "machine_7d": "/machine?asset=bench/site/area/line1&hours=168&by=hour",
        "tags_30d": f"/tags?tag={tag}&hours=720",
    }


def _measure(page: Page, url: str, ready: str) -> float:
    if url.endswith(".js"):  # a blank page of the same origin that loads only this script
        probe = url.rsplit("/static/", 1)[0] + "/bench-probe"
        html = f'<!doctype html><script src="{url}"></script>'
        page.route(probe, lambda route: route.fulfill(body=html, content_type="text/html"))
        url = probe
    page.goto(url)
    page.wait_for_function(ready, timeout=60_000)
    elapsed: float = page.evaluate("performance.now()")  # ms since navigation start
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--machines", type=int, default=10)
    parser.add_argument("--tags", type=int, default=4)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--db", type=Path, default=Path(tempfile.gettempdir()) / "andon-bench" / "plant.duckdb"
    )
    args = parser.parse_args()
    api = _bench_api()
    api.build_plant(args.db, args.days, args.machines, args.tags)
    key = api.api_key(args.db)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "andon", "serve", "--db", str(args.db), "--port", str(port)]
    server = api.start(command, f"{base}/api/v1/auth/me")
    try:
        times = _load_pages(base, key, args)
    finally:
        server.terminate()
        server.wait(timeout=30)
    cpu = _api_cpu(args.db, key, args.runs)
    _report(times, args, cpu)


def _api_cpu(db: Path, key: str, runs: int) -> dict[str, float]:
    """Median CPU ms (this process: server and test client) of the machine page's API calls."""
    from fastapi.testclient import TestClient

    from andon.api import create_app
    from andon.config import Settings
    from andon.historian import DuckDBHistorian

    historian = DuckDBHistorian(db)
    try:
        app = create_app(Settings(db=str(db)), historian=historian)
        client = TestClient(app, headers={"Authorization": f"Bearer {key}"})
        line = "bench/site/area/line1"
        now = (historian.latest_ts() or 0) + 1
        window: dict[str, str | int] = {"from": now - 168 * 3_600_000, "to": now}
        cells = [a.path for a in historian.assets() if a.path.startswith(line + "/")]
        states: list[tuple[str, dict[str, str | int]]] = [
            ("/api/v1/states", {"asset": c, "points": 1200}) for c in cells
        ]
        kpis: tuple[str, dict[str, str | int]] = ("/api/v1/kpis", {"asset": line, "by": "hour"})
        stops: dict[str, str | int] = {"asset": line, "micro": "true"}
        limits: list[tuple[str, dict[str, str | int]]] = [
            ("api", {"limit": 200}),
            ("api_all_events", {}),
        ]
        out = {}
        for name, limit in limits:
            calls = [kpis, ("/api/v1/downtime", {**stops, **limit}), *states]
            totals = []
            for _ in range(runs + 1):  # the first run warms up (and fills the OEE rollup)
                began = time.process_time()
                for path, params in calls:
                    client.get(path, params={**params, **window}).raise_for_status()
                totals.append((time.process_time() - began) * 1000)
            out[name] = statistics.median(totals[1:])
        return out
    finally:
        historian.close()


def _load_pages(base: str, key: str, args: argparse.Namespace) -> dict[str, list[float]]:
    import httpx

    headers = {"Authorization": f"Bearer {key}"}
    tag = httpx.get(f"{base}/api/v1/tags", headers=headers).json()[0]["id"]
    times: dict[str, list[float]] = {name: [] for name in READY}
    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as profile:
        # A persistent profile, as a wall screen's browser has: after the first load, plotly.js
        # comes from the HTTP cache with its compiled code (V8's code cache).
        signed_in = playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, args=ARGS, viewport={"width": 1600, "height": 1000}
        )
        for name, path in _paths(tag).items():
            ready = READY[name].format(machines=args.machines)
            if name == "overview":
                signed_in.request.post(f"{base}/api/v1/auth/login", data={"key": key})
            for _ in range(args.runs):
                page = signed_in.new_page()
                times[name].append(_measure(page, base + path, ready))
                page.close()
        signed_in.close()
    return times


def _report(times: dict[str, list[float]], args: argparse.Namespace, cpu: dict[str, float]) -> None:
    baseline = statistics.median(times["login"])
    print(f"\n{args.machines} machines x {args.days} days of 1 Hz history, {args.runs} loads each")
    print(f"{'page':<12} {'first ms':>9} {'median ms':>10} {'max ms':>8} {'vs login':>9}")
    fields = [f"days={args.days}", f"machines={args.machines}", f"runs={args.runs}"]
    for name, values in times.items():
        median = statistics.median(values)
        print(
            f"{name:<12} {values[0]:9.0f} {median:10.0f} {max(values):8.0f} "
            f"{median / baseline:8.1f}x"
        )
        fields += [f"{name}_first_ms={values[0]:.0f}", f"{name}_median_ms={median:.0f}"]
    print(
        f"machine_7d API calls: {cpu['api']:.0f} ms CPU in the server "
        f"(all stops sent: {cpu['api_all_events']:.0f} ms)"
    )
    fields += [f"machine_7d_{k}_cpu_ms={v:.0f}" for k, v in cpu.items()]
    under = all(statistics.median(v) < 1500 for v in times.values())
    print(f"target < 1500 ms (median): {'met' if under else 'NOT met'}")
    fields.append(f"target_met={int(under)}")
    print("RESULT " + " ".join(fields))


if __name__ == "__main__":
    main()
