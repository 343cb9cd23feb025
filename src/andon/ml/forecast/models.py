"""Multi-step forecasters of one regular series: seasonal naive, MSTL and gradient boosting.

Every forecaster answers the same question: given the values up to and including position
``origin``, what are the next ``horizon`` values? :class:`SeasonalNaive` repeats the value
one season earlier (``y[t - 96]`` for 15-minute data a day back, ``y[t - 672]`` a week back).
:class:`MstlForecaster` is the statistical model: statsforecast's MSTL with a daily and a
weekly season and an exponential-smoothing trend, fitted on the last weeks before each
origin. :class:`GbmForecaster` is LightGBM on lags at the origin, the values one day and
one to three weeks before each target time, rolling means and the target's calendar,
with the horizon as a feature (direct, one model for every step ahead); below a day ahead
it also sees the recent dynamics (more lags, differences, rolling spreads, and the move
over the same steps a day and a week before).

>>> CLOCK = (pd.Timestamp("2024-01-01"), pd.Timedelta("15min"))
>>> y = np.tile(np.r_[np.zeros(4), np.ones(4)], 6).astype(float)
>>> SeasonalNaive(8).forecast_many(y, np.array([len(y) - 1]), 3, CLOCK).tolist()
[[0.0, 0.0, 0.0]]
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = [
    "Calendar",
    "GbmForecaster",
    "MstlForecaster",
    "SeasonalNaive",
    "lag_features",
]

_logger = logging.getLogger(__name__)
Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.intp]
Calendar = tuple[pd.Timestamp, pd.Timedelta]
"""(time of position 0, step): where a position of the series falls on the clock."""

_ORIGIN_LAGS = (0, 1, 2, 3, 4, 8)
_MEANS = (4, 16)
_SHORT_LAGS = (5, 6, 7)


def _take(y: Floats, index: Ints) -> Floats:
    """``y[index]``, NaN where the index falls before the series."""
    out = np.full(index.shape, np.nan)
    ok = (index >= 0) & (index < len(y))
    out[ok] = y[index[ok]]
    return out


def lag_features(
    y: Floats,
    origins: Ints,
    horizons: Ints,
    day: int,
    start: pd.Timestamp,
    step: pd.Timedelta,
    short: bool = False,
) -> pd.DataFrame:
    """One row per (origin, horizon): what is known at the origin about the target time.

    Only values at or before the origin enter (the season lags step back whole days until
    they do), so a row never sees its own future. ``short`` (forecasts under a day ahead)
    adds the recent dynamics: lags 5-7, the last steps' differences, rolling spreads and
    how the series moved over the same steps a day and a week earlier.
    """
    week = 7 * day
    o = np.repeat(origins, len(horizons)).astype(np.intp)
    h = np.tile(horizons, len(origins)).astype(np.intp)
    target = o + h
    columns: dict[str, Any] = {"horizon": h}
    for lag in _ORIGIN_LAGS:
        columns[f"lag_{lag}"] = _take(y, o - lag)
    cum = np.concatenate([[0.0], np.cumsum(y)])
    for width in (*_MEANS, day, week):
        lo = o + 1 - width
        columns[f"mean_{width}"] = np.where(
            lo >= 0, (cum[o + 1] - cum[np.maximum(lo, 0)]) / width, np.nan
        )
    if short:
        for lag in _SHORT_LAGS:
            columns[f"lag_{lag}"] = _take(y, o - lag)
        for lag in range(4):
            columns[f"diff_{lag}"] = _take(y, o - lag) - _take(y, o - lag - 1)
        squares = np.concatenate([[0.0], np.cumsum(y * y)])
        for width in _MEANS:
            lo = o + 1 - width
            base = np.maximum(lo, 0)
            mean = (cum[o + 1] - cum[base]) / width
            var = np.maximum((squares[o + 1] - squares[base]) / width - mean * mean, 0.0)
            columns[f"std_{width}"] = np.where(lo >= 0, np.sqrt(var), np.nan)
        for name, back in (("day", day), ("week", week)):  # the same move a season ago
            columns[f"{name}_ago_step"] = _take(y, target - back) - _take(y, o - back)
    days_back = np.maximum(1, -(-h // day))  # whole days back to reach at or before the origin
    daily = np.stack([_take(y, target - day * (days_back + k)) for k in range(7)])
    columns["day_ago"] = daily[0]
    next_back = np.maximum(1, -(-(h + 1) // day))  # the step after, also at or before it
    columns["day_ago_next"] = _take(y, target - day * next_back + 1)
    columns["day_ago_mean7"] = np.nanmean(daily, axis=0) if daily.size else np.nan
    weeks_back = np.maximum(1, -(-h // week))
    weekly = np.stack([_take(y, target - week * (weeks_back + k)) for k in range(3)])
    columns["week_ago"] = weekly[0]
    columns["week_ago_next"] = _take(y, target - week * np.maximum(1, -(-(h + 1) // week)) + 1)
    columns["week_ago_prev"] = _take(y, target - week * weeks_back - 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN: history shorter than weeks
        columns["week_ago_median3"] = np.nanmedian(weekly, axis=0)
    when = pd.DatetimeIndex(start + target * step)
    columns["time_of_day"] = (when.hour * 60 + when.minute).to_numpy()
    columns["day_of_week"] = when.dayofweek.to_numpy()
    return pd.DataFrame(columns)


@dataclass
class SeasonalNaive:
    """The value one ``season`` earlier (repeated for horizons longer than a season)."""

    season: int

    def forecast_many(self, y: Floats, origins: Ints, horizon: int, calendar: Calendar) -> Floats:
        """Forecasts from several origins, one row per origin (``calendar`` is unused)."""
        h = np.arange(1, horizon + 1)
        back = self.season * np.maximum(1, -(-h // self.season))
        return _take(y, origins[:, None] + h[None, :] - back[None, :])


@dataclass
class MstlForecaster:
    """statsforecast's MSTL (daily and weekly seasons, AutoETS trend) on a recent window."""

    day: int
    weeks: int = 2

    def forecast(self, y: Floats, origin: int, horizon: int) -> Floats:
        from statsforecast.models import MSTL, AutoETS

        week = 7 * self.day
        window = y[max(0, origin + 1 - self.weeks * week) : origin + 1]
        seasons = [s for s in (self.day, week) if len(window) >= 2 * s and s > 1]
        if not seasons:
            return np.full(horizon, float(np.mean(window[-max(1, self.day) :])))
        model = MSTL(season_length=seasons, trend_forecaster=AutoETS(model="ZZN"))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # numba/statsmodels chatter on short windows
            result = model.forecast(y=window.astype(np.float64), h=horizon)
        return np.asarray(result["mean"], dtype=np.float64)

    def forecast_many(self, y: Floats, origins: Ints, horizon: int, calendar: Calendar) -> Floats:
        """Forecasts from several origins, one MSTL fit each (``calendar`` is unused)."""
        return np.stack([self.forecast(y, int(o), horizon) for o in origins])


