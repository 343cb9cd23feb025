"""Steel energy forecasts: andon's ``forecast`` task day-ahead, week-ahead and 15 minutes ahead.

Protocol (BENCHMARKS.md section 4): ``Usage_kWh`` of ``steel_energy`` (15 min, Jan-Oct 2018)
from its own history and the calendar only (same-interval reactive power and CO2 would be
leakage). ``ForecastTask.train`` backtests on the last quarter from rolling origins (a day
apart at midnight for day- and week-ahead forecasts; every step for 15 minutes ahead,
which is the chronological 75/25 split) after learning from the history before it and
calibrating on the two weeks before the first origin; then it refits on everything.
Each run prints every model (LightGBM, MSTL, their mean; MSTL and the mean on a subset of
origins, beside the naive forecasts on the same subset) and the seasonal naive forecasts
(same time yesterday ``y[t-96]``, same time last week ``y[t-672]``); the 15-minute run
adds persistence ``y[t-1]``. All baselines are measured in this run. Every run uses the
task's defaults (the 15-minute one leaves MSTL out for time): below a day ahead the
calibration window chooses by RMSE and LightGBM averages an L2 and an L1 model, from a day
on by MAE with the L1 loss; the chosen LightGBM is then refit on everything before the
first origin. The test quarter plays no part in any of it.

``--validation`` runs the same protocol on the first three quarters only (the test quarter
is not even read): its own last quarter, June to mid-August, is where the defaults were
chosen (refit on or off, the losses), once each, before the test quarter was run.

    .venv/bin/python bench/ml_forecast.py [--data DIR] [--horizons 96,1,672] [--validation]

Targets (issue 7): day-ahead MAE at least 35 % below the seasonal naive; 15-minute RMSE
below 9.0 kWh (published lag-feature HGB 9.28, persistence 12.93). The last line is
``RESULT key=value ...``.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path
from typing import Any

import pandas as pd

from andon.ml.forecast import ForecastTask, point_metrics, regular_series
from andon.ml.tasks import TrainOptions

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "steel_energy"


def _line(name: str, metrics: dict[str, Any]) -> str:
    mae, rmse, points = metrics["mae"], metrics["rmse"], metrics["points"]
    return f"  {name:28s} MAE {mae:7.3f}  RMSE {rmse:7.3f}  ({points:,} points)"


def run(frame: pd.DataFrame, horizon: int, params: dict[str, Any]) -> dict[str, Any]:
    started, cpu = time.perf_counter(), time.process_time()
    options = TrainOptions(time="date", target="Usage_kWh", horizon=horizon, params=params)
    trained = ForecastTask().train(frame, options)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    metrics, split = trained.card.metrics, trained.card.split
    print(
        f"\nhorizon {horizon} steps: {split['origins']} origins {split['first_origin']} .. "
        f"{split['last_origin']}, every {split['origin_stride_steps']} steps"
    )
    for name, value in metrics["models"].items():
        print(_line(name, value))
    for name in ("naive_day", "naive_week"):
        print(_line(name, metrics["baseline"][name]))
    if "stat_subset" in metrics:
        subset = metrics["stat_subset"]
        print(f"  on the {subset['origins']} MSTL origins:")
        for name in ("gbm", "naive_day", "naive_week"):
            print("  " + _line(name, subset[name]))
    cv = metrics["cv"]
    print(f"  calibration window chose by {trained.card.params['metric']}")
    print(
        f"  chosen {cv['model']}: MAE {cv['mae']:.3f}, RMSE {cv['rmse']:.3f}, "
        f"{cv['mae_vs_naive_day']:.1%} below naive day, {cv['mae_vs_naive_week']:.1%} below "
        f"naive week; {cv['interval_level']:.0%} interval coverage {cv['interval_coverage']:.1%}"
        f" (mean width {cv['interval_mean_width']:.1f})"
    )
    print(f"  by horizon (MAE): {metrics['by_horizon']}")
    print(f"  train (backtest + refit) {wall:.0f} s wall, {cpu:.0f} s CPU")
    return {"card": trained.card, "wall": wall, "cpu": cpu, "cv": cv}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--horizons", default="96,1,672", help="runs: 96, 1 and/or 672 steps")
    parser.add_argument(
        "--validation", action="store_true", help="the first three quarters only (tuning)"
    )
    args = parser.parse_args()
    frame = pd.read_csv(args.data / "Steel_industry_data.csv", encoding="utf-8-sig")
    if args.validation:
        frame = frame.iloc[: round(len(frame) * 0.75)]
        print("validation: the first three quarters only; the test quarter is not read")
    series = regular_series(frame, "date", "Usage_kWh")
    print(f"{len(series.values):,} points {series.start} .. {series.end}, step {series.step}")

    horizons = {int(h) for h in args.horizons.split(",")}
    result: dict[str, Any] = {}
    if 96 in horizons:
        result.update(_day(frame))
    if 1 in horizons:
        result.update(_quarter(frame, series.values))
    if 672 in horizons:
        result.update(_week(frame))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        "\npublished (BENCHMARKS 4): 15-min HGB RMSE 9.28, persistence 12.93; "
        f"peak RSS {rss:.0f} MB"
    )
    fields = " ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in result.items()
    )
    split = "validation" if args.validation else "test"
    print(f"RESULT split={split} {fields} peak_rss_mb={rss:.0f}")


def _day(frame: pd.DataFrame) -> dict[str, Any]:
    day = run(frame, 96, {})
    return {
        "day_mae": day["cv"]["mae"],
        "day_rmse": day["cv"]["rmse"],
        "day_naive_day_mae": day["card"].metrics["baseline"]["naive_day"]["mae"],
        "day_naive_week_mae": day["card"].metrics["baseline"]["naive_week"]["mae"],
        "day_vs_naive_day": day["cv"]["mae_vs_naive_day"],
        "day_vs_naive_week": day["cv"]["mae_vs_naive_week"],
        "day_coverage80": day["cv"]["interval_coverage"],
        "day_model": day["cv"]["model"],
        "day_train_s": round(day["wall"]),
        "day_train_cpu_s": round(day["cpu"]),
    }


def _quarter(frame: pd.DataFrame, y: Any) -> dict[str, Any]:
    quarter = run(frame, 1, {"stat_origins": 0})  # default: RMSE chooses, so L2 loss
    first = round(len(y) * 0.75)
    persistence = point_metrics(y[first:], y[first - 1 : -1])
    print(_line("persistence y[t-1]", persistence))
    gbm = quarter["card"].metrics["models"]["gbm"]
    return {
        "q15_rmse": gbm["rmse"],
        "q15_mae": gbm["mae"],
        "q15_persistence_rmse": persistence["rmse"],
        "q15_naive_day_rmse": quarter["card"].metrics["baseline"]["naive_day"]["rmse"],
        "q15_train_s": round(quarter["wall"]),
        "q15_train_cpu_s": round(quarter["cpu"]),
    }


def _week(frame: pd.DataFrame) -> dict[str, Any]:
    week = run(frame, 672, {"stat_origins": 10})
    return {
        "week_mae": week["cv"]["mae"],
        "week_naive_day_mae": week["card"].metrics["baseline"]["naive_day"]["mae"],
        "week_naive_week_mae": week["card"].metrics["baseline"]["naive_week"]["mae"],
        "week_coverage80": week["cv"]["interval_coverage"],
        "week_model": week["cv"]["model"],
        "week_train_s": round(week["wall"]),
        "week_train_cpu_s": round(week["cpu"]),
    }


if __name__ == "__main__":
    main()
