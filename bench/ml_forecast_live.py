"""Live next-shift forecasts on steel_energy: LightGBM in the race against the profiles, or not.

The mill's ``Usage_kWh`` (15 min, Jan-Oct 2018) goes into a DuckDB historian in a temporary
directory through the historian API, as one machine with a ``kW`` tag (each quarter's kWh
times four, stamped at the quarter's start, so an hour's mean kW is its kWh). Downtime is
an approximation, since the data has no machine states: a quarter drawing under
``--idle-kwh`` (5 kWh, i.e. 20 kW; half the quarters, mostly nights and weekends) is an
unknown stop, any other quarter is running. :func:`andon.ml.forecast.next_shift` then
forecasts the next 8 h from many "now" points over the last months, each from the 28
days before it as the API does, twice: as served (LightGBM joins the race from two weeks
of history) and with the profiles only (``gbm=False``). Every call with LightGBM starts
from an empty cache of fits, so its wall time is that of an uncached API call.

Printed per quantity: the shift-total MAE of the served forecast, of the profiles only
and of the same hours yesterday (the naive baseline, from the data in this run), how
often each method was chosen and the coverage of the 80 % intervals.

    OMP_NUM_THREADS=1 .venv/bin/python bench/ml_forecast_live.py [--points 100] [--days 150]

The last line is ``RESULT key=value ...``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from andon.historian import DuckDBHistorian
from andon.historian.protocol import WriteBatch
from andon.mes.policy import DEFAULT_POLICY
from andon.ml.forecast import next_shift, regular_series
from andon.ml.forecast.live import Quantity
from andon.ml.forecast.shift_gbm import cache
from andon.signals import Sample, StateChange

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "steel_energy"
LINE = "steel/plant1/mill/line1"
MACHINE = f"{LINE}/mill1"
HOUR = 3_600_000
QUARTER = 900_000
SHIFT = 8


def load(path: Path, idle_kwh: float) -> tuple[int, np.ndarray, np.ndarray]:
    """(first quarter's start in ms, kWh per quarter, whether each quarter is a stop)."""
    frame = pd.read_csv(path, encoding="utf-8-sig")[["date", "Usage_kWh"]]
    series = regular_series(frame, "date", "Usage_kWh")
    start = (series.start - series.step).tz_localize("UTC")  # stamps end their quarter
    kwh = np.asarray(series.values, dtype=float)
    return int(start.timestamp() * 1000), kwh, kwh < idle_kwh


def historian(path: Path, t0: int, kwh: np.ndarray, stopped: np.ndarray) -> DuckDBHistorian:
    db = DuckDBHistorian(path, threads=1)
    db.define_tags([(MACHINE, "power", "kW")])
    stamps = t0 + QUARTER * np.arange(len(kwh))
    samples = [
        Sample(MACHINE, "power", int(t), float(4 * v)) for t, v in zip(stamps, kwh, strict=True)
    ]
    changes = np.flatnonzero(np.r_[True, stopped[1:] != stopped[:-1]])
    states = [StateChange(MACHINE, int(stamps[i]), 30000 if stopped[i] else 10000) for i in changes]
    for lo in range(0, len(samples), 10_000):
        db.write(WriteBatch([], samples[lo : lo + 10_000], [], [], []))
    db.write(WriteBatch([], [], states, [], []))
    return db


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--points", type=int, default=100, help="'now' points")
    parser.add_argument("--days", type=int, default=150, help="spread over the last days")
    parser.add_argument("--skip-days", type=int, default=0, help="end this long before")
    parser.add_argument("--idle-kwh", type=float, default=5.0, help="kWh/quarter of a stop")
    args = parser.parse_args()
    t0, kwh, stopped = load(args.data / "Steel_industry_data.csv", args.idle_kwh)
    hours = len(kwh) // 4
    truth = {
        "energy": kwh[: hours * 4].reshape(hours, 4).sum(axis=1),
        "downtime": 15.0 * stopped[: hours * 4].reshape(hours, 4).sum(axis=1),
    }
    print(
        f"steel_energy: {hours} hours from {pd.Timestamp(t0, unit='ms')}, downtime "
        f"{truth['downtime'].mean() / 60:.0%} of the time (quarters under {args.idle_kwh} kWh)"
    )
    last = hours - SHIFT - 1 - args.skip_days * 24
    nows = np.linspace(last - args.days * 24, last, args.points).astype(int)
    nows = t0 + nows * HOUR + 7 * 60_000  # a few minutes into an hour, as a page load
    with tempfile.TemporaryDirectory() as tmp:
        db = historian(Path(tmp) / "steel.duckdb", t0, kwh, stopped)
        rows, walls = run(db, nows, t0, truth)
        db.close()
    report(rows, walls)


def _call(db: DuckDBHistorian, now: int, gbm: bool) -> tuple[dict[str, Quantity], float]:
    started = time.perf_counter()
    result = next_shift(
        db,
        LINE,
        now,
        is_downtime=lambda code: DEFAULT_POLICY.classify(code) == "downtime",
        gbm=gbm,
    )
    assert result.energy is not None
    return {"energy": result.energy, "downtime": result.downtime}, time.perf_counter() - started


def run(
    db: DuckDBHistorian, nows: np.ndarray, t0: int, truth: dict[str, np.ndarray]
) -> tuple[list[dict[str, object]], dict[str, list[float]]]:
    _call(db, int(nows[0]), True)  # imports LightGBM, warms DuckDB
    rows: list[dict[str, object]] = []
    walls: dict[str, list[float]] = {"served": [], "profiles": []}
    for now in nows.tolist():
        cache.clear()
        served, wall = _call(db, now, True)
        walls["served"].append(wall)
        alone, wall = _call(db, now, False)
        walls["profiles"].append(wall)
        first = (served["energy"].hours[0].ts_ms - t0) // HOUR
        for name, series in truth.items():
            actual = float(series[first : first + SHIFT].sum())
            rows.append(
                {
                    "quantity": name,
                    "actual": actual,
                    "served": served[name].forecast,
                    "profiles": alone[name].forecast,
                    "naive": float(series[first - 24 : first - 24 + SHIFT].sum()),
                    "method": served[name].method,
                    "profile_method": alone[name].method,
                    "inside": served[name].lower <= actual <= served[name].upper,
                    "inside_profiles": alone[name].lower <= actual <= alone[name].upper,
                }
            )
    return rows, walls


def report(rows: list[dict[str, object]], walls: dict[str, list[float]]) -> None:
    frame = pd.DataFrame(rows)
    result: dict[str, str] = {}
    for name, group in frame.groupby("quantity", sort=False):
        actual = group["actual"].to_numpy(float)
        mae = {
            k: float(np.mean(np.abs(group[k].to_numpy(float) - actual)))
            for k in ("served", "profiles", "naive")
        }
        print(f"\n{name} ({len(group)} shifts of {SHIFT} h): shift-total MAE")
        print(f"  served (LightGBM in the race) {mae['served']:9.2f}")
        print(f"  profiles only                 {mae['profiles']:9.2f}")
        print(f"  same hours yesterday (naive)  {mae['naive']:9.2f}")
        print(f"  chosen: {dict(Counter(group['method']))}")
        print(f"  profiles only chose: {dict(Counter(group['profile_method']))}")
        print(
            f"  80 % interval coverage {group['inside'].mean():.1%} served, "
            f"{group['inside_profiles'].mean():.1%} profiles only"
        )
        gbm = float(group["method"].str.startswith("gradient").mean())
        result |= {
            f"{name}_mae": f"{mae['served']:.2f}",
            f"{name}_profiles_mae": f"{mae['profiles']:.2f}",
            f"{name}_naive_mae": f"{mae['naive']:.2f}",
            f"{name}_gbm_chosen": f"{gbm:.2f}",
        }
    served, alone = np.mean(walls["served"]), np.mean(walls["profiles"])
    print(
        f"\nwall per call: {served:.3f} s uncached with LightGBM (max "
        f"{np.max(walls['served']):.3f} s), {alone:.3f} s profiles only; load "
        f"{os.getloadavg()[0]:.2f}"
    )
    result |= {"wall_s": f"{served:.3f}", "wall_profiles_s": f"{alone:.3f}"}
    print("RESULT " + " ".join(f"{k}={v}" for k, v in result.items()))


if __name__ == "__main__":
    main()