@dataclass
class GbmForecaster:
    """LightGBM, direct multi-step: one model, the horizon a feature (see the module doc)."""

    horizon: int
    day: int
    objective: str = "l1"
    """LightGBM's loss, or several joined by ``+`` (one model each, their forecasts
    averaged: ``l2+l1`` hedges the mean against the median where the series jumps);
    :func:`~andon.ml.forecast.backtest.fit_forecaster` sets it to match the metric that
    chooses the model unless it is given."""
    n_estimators: int = 800
    learning_rate: float = 0.03
    num_leaves: int = 31
    min_child_samples: int = 50
    max_rows: int = 300_000
    max_bin: int = 255
    """LightGBM's histogram bins per feature (fewer fit faster on short histories)."""
    random_state: int = 0
    n_jobs: int = 2
    model_: Any = None
    features_: list[str] = field(default_factory=list)

    def get_params(self) -> dict[str, Any]:
        return {
            k: getattr(self, k)
            for k in (
                "horizon",
                "day",
                "objective",
                "n_estimators",
                "learning_rate",
                "num_leaves",
                "min_child_samples",
                "max_rows",
                "max_bin",
                "random_state",
            )
        }

    def _training_rows(self, first: int, last: int) -> tuple[Ints, Ints]:
        """(origins, horizons) sampled from origins ``first..last`` (targets inside)."""
        origins = np.arange(first, last + 1, dtype=np.intp)
        rng = np.random.default_rng(self.random_state)
        per_origin = self.horizon
        if len(origins) * per_origin > self.max_rows:
            keep = max(1, self.max_rows // per_origin)
            origins = np.sort(rng.choice(origins, size=keep, replace=False))
        return origins, np.arange(1, self.horizon + 1, dtype=np.intp)

    def inputs(self, y: Floats) -> Floats:
        """The series the features are computed from (``y`` itself; subclasses may fill it)."""
        return y

    def fit(self, y: Floats, calendar: Calendar, end: int) -> GbmForecaster:
        """Fit on the known targets at positions ``< end`` (origins from a day of history on).

        An unknown value (NaN) is never a target; features may be unknown (LightGBM's
        missing-value branches take them).
        """
        import lightgbm as lgb

        first = min(self.day, max(1, end // 4))
        last = end - 1 - self.horizon
        if last < first:
            raise ValueError(f"too little history to learn {self.horizon} steps ahead")
        origins, horizons = self._training_rows(first, last)
        short = self.horizon < self.day
        X = lag_features(self.inputs(y), origins, horizons, self.day, *calendar, short)
        target = y[np.repeat(origins, len(horizons)) + np.tile(horizons, len(origins))]
        known = np.isfinite(target)
        if not known.any():
            raise ValueError("no known value to learn from")
        models = []
        for loss in self.objective.split("+"):
            model = lgb.LGBMRegressor(
                objective=loss,
                n_estimators=self.n_estimators,
                learning_rate=self.learning_rate,
                num_leaves=self.num_leaves,
                min_child_samples=self.min_child_samples,
                subsample=0.8,
                subsample_freq=1,
                colsample_bytree=0.8,
                max_bin=self.max_bin,
                random_state=self.random_state,
                n_jobs=self.n_jobs,
                verbose=-1,
            )
            models.append(model.fit(X[known], target[known]))
        self.model_ = models[0] if len(models) == 1 else models
        self.features_ = list(X.columns)
        return self

    def forecast_many(self, y: Floats, origins: Ints, horizon: int, calendar: Calendar) -> Floats:
        if self.model_ is None:
            raise ValueError("fit the model first")
        if horizon > self.horizon:
            raise ValueError(f"trained for {self.horizon} steps ahead, asked for {horizon}")
        horizons = np.arange(1, horizon + 1, dtype=np.intp)
        short = "diff_0" in self.features_  # as trained (models saved before it lack them)
        X = lag_features(self.inputs(y), origins, horizons, self.day, *calendar, short)
        models = self.model_ if isinstance(self.model_, list) else [self.model_]
        point = np.mean([m.predict(X) for m in models], axis=0)
        return np.asarray(point, dtype=np.float64).reshape(len(origins), horizon)

    def importances(self) -> dict[str, float]:
        models = self.model_ if isinstance(self.model_, list) else [self.model_]
        gains = sum(m.booster_.feature_importance(importance_type="gain") for m in models)
        total = float(gains.sum()) or 1.0
        pairs = sorted(zip(self.features_, gains, strict=True), key=lambda p: -p[1])
        return {name: round(float(g) / total, 4) for name, g in pairs}
