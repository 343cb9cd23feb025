"""Forecasting: series reading, leak-free features, intervals, the task and CLI, live shifts."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from andon.cli.ml import app
from andon.ml import registry
from andon.ml.forecast import (
    ForecastTask,
    RegularSeries,
    SeasonalNaive,
    fit_forecaster,
    regular_series,
)
from andon.ml.forecast.backtest import Forecaster, Intervals, _setup, _stage
from andon.ml.forecast.live import _forecast
from andon.ml.forecast.models import lag_features
from andon.ml.tables import TableError
from andon.ml.tasks import EvaluateOptions, TrainOptions

runner = CliRunner()
FAST = {"n_estimators": 25, "stat_origins": 0, "n_jobs": 1, "max_rows": 15_000}


def _plant(days: int, seed: int = 0) -> pd.DataFrame:
    """15-minute load: day shifts on weekdays, a quiet weekend, noise."""
    rng = np.random.default_rng(seed)
    times = pd.date_range("2024-01-01 00:15", periods=days * 96, freq="15min")
    working = (times.dayofweek < 5) & (times.hour >= 6) & (times.hour < 22)
    load = 5 + 40 * working + rng.gamma(2.0, 2.0, len(times))
    return pd.DataFrame({"when": times, "kwh": load.round(2)})


def test_day_first_times_and_the_midnight_quirk_are_read_as_a_grid() -> None:
    times = pd.date_range("2018-01-01 00:15", periods=200, freq="15min")
    text = times.strftime("%d-%m-%Y %H:%M").to_series(index=range(200))
    quirk = times.hour.to_numpy() == 0
    quirk &= times.minute.to_numpy() == 0
    text[quirk] = (times[quirk] - pd.Timedelta(days=1)).strftime("%d-%m-%Y %H:%M")
    frame = pd.DataFrame({"date": text, "kwh": np.arange(200.0)})
    series = regular_series(frame, "date", "kwh")
    assert series.start == pd.Timestamp("2018-01-01 00:15")
    assert series.step == pd.Timedelta("15min")
    assert series.values.tolist() == list(np.arange(200.0))
    shuffled = frame.sample(frac=1.0, random_state=0)
    with pytest.raises(TableError, match="out of order"):
        regular_series(shuffled, "date", "kwh")


def test_features_never_see_the_future() -> None:
    y = np.random.default_rng(1).normal(size=3000)
    origins = np.array([2000, 2500])
    horizons = np.arange(1, 700)  # past a week: the weekly lags too
    clock = (pd.Timestamp("2024-01-01"), pd.Timedelta("15min"))
    before = lag_features(y, origins, horizons, 96, *clock)
    changed = y.copy()
    changed[2001:] += 1000  # everything after the first origin
    after = lag_features(changed, origins, horizons, 96, *clock)
    pd.testing.assert_frame_equal(before.iloc[:699], after.iloc[:699])
    short = np.arange(1, 96)  # under a day ahead: the recent-dynamics features too
    before = lag_features(y, origins, short, 96, *clock, short=True)
    after = lag_features(changed, origins, short, 96, *clock, short=True)
    assert {"diff_0", "std_16", "day_ago_step", "week_ago_step"} <= set(before.columns)
    pd.testing.assert_frame_equal(before.iloc[:95], after.iloc[:95])
    naive = SeasonalNaive(96).forecast_many(y, origins, 96, clock)
    np.testing.assert_array_equal(naive[0], y[2001 - 96 : 2097 - 96])


def test_conformal_intervals_cover_what_they_promise() -> None:
    rng = np.random.default_rng(2)
    hours = np.tile(np.arange(24), (400, 4))[:, :96]
    spread = np.where(hours >= 8, 10.0, 1.0)  # large errors by day, small at night
    calibration = rng.normal(size=hours.shape) * spread
    intervals = Intervals.calibrate(calibration, hours, 0.8, pool=8)
    fresh = rng.normal(size=hours.shape) * spread
    inside = np.abs(fresh) <= intervals.radius(hours)
    assert 0.77 < inside.mean() < 0.84
    night, day = hours < 8, hours >= 8
    assert 0.7 < inside[night].mean() < 0.9  # scaled by hour: right at night and by day
    assert 0.7 < inside[day].mean() < 0.9


def test_day_ahead_forecast_beats_the_naive_ones_and_round_trips(tmp_path: Path) -> None:
    frame = _plant(days=42)
    options = TrainOptions(time="when", target="kwh", horizon=96, params=FAST)
    trained = ForecastTask().train(frame, options)
    card = trained.card
    assert card.split["kind"] == "rolling-origin"
    cv, base = card.metrics["cv"], card.metrics["baseline"]
    assert cv["model"] in {"gbm", "mstl", "blend", "naive_day", "naive_week"}
    assert cv["mae"] < base["naive_day"]["mae"]  # Mondays and Saturdays fool yesterday
    assert 0.6 < cv["interval_coverage"] <= 1.0
    saved = registry.save_model(tmp_path / "load", trained.model, card)
    model, again = registry.load_model(Path(saved.path))
    history = frame.iloc[: 35 * 96]
    out = ForecastTask().predict(model, again, history)
    assert list(out.columns) == ["time", "forecast", "lower", "upper"]
    assert len(out) == 96
    assert out["time"].iloc[0] == history["when"].iloc[-1] + pd.Timedelta("15min")
    assert (out["lower"] <= out["forecast"]).all()
    assert (out["forecast"] <= out["upper"]).all()
    start = str(history["when"].iloc[-1])
    result = ForecastTask().evaluate(model, again, frame, EvaluateOptions(start=start))
    assert result.metrics["in_sample"] is True  # the final model saw these days
    assert result.metrics["origins"] == 7  # one a day
    assert set(result.metrics["baselines"]) == {"naive_day", "naive_week"}


def test_mstl_and_the_blend_are_judged_on_the_same_origins_as_the_naive_ones() -> None:
    hourly = _plant(days=35, seed=5).iloc[::4].reset_index(drop=True)
    series = regular_series(hourly, "when", "kwh")
    params = {**FAST, "stat_origins": 4, "calibration_days": 7}
    report = fit_forecaster(series, 24, params=params).report
    assert report["stat_subset"]["origins"] == 4
    assert set(report["models"]) == {"gbm", "mstl", "blend"}
    assert report["models"]["mstl"]["points"] == report["stat_subset"]["naive_day"]["points"]
    assert report["models"]["mstl"]["mae"] < report["stat_subset"]["naive_day"]["mae"]


def test_the_metric_that_chooses_also_sets_the_loss() -> None:
    """Below a day ahead RMSE chooses on the calibration window; LightGBM learns L2 and L1."""
    series = regular_series(_plant(days=21, seed=6), "when", "kwh")
    short = fit_forecaster(series, 4, params=FAST)
    calibration = short.report["training"]["calibration"]
    assert calibration["metric"] == "rmse"
    assert short.forecaster.gbm.objective == "l2+l1"
    models = short.forecaster.gbm.model_
    assert [m.get_params()["objective"] for m in models] == ["l2", "l1"]
    origins = np.array([len(series.values) - 1], dtype=np.intp)
    calendar = (series.start, series.step)
    averaged = short.forecaster.gbm.forecast_many(series.values, origins, 4, calendar)
    X = lag_features(series.values, origins, np.arange(1, 5), 96, *calendar, short=True)
    alone = [m.predict(X) for m in models]
    np.testing.assert_allclose(averaged[0], (alone[0] + alone[1]) / 2)
    scores = calibration["scores"]
    assert scores[short.report["training"]["chosen"]]["rmse"] == min(
        s["rmse"] for s in scores.values()
    )
    by_mae = fit_forecaster(series, 4, params={**FAST, "metric": "mae"})
    assert by_mae.report["training"]["calibration"]["metric"] == "mae"
    assert by_mae.forecaster.gbm.objective == "l1"
    given = fit_forecaster(series, 4, params={**FAST, "objective": "huber"})
    assert given.forecaster.gbm.objective == "huber"  # an explicit loss is kept
    with pytest.raises(ValueError, match="metric"):
        fit_forecaster(series, 4, params={**FAST, "metric": "mape"})


def test_the_refit_learns_the_calibration_weeks_but_never_the_judged_ones() -> None:
    """Once chosen, LightGBM is refit on all before the backtest start, and only on that."""
    series = regular_series(_plant(days=19, seed=7), "when", "kwh")
    start = len(series.values) - 2 * 96
    y = series.values
    altered = replace(series, values=np.r_[y[:start], y[start:] * 3 + 50])
    params = {**FAST, "n_estimators": 100, "calibration_days": 7, "max_rows": 8_000}
    setup = _setup(series, 4, params)
    judged, stage = _stage(setup, series, start, seed=0)
    blind, _ = _stage(setup, altered, start, seed=0)
    kept, kept_stage = _stage(_setup(series, 4, {**params, "refit": False}), series, start, seed=0)
    assert stage["refit"]
    assert not kept_stage["refit"]
    origins = np.arange(start - 200, start, dtype=np.intp)  # every input before the start
    calendar = (series.start, series.step)

    def forecasts(forecaster: Forecaster) -> np.ndarray:
        return forecaster.gbm.forecast_many(y, origins, 4, calendar)

    np.testing.assert_array_equal(forecasts(judged), forecasts(blind))  # never saw the start on
    assert not np.array_equal(forecasts(judged), forecasts(kept))  # learnt the last two weeks


def test_cli_train_predict_evaluate(tmp_path: Path) -> None:
    data = tmp_path / "load.csv"
    _plant(days=21, seed=3).to_csv(data, index=False)
    params = [f"--param={k}={v}" for k, v in FAST.items()]
    trained = runner.invoke(
        app,
        ["train", "forecast", "--data", str(data), "--time", "when", "--target", "kwh",
         "--horizon", "8", "--out", str(tmp_path / "m"), *params],
    )  # fmt: skip
    assert trained.exit_code == 0, trained.output
    out = tmp_path / "next.csv"
    predicted = runner.invoke(
        app, ["predict", str(tmp_path / "m"), "--data", str(data), "--out", str(out)]
    )
    assert predicted.exit_code == 0, predicted.output
    assert len(pd.read_csv(out)) == 8
    evaluated = runner.invoke(
        app,
        ["evaluate", str(tmp_path / "m"), "--data", str(data), "--start", "2024-01-15",
         "--json", "--report", str(tmp_path / "r.html")],
    )  # fmt: skip
    assert evaluated.exit_code == 0, evaluated.output
    assert '"naive_week"' in evaluated.output
    assert (tmp_path / "r.html").stat().st_size > 10_000
    missing = runner.invoke(
        app,
        ["train", "forecast", "--data", str(data), "--time", "when", "--out", str(tmp_path / "x")],
    )
    assert missing.exit_code == 1
    assert "--target" in missing.output


def test_next_shift_method_and_interval_from_past_shifts() -> None:
    rng = np.random.default_rng(4)
    day = np.r_[np.full(6, 20.0), np.full(16, 100.0), np.full(2, 20.0)]
    hourly = np.tile(day, 21) + rng.normal(0, 5, 21 * 24)
    shift = _forecast(hourly, 0, 8, 0.8, None, ("energy", "kWh"), 0)
    assert shift.method == "same hour, last 7 days"
    assert shift.backtest_windows > 100
    assert shift.naive_mae is not None
    assert shift.backtest_mae is not None
    assert shift.backtest_mae < shift.naive_mae  # a week's mean beats yesterday alone
    truth = day[:8].sum()  # the next 8 h start at midnight
    assert shift.lower <= truth <= shift.upper
    assert shift.forecast == pytest.approx(truth, rel=0.05)
    short = _forecast(hourly[:5], 0, 8, 0.8, 480.0, ("downtime", "machine-min"), 0)
    assert short.method == "recent level"
    assert short.interval.startswith("range of the 0 past")


def test_bad_options_are_clear_errors() -> None:
    frame = _plant(days=3)
    with pytest.raises(TableError, match="too few"):
        ForecastTask().train(frame, TrainOptions(time="when", target="kwh", horizon=96))
    series = RegularSeries(np.ones(10), pd.Timestamp("2024-01-01"), pd.Timedelta("1h"))
    with pytest.raises(ValueError, match="horizon"):
        fit_forecaster(series, 0)


def test_steel_energy_day_ahead_on_six_weeks(shared_datasets: Path) -> None:
    """Real 15-minute usage, the dataset's midnight quirk included; lags and calendar only."""
    path = shared_datasets / "steel_energy" / "Steel_industry_data.csv"
    frame = pd.read_csv(path, encoding="utf-8-sig", nrows=6 * 7 * 96)[["date", "Usage_kWh"]]
    options = TrainOptions(time="date", target="Usage_kWh", horizon=96, params=FAST)
    card = ForecastTask().train(frame, options).card
    assert card.data["start"] == "2018-01-01 00:15:00"
    assert card.metrics["filled_points"] == 0
    assert card.split["origins"] == 10  # midnights of the last quarter with a full day after
    cv = card.metrics["cv"]
    assert cv["mae"] < card.metrics["baseline"]["naive_day"]["mae"]
    assert 0.6 < cv["interval_coverage"] <= 1.0
