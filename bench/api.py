"""API latency and throughput on months of data, against a bare FastAPI endpoint.

A plant of ``--machines`` machines (two lines) with ``--days`` of history is generated once
into a DuckDB file and reused: ``--tags`` tags per machine sampled at 1 Hz, ~700 state
changes per machine and day (runs, micro-stops, failures, changeovers), counts every 30 s.
Then, each in a process of its own:

- ``bare``: a FastAPI app with one trivial JSON route (the ceiling of FastAPI + uvicorn here);
- ``andon serve`` over the plant, with an API key (auth on, as a plant runs it).

An httpx client (``--clients`` threads, one connection each) sends ``--requests`` requests
per endpoint after a warm-up and reports p50/p99 latency and requests/s:
``/api/v1/kpis`` of a line for one shift and ``by=hour`` over a day, ``/api/v1/series``
of one tag over 30 days at 1,600 points (one per pixel), ``/api/v1/overview``.

    .venv/bin/python bench/api.py [--days 30] [--machines 10] [--tags 4] [--requests 300]
        [--clients 4] [--db /tmp/andon-bench/plant.duckdb]

Peak RSS is the server's. The last line is ``RESULT key=value ...``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import psutil

from andon.api.credentials import Credentials, Role
from andon.broker import free_port
from andon.historian import AssetInfo, DuckDBHistorian, WriteBatch
from andon.signals import CountUpdate, Metrics, StateChange

DAY_MS = 86_400_000
TAG_NAMES = ("spindle_temp_c", "torque_nm", "power_kw", "vibration_mm_s", "pressure_bar")
# (state code, mean seconds, weight): what a machine does between two changes.
STATES = (
    (10000, 90.0, 0.55),
    (50000, 40.0, 0.30),
    (180000, 600.0, 0.03),
    (70000, 120.0, 0.08),
    (100000, 900.0, 0.04),
)


def machines(count: int) -> list[str]:
    return [f"bench/site/area/line{i % 2 + 1}/m{i + 1:02d}" for i in range(count)]


def _states(asset: str, start: int, end: int, rng: np.random.Generator) -> list[StateChange]:
    codes = np.array([s[0] for s in STATES])
    means = np.array([s[1] for s in STATES])
    weights = np.array([s[2] for s in STATES])
    out, ts, last = [], start, -1
    while ts < end:
        pick = int(rng.choice(len(STATES), p=weights / weights.sum()))
        if codes[pick] == last:
            continue
        last = int(codes[pick])
        out.append(StateChange(asset, ts, last))
        ts += int(rng.exponential(means[pick]) * 1000) + 1000
    return out


def _counts(asset: str, start: int, end: int, rng: np.random.Generator) -> list[CountUpdate]:
    stamps = np.arange(start, end, 30_000)
    made = rng.poisson(0.7, len(stamps)).cumsum()
    scrap = (rng.random(len(stamps)) < 0.02).cumsum()
    return [
        CountUpdate(asset, int(t), int(m), int(m - min(s, m)), int(min(s, m)))
        for t, m, s in zip(stamps, made, scrap, strict=True)
    ]


def build_plant(db: Path, days: int, count: int, tags: int) -> tuple[int, int]:
    """Generate the plant into ``db`` unless it is there; returns its (start, end) ms."""
    end = (int(time.time() * 1000) // DAY_MS) * DAY_MS
    start = end - days * DAY_MS
    stamp = db.with_suffix(".done")
    if stamp.exists() and stamp.read_text() == f"{days} {count} {tags} {end}":
        return start, end
    db.parent.mkdir(parents=True, exist_ok=True)
    for leftover in (db, db.with_suffix(".duckdb.wal")):
        leftover.unlink(missing_ok=True)
    historian = DuckDBHistorian(db, memory_limit="2GB")
    rng = np.random.default_rng(8)
    names = TAG_NAMES[:tags]
    t0 = time.perf_counter()
    try:
        assets = machines(count)
        historian.upsert_assets([AssetInfo(a, 30.0) for a in assets])
        batch = WriteBatch.empty()
        for asset in assets:  # registers the tags and their latest values
            batch.metrics.append(Metrics(asset, end - 1000, {n: 1.0 for n in names}))
            batch.states += _states(asset, start, end, rng)
            batch.counts += _counts(asset, start, end, rng)
        historian.write(batch)
        for day in range(days):  # a day at a time: rows land in time order, as ingested
            first, last = day * 86_400, min((day + 1) * 86_400, days * 86_400 - 1)
            historian.sql(
                """
                INSERT INTO samples
                SELECT t.id, make_timestamp_ms(? + r.i * 1000),
                       50 + 10 * sin(r.i * 2 * pi() / 86400 + t.id) + random() * 2
                FROM range(?, ?) r(i) CROSS JOIN (SELECT id FROM tags) t
                """,
                [start, first, last],
            )
        historian.sql("CHECKPOINT")
        rows = historian.sql("SELECT count(*) FROM samples")[0][0]
        print(
            f"generated {rows:,} samples, {len(batch.states):,} state changes in "
            f"{time.perf_counter() - t0:.0f} s -> {db}"
        )
    finally:
        historian.close()
    stamp.write_text(f"{days} {count} {tags} {end}")
    return start, end


def api_key(db: Path) -> str:
    historian = DuckDBHistorian(db)
    try:
        return Credentials(historian).create_key(Role.VIEWER, "bench", actor="bench")[0]
    finally:
        historian.close()


BARE_APP = """
import sys, uvicorn
from fastapi import FastAPI
app = FastAPI()
@app.get("/bare")
def bare() -> dict[str, object]:
    return {"status": "ok", "values": [1, 2, 3]}
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def start(command: list[str], url: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return process
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit(f"server did not start: {process.stderr.read() if process.stderr else ''}")


def load(url: str, headers: dict[str, str], requests: int, clients: int) -> dict[str, float]:
    """p50/p99 ms and requests/s of ``requests`` GETs from ``clients`` threads."""
    latencies: list[float] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        with httpx.Client(headers=headers, timeout=60) as client:
            client.get(url).raise_for_status()  # warm-up (and the key's first check)
            mine = []
            for _ in range(n):
                t = time.perf_counter()
                client.get(url).raise_for_status()
                mine.append(time.perf_counter() - t)
            with lock:
                latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(requests // clients,)) for _ in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    ms = sorted(x * 1000 for x in latencies)
    return {
        "p50": statistics.median(ms),
        "p99": ms[min(len(ms) - 1, int(len(ms) * 0.99))],
        "rps": len(ms) / elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--machines", type=int, default=10)
    parser.add_argument("--tags", type=int, default=4)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument(
        "--db", type=Path, default=Path(tempfile.gettempdir()) / "andon-bench" / "plant.duckdb"
    )
    args = parser.parse_args()
    start_ms, end_ms = build_plant(args.db, args.days, args.machines, args.tags)
    key = api_key(args.db)
    results: dict[str, dict[str, float]] = {}

    bare_port = free_port()
    bare = start(
        [sys.executable, "-c", BARE_APP, str(bare_port)], f"http://127.0.0.1:{bare_port}/bare"
    )
    try:
        results["bare"] = load(
            f"http://127.0.0.1:{bare_port}/bare", {}, args.requests, args.clients
        )
    finally:
        bare.kill()
        bare.wait()

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start(
        [sys.executable, "-m", "andon", "serve", "--db", str(args.db), "--port", str(port)],
        f"{base}/api/v1/auth/me",
    )
    peak = [0.0]
    watcher = _watch_rss(server.pid, peak)
    try:
        results.update(_andon_endpoints(base, key, start_ms, end_ms, args))
    finally:
        watcher()
        server.terminate()
        server.wait(timeout=30)
    _report(results, args, peak[0])


def _andon_endpoints(
    base: str, key: str, start_ms: int, end_ms: int, args: argparse.Namespace
) -> dict[str, dict[str, float]]:
    headers = {"Authorization": f"Bearer {key}"}
    tag = httpx.get(f"{base}/api/v1/tags", headers=headers).json()[0]["id"]
    line = "bench/site/area/line1"
    shift = f"from={end_ms - 8 * 3_600_000}&to={end_ms}"
    day = f"from={end_ms - DAY_MS}&to={end_ms}"
    month = f"from={start_ms}&to={end_ms}"
    endpoints = {
        "kpis_shift": f"/api/v1/kpis?asset={line}&{shift}",
        "kpis_day_by_hour": f"/api/v1/kpis?asset={line}&{day}&by=hour",
        "series_30d": f"/api/v1/series?tag={tag}&{month}&points=1600",
        "overview": "/api/v1/overview",
    }
    out = {}
    for name, path in endpoints.items():
        requests = args.requests if name != "series_30d" else max(args.clients, args.requests // 5)
        out[name] = load(base + path, headers, requests, args.clients)
    return out


def _watch_rss(pid: int, peak: list[float]) -> Callable[[], None]:
    stop = threading.Event()

    def run() -> None:
        process = psutil.Process(pid)
        while not stop.wait(0.1):
            try:
                peak[0] = max(peak[0], process.memory_info().rss / 2**20)
            except psutil.Error:
                return

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return stop.set


def _report(results: dict[str, dict[str, float]], args: argparse.Namespace, rss: float) -> None:
    bare = results["bare"]
    print(f"\n{args.machines} machines x {args.days} days, {args.clients} clients, loopback")
    print(f"{'endpoint':<18} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8} {'vs bare':>8}")
    for name, r in results.items():
        ratio = bare["rps"] / r["rps"]
        print(f"{name:<18} {r['p50']:8.1f} {r['p99']:8.1f} {r['rps']:8.0f} {ratio:7.1f}x")
    print(f"andon serve peak RSS {rss:.0f} MB")
    fields = [f"days={args.days}", f"machines={args.machines}", f"clients={args.clients}"]
    for name, r in results.items():
        fields += [
            f"{name}_p50_ms={r['p50']:.1f}",
            f"{name}_p99_ms={r['p99']:.1f}",
            f"{name}_rps={r['rps']:.0f}",
        ]
    fields.append(f"serve_peak_rss_mb={rss:.0f}")
    print("RESULT " + " ".join(fields))


if __name__ == "__main__":
    main()
