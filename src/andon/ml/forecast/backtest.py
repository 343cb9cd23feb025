"""Training, intervals and rolling-origin backtests of a multi-step forecast.

:func:`fit_forecaster` learns a :class:`Forecaster` honestly in three consecutive windows
of the history: the gradient-boosted model is fitted on everything before a calibration
window (two weeks by default); on that window, rolling origins measure each model's
errors, which choose the model for this horizon (LightGBM, MSTL, or their mean) by the
horizon's metric (RMSE for forecasts shorter than a day, MAE from a day on) and size
the prediction intervals (split conformal, scaled by the hour of day of the target: a
plant's error is large while it works and small at night). Once chosen, LightGBM is refit
on everything before the judged window, calibration weeks included (``refit``, default on:
the latest weeks are the most like the next ones); after it, forecasts are judged.
:func:`backtest` judges any fitted forecaster from rolling origins against the seasonal
naive forecasts of a day and of a week before.

>>> y = 10 + 5 * np.sin(np.arange(24 * 7 * 5) * 2 * np.pi / 24)
>>> series = RegularSeries(y, pd.Timestamp("2024-01-01"), pd.Timedelta("1h"))
>>> fitted = fit_forecaster(series, horizon=24, test_start=len(y) - 72,
...                         params={"n_estimators": 30, "stat_origins": 0})
>>> out = fitted.forecaster.forecast(series)
>>> list(out.columns), len(out)
(['time', 'forecast', 'lower', 'upper'], 24)
>>> fitted.report["chosen"]["model"], fitted.report["chosen"]["mae"]
('naive_day', 0.0)
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from andon.ml.forecast.models import (
    Calendar,
    GbmForecaster,
    MstlForecaster,
    SeasonalNaive,
)
from andon.ml.forecast.series import RegularSeries

__all__ = [
    "Fitted",
    "Forecaster",
    "Intervals",
    "backtest",
    "fit_forecaster",
    "point_metrics",
]

_logger = logging.getLogger(__name__)
Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.intp]

_HOUR = pd.Timedelta(hours=1)
CHOICES = ("gbm", "mstl", "blend", "naive_day", "naive_week")
"""The forecasts a :class:`Forecaster` can stand on; calibration picks one per horizon."""
METRICS = {"mae": "l1", "rmse": "l2+l1"}
"""The metrics that can choose the model, each with the LightGBM loss that serves it: L1 for
MAE; for RMSE the mean of an L2 and an L1 model (on steel energy's validation quarter it
beat L2 alone: RMSE 8.78 vs 8.80, MAE 4.23 vs 4.37)."""


def default_metric(horizon: int, day: int) -> str:
    """RMSE for forecasts shorter than a day (large misses matter), MAE from a day on.

    >>> default_metric(1, 96), default_metric(96, 96)
    ('rmse', 'mae')
    """
    return "rmse" if horizon < day else "mae"


def point_metrics(truth: Floats, forecast: Floats) -> dict[str, float]:
    """MAE, RMSE and bias (forecast - truth) over every finite pair.

    >>> point_metrics(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 5.0]))
    {'mae': 0.6667, 'rmse': 1.1547, 'bias': 0.6667, 'points': 3}
    """
    ok = np.isfinite(truth) & np.isfinite(forecast)
    error = forecast[ok] - truth[ok]
    if not len(error):
        return {"mae": float("nan"), "rmse": float("nan"), "bias": float("nan"), "points": 0}
    return {
        "mae": round(float(np.mean(np.abs(error))), 4),
        "rmse": round(float(np.sqrt(np.mean(error**2))), 4),
        "bias": round(float(np.mean(error)), 4),
        "points": len(error),
    }


def _hours(calendar: Calendar, positions: Ints) -> Ints:
    """The hour of day (0-23) of grid positions; 0 everywhere for daily or coarser grids."""
    start, step = calendar
    if step >= pd.Timedelta(days=1):
        return np.zeros(positions.shape, dtype=np.intp)
    when = pd.DatetimeIndex(start + positions.ravel() * step)
    return np.asarray(when.hour, dtype=np.intp).reshape(positions.shape)


@dataclass
class Intervals:
    """Split-conformal half-widths: ``quantile[horizon] * scale[hour of the target]``."""

    level: float
    quantile: Floats
    scale: Floats

    @classmethod
    def calibrate(cls, errors: Floats, hours: Ints, level: float, pool: int) -> Intervals:
        """From absolute errors ``[origin, horizon]`` and their targets' hours of day."""
        absolute = np.abs(errors)
        scale = np.ones(24)
        overall = float(np.nanmean(absolute)) if np.isfinite(absolute).any() else 1.0
        for hour in range(24):
            inside = absolute[hours == hour]
            inside = inside[np.isfinite(inside)]
            scale[hour] = float(np.mean(inside)) if len(inside) >= 10 else overall
        scale = np.maximum(scale, 1e-9 + 0.05 * overall)
        scores = absolute / scale[hours]
        horizon = errors.shape[1]
        quantile = np.zeros(horizon)
        for h in range(horizon):
            lo, hi = max(0, h - pool // 2), min(horizon, h + pool // 2 + 1)
            window = scores[:, lo:hi]
            window = window[np.isfinite(window)]
            if not len(window):
                quantile[h] = quantile[h - 1] if h else 1.0
                continue
            rank = min(1.0, np.ceil((len(window) + 1) * level) / len(window))
            quantile[h] = float(np.quantile(window, rank))
        return cls(level, quantile, scale)

    def radius(self, hours: Ints) -> Floats:
        """Half-widths for forecasts ``[origin, horizon]`` whose targets fall at ``hours``."""
        return np.asarray(self.quantile[None, : hours.shape[1]] * self.scale[hours], dtype=float)


@dataclass
class Forecaster:
    """The trained forecast: models, the choice among them, and calibrated intervals."""

    horizon: int
    day: int
    step: pd.Timedelta
    choice: str
    gbm: GbmForecaster
    mstl: MstlForecaster
    intervals: Intervals
    clip_low: float | None = None

    def _point(self, choice: str, y: Floats, origins: Ints, calendar: Calendar) -> Floats:
        if choice.startswith("naive_"):
            season = self.day if choice == "naive_day" else 7 * self.day
            return SeasonalNaive(season).forecast_many(y, origins, self.horizon, calendar)
        if choice == "gbm":
            return self.gbm.forecast_many(y, origins, self.horizon, calendar)
        stat = self.mstl.forecast_many(y, origins, self.horizon, calendar)
        if choice == "mstl":
            return stat
        return 0.5 * (stat + self.gbm.forecast_many(y, origins, self.horizon, calendar))

    def forecast_at(self, series: RegularSeries, origins: Ints) -> tuple[Floats, Floats]:
        """(forecast, half-width) from each origin, ``[origin, horizon]``."""
        calendar = (series.start, series.step)
        point = self._point(self.choice, series.values, origins, calendar)
        if self.clip_low is not None:
            point = np.maximum(point, self.clip_low)
        targets = origins[:, None] + np.arange(1, self.horizon + 1)[None, :]
        return point, self.intervals.radius(_hours(calendar, targets))

    def forecast(self, series: RegularSeries) -> pd.DataFrame:
        """The ``horizon`` steps after the series' last value: time, forecast, lower, upper."""
        if series.step != self.step:
            raise ValueError(f"the history is spaced {series.step}, the model {self.step}")
        origin = np.array([len(series.values) - 1], dtype=np.intp)
        point, radius = self.forecast_at(series, origin)
        lower = point[0] - radius[0]
        if self.clip_low is not None:
            lower = np.maximum(lower, self.clip_low)
        times = series.end + np.arange(1, self.horizon + 1) * series.step
        return pd.DataFrame(
            {
                "time": times,
                "forecast": np.round(point[0], 4),
                "lower": np.round(lower, 4),
                "upper": np.round(point[0] + radius[0], 4),
            }
        )


@dataclass
class Fitted:
    """A forecaster and the report of its honest backtest."""

    forecaster: Forecaster
    report: dict[str, Any] = field(default_factory=dict)


def _origins(first: int, last: int, stride: int) -> Ints:
    return np.arange(first, last + 1, max(1, stride), dtype=np.intp)


def _spread(origins: Ints, count: int) -> Ints:
    """At most ``count`` of ``origins``, evenly spaced."""
    if count <= 0:
        return origins[:0]
    if len(origins) <= count:
        return origins
    picked = np.unique(np.linspace(0, len(origins) - 1, count).round().astype(np.intp))
    return np.asarray(origins[picked], dtype=np.intp)


def _truth(y: Floats, origins: Ints, horizon: int) -> Floats:
    index = origins[:, None] + np.arange(1, horizon + 1)[None, :]
    out = np.full(index.shape, np.nan)
    inside = index < len(y)
    out[inside] = y[index[inside]]
    return out


@dataclass
class _Setup:
    horizon: int
    day: int
    level: float
    calibration: int
    stat_origins: int
    metric: str
    refit: bool
    gbm_params: dict[str, Any]


def _setup(series: RegularSeries, horizon: int, params: dict[str, Any]) -> _Setup:
    day = series.steps_per_day
    gbm_keys = set(GbmForecaster.__dataclass_fields__) - {"horizon", "day", "model_", "features_"}
    own = {"level", "calibration_days", "stat_origins", "metric", "refit"}
    unknown = set(params) - gbm_keys - own
    if unknown:
        raise ValueError(f"unknown forecast parameters {sorted(unknown)}")
    metric = str(params.get("metric", default_metric(horizon, day)))
    if metric not in METRICS:
        raise ValueError(f"metric {metric!r}: expected one of {sorted(METRICS)}")
    gbm_params = {k: v for k, v in params.items() if k in gbm_keys}
    gbm_params.setdefault("objective", METRICS[metric])
    return _Setup(
        horizon=horizon,
        day=day,
        level=float(params.get("level", 0.8)),
        calibration=int(float(params.get("calibration_days", 14)) * day),
        stat_origins=int(params.get("stat_origins", 20)),
        metric=metric,
        refit=bool(params.get("refit", True)),
        gbm_params=gbm_params,
    )


def _calibrate(
    setup: _Setup, series: RegularSeries, gbm: GbmForecaster, first: int, last: int
) -> tuple[str, Intervals, dict[str, Any]]:
    """Choose the model on origins ``first..last`` and size its intervals there."""
    y, calendar = series.values, (series.start, series.step)
    mstl = MstlForecaster(setup.day)
    stride = max(1, min(setup.horizon, setup.day) // 24) if setup.horizon > 1 else 1
    origins = _origins(first, last, stride)
    truth = _truth(y, origins, setup.horizon)
    gbm_errors = gbm.forecast_many(y, origins, setup.horizon, calendar) - truth
    scores: dict[str, Any] = {"gbm": point_metrics(truth.ravel(), (gbm_errors + truth).ravel())}
    errors = {"gbm": gbm_errors}
    for name, season in (("naive_day", setup.day), ("naive_week", 7 * setup.day)):
        naive = SeasonalNaive(season).forecast_many(y, origins, setup.horizon, calendar)
        scores[name], errors[name] = point_metrics(truth.ravel(), naive.ravel()), naive - truth
    chosen_origins = dict.fromkeys(errors, origins)
    daily = origins[(origins - first) % setup.day == 0]
    stat_origins = _spread(daily, max(0, setup.stat_origins // 2))
    if len(stat_origins):
        stat_truth = _truth(y, stat_origins, setup.horizon)
        stat = mstl.forecast_many(y, stat_origins, setup.horizon, calendar)
        boosted = gbm.forecast_many(y, stat_origins, setup.horizon, calendar)
        rows = np.searchsorted(origins, stat_origins)
        same: dict[str, Floats] = {
            "gbm": boosted,
            "mstl": stat,
            "blend": 0.5 * (stat + boosted),
            "naive_day": errors["naive_day"][rows] + stat_truth,
            "naive_week": errors["naive_week"][rows] + stat_truth,
        }
        scores = {
            name: point_metrics(stat_truth.ravel(), value.ravel()) for name, value in same.items()
        }
        errors["mstl"], errors["blend"] = stat - stat_truth, same["blend"] - stat_truth
        chosen_origins["mstl"] = chosen_origins["blend"] = stat_origins
    choice = min(scores, key=lambda name: scores[name][setup.metric])
    targets = chosen_origins[choice][:, None] + np.arange(1, setup.horizon + 1)[None, :]
    pool = max(1, int(np.ceil(setup.horizon / 12)))
    intervals = Intervals.calibrate(errors[choice], _hours(calendar, targets), setup.level, pool)
    info = {"metric": setup.metric, "scores": scores, "origins": len(chosen_origins[choice])}
    return choice, intervals, info


def _stage(
    setup: _Setup, series: RegularSeries, end: int, seed: int
) -> tuple[Forecaster, dict[str, Any]]:
    """A forecaster whose GBM learns from ``< end - calibration`` and calibrates after it."""
    cal = min(setup.calibration, max(setup.horizon + 1, end // 5))
    fit_end = end - cal
    gbm = GbmForecaster(setup.horizon, setup.day, **{"random_state": seed, **setup.gbm_params})
    started = time.perf_counter()
    gbm.fit(series.values, (series.start, series.step), fit_end)
    fit_s = time.perf_counter() - started
    choice, intervals, info = _calibrate(setup, series, gbm, fit_end - 1, end - 1 - setup.horizon)
    refit = setup.refit and choice in ("gbm", "blend")
    if refit:  # chosen: now learn from every point before ``end`` too
        started = time.perf_counter()
        gbm = GbmForecaster(setup.horizon, setup.day, **{"random_state": seed, **setup.gbm_params})
        gbm.fit(series.values, (series.start, series.step), end)
        fit_s += time.perf_counter() - started
    low = 0.0 if float(np.nanmin(series.values[:end])) >= 0 else None
    forecaster = Forecaster(
        setup.horizon,
        setup.day,
        series.step,
        choice,
        gbm,
        MstlForecaster(setup.day),
        intervals,
        low,
    )
    stage = {"gbm_fit_s": round(fit_s, 1), "calibration": info, "chosen": choice, "refit": refit}
    return forecaster, stage


def backtest(
    forecaster: Forecaster,
    series: RegularSeries,
    first: int,
    stat_origins: int = 20,
) -> dict[str, Any]:
    """Rolling-origin errors from position ``first`` on, against the seasonal naive ones.

    Origins are a day apart for forecasts of a day or more (every step for shorter ones,
    as many as fit); GBM and the naive forecasts are judged on all of them, MSTL and the
    blend on at most ``stat_origins`` evenly spaced ones (with the naive forecasts on the
    same origins beside them, so each comparison is like for like).
    """
    horizon, day = forecaster.horizon, forecaster.day
    y, calendar = series.values, (series.start, series.step)
    stride = day if horizon >= day else horizon
    origins = _origins(max(first - 1, 1), len(y) - 1 - horizon, stride)
    if not len(origins):
        raise ValueError("no complete forecast window after the backtest start")
    truth = _truth(y, origins, horizon)
    naive_day = SeasonalNaive(day).forecast_many(y, origins, horizon, calendar)
    naive_week = SeasonalNaive(7 * day).forecast_many(y, origins, horizon, calendar)
    gbm = forecaster.gbm.forecast_many(y, origins, horizon, calendar)
    targets = origins[:, None] + np.arange(1, horizon + 1)[None, :]
    radius = forecaster.intervals.radius(_hours(calendar, targets))
    simple = {"gbm": gbm, "naive_day": naive_day, "naive_week": naive_week}
    chosen = simple.get(forecaster.choice, gbm)
    report: dict[str, Any] = {
        "origins": len(origins),
        "origin_stride_steps": stride,
        "first_origin": str(series.start + origins[0] * series.step),
        "last_origin": str(series.start + origins[-1] * series.step),
        "horizon": horizon,
        "models": {"gbm": point_metrics(truth.ravel(), gbm.ravel())},
        "baselines": {
            "naive_day": point_metrics(truth.ravel(), naive_day.ravel()),
            "naive_week": point_metrics(truth.ravel(), naive_week.ravel()),
        },
        "by_horizon": _by_horizon(truth, {"gbm": gbm, "naive_day": naive_day}),
    }
    subset = _spread(origins, stat_origins)
    if len(subset):
        rows = np.searchsorted(origins, subset)
        stat = forecaster.mstl.forecast_many(y, subset, horizon, calendar)
        blend = 0.5 * (stat + gbm[rows])
        sub_truth = truth[rows].ravel()
        report["models"]["mstl"] = point_metrics(sub_truth, stat.ravel())
        report["models"]["blend"] = point_metrics(sub_truth, blend.ravel())
        report["stat_subset"] = {
            "origins": len(subset),
            "gbm": point_metrics(sub_truth, gbm[rows].ravel()),
            "naive_day": point_metrics(sub_truth, naive_day[rows].ravel()),
            "naive_week": point_metrics(sub_truth, naive_week[rows].ravel()),
        }
        if forecaster.choice not in simple:
            chosen = stat if forecaster.choice == "mstl" else blend
            truth, radius = truth[rows], radius[rows]
            naive_day, naive_week = naive_day[rows], naive_week[rows]
    elif forecaster.choice not in simple:
        raise ValueError("the chosen model is MSTL-based: the backtest needs stat_origins > 0")
    report["chosen"] = _chosen_report(forecaster, truth, chosen, radius, naive_day, naive_week)
    return report


def _chosen_report(
    forecaster: Forecaster,
    truth: Floats,
    point: Floats,
    radius: Floats,
    naive_day: Floats,
    naive_week: Floats,
) -> dict[str, Any]:
    if forecaster.clip_low is not None:
        point = np.maximum(point, forecaster.clip_low)
    metrics = point_metrics(truth.ravel(), point.ravel())
    lower = point - radius
    if forecaster.clip_low is not None:
        lower = np.maximum(lower, forecaster.clip_low)
    upper = point + radius
    ok = np.isfinite(truth)
    inside = (truth >= lower) & (truth <= upper)
    day_mae = point_metrics(truth.ravel(), naive_day.ravel())["mae"]
    week_mae = point_metrics(truth.ravel(), naive_week.ravel())["mae"]
    return {
        "model": forecaster.choice,
        **metrics,
        "mae_vs_naive_day": round(1 - metrics["mae"] / day_mae, 4) if day_mae else None,
        "mae_vs_naive_week": round(1 - metrics["mae"] / week_mae, 4) if week_mae else None,
        "interval_level": forecaster.intervals.level,
        "interval_coverage": round(float(inside[ok].mean()), 4) if ok.any() else None,
        "interval_mean_width": round(float(np.mean((upper - lower)[ok])), 4) if ok.any() else None,
    }


def _by_horizon(truth: Floats, forecasts: dict[str, Floats]) -> dict[str, dict[str, float]]:
    """MAE at a few horizons (1 step, 1 h, 6 h, a day, a week when the forecast reaches)."""
    out: dict[str, dict[str, float]] = {}
    for h in sorted({1, 4, 24, 96, 672, truth.shape[1]}):
        if h <= truth.shape[1]:
            out[f"h{h}"] = {
                name: point_metrics(truth[:, h - 1], value[:, h - 1])["mae"]
                for name, value in forecasts.items()
            }
    return out


def fit_forecaster(
    series: RegularSeries,
    horizon: int,
    test_start: int | None = None,
    params: dict[str, Any] | None = None,
    seed: int = 0,
) -> Fitted:
    """Backtest from ``test_start`` (default: the last quarter), then refit on everything.

    ``params``: ``level`` (interval coverage, 0.8), ``calibration_days`` (14),
    ``stat_origins`` (MSTL fits per backtest, 20; 0 leaves MSTL out), ``metric`` (``mae``
    or ``rmse``, what the calibration window chooses the model by; default
    :func:`default_metric`) and :class:`GbmForecaster`'s own (``n_estimators``,
    ``max_rows``, ...; ``objective`` defaults to the metric's loss, L1 or L2).
    """
    if horizon < 1:
        raise ValueError("the horizon must be at least one step")
    setup = _setup(series, horizon, dict(params or {}))
    n = len(series.values)
    start = int(test_start if test_start is not None else round(n * 0.75))
    if start - setup.horizon < 2 * setup.day or n - start < horizon + 1:
        raise ValueError(
            f"{n} points are too few to backtest {horizon} steps ahead after two days of history"
        )
    started = time.perf_counter()
    judged, stage = _stage(setup, series, start, seed)
    report = backtest(judged, series, start, setup.stat_origins)
    report["training"] = stage
    final, final_stage = _stage(setup, series, n, seed)
    report["final"] = final_stage
    report["train_s"] = round(time.perf_counter() - started, 1)
    return Fitted(final, report)
