"""OEE speed: one machine over 30 days of 1 Hz data, and a 100-machine plant over one day.

Builds a DuckDB historian in a temporary directory through the normal write path, then times
andon's OEE (``mes.oee_for_asset`` and ``mes.oee_by``) against a baseline measured in the
same run: the minimum a raw OEE needs to read, the machine's state timeline from the
historian (``state_timeline``) plus one aggregate over its count readings. Whole closed hours
of counts come from the hourly rollup (``mes.hourly``), materialised by the first call (timed
apart: ``cold``); the same OEE with the rollup off (every reading read through the Arrow
door, ``raw``) and through the generic protocol reader (``fast=False``, the reference) are
shown too, and all three must be equal.

- machine: 30 days; a metric and the count totals at 1 Hz (2.6 M readings each), about
  20,000 state changes with stops, micro-stops, unknown stops followed by a reason, breaks,
  and a counter reset; target < 100 ms.
- plant: 100 machines, one day; totals every 10 s, about 300 state changes per machine;
  target < 300 ms.

    .venv/bin/python bench/oee.py [--days 30] [--machines 100] [--repeat 5]

The last line is ``RESULT key=value ...``.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from andon import mes
from andon.historian import AssetInfo, DuckDBHistorian, WriteBatch
from andon.signals import CountUpdate, Metrics, StateChange

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
DAY = 86_400_000
CODES = np.array([30000, 50000, 60000, 180000, 150000, 100000, 40000])
CHUNK = 250_000


def _states(
    rng: np.random.Generator, asset: str, start: int, end: int, n: int
) -> list[StateChange]:
    """``n`` changes alternating running and a stop of random kind and length."""
    stamps = np.sort(rng.integers(start, end, n))
    out = []
    for i, ts in enumerate(stamps.tolist()):
        code = 10000 if i % 2 == 0 else int(rng.choice(CODES))
        out.append(StateChange(asset, ts, code, None if code != 180000 else "spindle"))
    return out


def _counts(
    asset: str, start: int, end: int, step_ms: int, parts_per_step: float, reset_at: int | None
) -> list[CountUpdate]:
    stamps = np.arange(start, end, step_ms, dtype=np.int64)
    total = np.floor(np.arange(len(stamps)) * parts_per_step).astype(np.int64)
    if reset_at is not None:
        total[stamps >= reset_at] -= total[np.searchsorted(stamps, reset_at)]
    scrap = total // 50
    return [
        CountUpdate(asset, int(t), int(a), int(a - s), int(s))
        for t, a, s in zip(stamps.tolist(), total.tolist(), scrap.tolist(), strict=True)
    ]


def _write(
    db: DuckDBHistorian,
    states: list[StateChange],
    counts: list[CountUpdate],
    metrics: list[Metrics],
) -> None:
    db.write(WriteBatch([], [], states, [], []))
    for i in range(0, max(len(counts), len(metrics)), CHUNK):
        db.write(WriteBatch(metrics[i : i + CHUNK], [], [], counts[i : i + CHUNK], []))


def build_machine(db: DuckDBHistorian, days: int) -> str:
    asset = "acme/p1/mach/l1/cnc1"
    end = T0 + days * DAY
    rng = np.random.default_rng(1)
    states = _states(rng, asset, T0, end, 20_000)
    counts = _counts(asset, T0, end, 1000, 1 / 13.0, reset_at=T0 + days * DAY // 2)
    stamps = range(T0, end, 1000)
    metrics = [Metrics(asset, ts, {"spindle_temp_c": 60.0 + (ts // 1000) % 17}) for ts in stamps]
    _write(db, states, counts, metrics)
    db.upsert_assets([AssetInfo(asset, 8.0)])
    return asset


def build_plant(db: DuckDBHistorian, machines: int) -> str:
    rng = np.random.default_rng(2)
    infos, states, counts = [], [], []
    for m in range(machines):
        asset = f"acme/p2/area{m // 25}/line{m // 5}/m{m}"
        cycle_s = float(5 + m % 20)
        infos.append(AssetInfo(asset, cycle_s))
        states += _states(rng, asset, T0 - 3_600_000, T0 + DAY, 300)
        counts += _counts(asset, T0 - 60_000, T0 + DAY, 10_000, 5.8 / cycle_s, None)
    _write(db, states, counts, [])
    db.upsert_assets(infos)
    return "acme/p2"


def timed(action: Callable[[], object], repeat: int) -> tuple[float, float, float]:
    """(median wall, best wall, median CPU) time in ms of ``repeat`` runs after a warm-up
    (``repeat`` 0: the warm-up run alone, timed).

    CPU time (this process, all its threads) is shown beside wall time because the machine
    may be shared: other processes stretch wall time, not our CPU time.
    """
    if repeat > 0:
        action()
    wall, cpu = [], []
    for _ in range(max(repeat, 1)):
        began, began_cpu = time.perf_counter(), time.process_time()
        action()
        wall.append((time.perf_counter() - began) * 1000)
        cpu.append((time.process_time() - began_cpu) * 1000)
    return statistics.median(wall), min(wall), statistics.median(cpu)


def baseline(db: DuckDBHistorian, cells: list[str], start: int, end: int) -> None:
    """What any OEE must read: each state timeline, and one aggregate over the counts."""
    for cell in cells:
        db.state_timeline(cell, start, end)
    db.sql(
        "SELECT asset, count(*), max(total) FROM counts WHERE ts >= make_timestamp_ms(?) "
        "AND ts < make_timestamp_ms(?) GROUP BY asset",
        [start, end],
    )


def cold(path: Path, asset: str, start: int, end: int) -> tuple[float, float]:
    """(wall, CPU) ms of the first OEE on a database without the rollup (materialises it)."""
    db = DuckDBHistorian(path)
    try:
        db.sql("DROP TABLE IF EXISTS mes_count_hours")
    finally:
        db.close()
    db = DuckDBHistorian(path)  # a fresh historian: no cached table check
    try:
        began, began_cpu = time.perf_counter(), time.process_time()
        mes.oee_for_asset(db, asset, start, end)
        return (time.perf_counter() - began) * 1000, (time.process_time() - began_cpu) * 1000
    finally:
        db.close()


def rollup_off(action: Callable[[], object]) -> Callable[[], object]:
    """``action`` with every hour too recent for the rollup: all readings read raw."""

    def run() -> object:
        grace = mes.hourly.GRACE_MS
        mes.hourly.GRACE_MS = 1 << 62
        try:
            return action()
        finally:
            mes.hourly.GRACE_MS = grace

    return run


def measure(path: Path, asset: str, span: tuple[int, int], repeat: int) -> dict[str, float]:
    start, end = span
    first = cold(path, asset, start, end)
    db = DuckDBHistorian(path)
    cells = [c.path for c in mes.cells_of(db.assets(), asset)]
    base = timed(lambda: baseline(db, cells, start, end), repeat)
    rolled = timed(lambda: mes.oee_for_asset(db, asset, start, end), repeat)
    raw = timed(rollup_off(lambda: mes.oee_for_asset(db, asset, start, end)), repeat)
    generic = timed(lambda: mes.oee_for_asset(db, asset, start, end, fast=False), 0)
    by_day = timed(lambda: mes.oee_by(db, asset, start, end, "day"), repeat)
    whole = mes.oee_for_asset(db, asset, start, end)
    assert whole == rollup_off(lambda: mes.oee_for_asset(db, asset, start, end))()
    assert whole == mes.oee_for_asset(db, asset, start, end, fast=False)
    db.close()
    print(
        f"  {asset}: {len(cells)} cells, OEE {whole.oee:.3f}, A {whole.availability:.3f}, "
        f"P {whole.performance:.3f}, Q {whole.quality:.4f}, stops {whole.stops}, "
        f"micro-stops {whole.micro_stops}, {whole.produced:,} parts"
    )
    return {
        "ms": rolled[0],
        "best_ms": rolled[1],
        "cpu_ms": rolled[2],
        "cold_ms": first[0],
        "cold_cpu_ms": first[1],
        "raw_ms": raw[0],
        "raw_cpu_ms": raw[2],
        "baseline_cpu_ms": base[2],
        "generic_ms": generic[0],
        "baseline_ms": base[0],
        "by_day_ms": by_day[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--machines", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="build into this file once and reuse it")
    args = parser.parse_args()
    machine, plant = "acme/p1/mach/l1/cnc1", "acme/p2"
    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "bench.duckdb"
        began = time.perf_counter()
        if not path.exists():
            built = DuckDBHistorian(path)
            build_machine(built, args.days)
            build_plant(built, args.machines)
            built.close()
        db = DuckDBHistorian(path)
        rows = db.sql(
            "SELECT (SELECT count(*) FROM samples), (SELECT count(*) FROM counts), "
            "(SELECT count(*) FROM states)"
        )[0]
        db.close()
        print(
            f"built in {time.perf_counter() - began:.0f} s: {rows[0]:,} samples, "
            f"{rows[1]:,} count readings, {rows[2]:,} state changes"
        )
        one = measure(path, machine, (T0, T0 + args.days * DAY), args.repeat)
        many = measure(path, plant, (T0, T0 + DAY), args.repeat)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for name, r, target in (("machine, 30 days", one, 100), ("plant, 1 day", many, 300)):
        print(
            f"{name}: OEE {r['ms']:.0f} ms median with the hourly rollup (best "
            f"{r['best_ms']:.0f}, CPU {r['cpu_ms']:.0f}; target < {target}); first call "
            f"materialising the rollup {r['cold_ms']:.0f} ms (CPU {r['cold_cpu_ms']:.0f}); "
            f"rollup off {r['raw_ms']:.0f} ms (CPU {r['raw_cpu_ms']:.0f}); baseline raw reads "
            f"{r['baseline_ms']:.0f} ms (CPU {r['baseline_cpu_ms']:.0f}); generic reader "
            f"{r['generic_ms']:.0f} ms; by day {r['by_day_ms']:.0f} ms"
        )
    print(f"peak RSS {rss_mb:.0f} MB")
    print(
        " ".join(
            ["RESULT"]
            + [
                f"{who}_{key}={r[key]:.1f}"
                for who, r in (("machine", one), ("plant", many))
                for key in (
                    "ms",
                    "cpu_ms",
                    "cold_ms",
                    "cold_cpu_ms",
                    "raw_ms",
                    "raw_cpu_ms",
                    "baseline_ms",
                    "baseline_cpu_ms",
                    "generic_ms",
                    "by_day_ms",
                )
            ]
            + [f"peak_rss_mb={rss_mb:.0f}"]
        )
    )


if __name__ == "__main__":
    main()
