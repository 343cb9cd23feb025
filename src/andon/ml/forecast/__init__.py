"""Forecasting: multi-step forecasts with prediction intervals, backtested from rolling origins.

``andon ml train forecast --time COL --target COL --horizon N`` learns from one regular
series (15-minute energy, hourly load, daily counts): a gradient-boosted model (LightGBM on
lags and the calendar), a statistical one (statsforecast's MSTL with a daily and a weekly
season) and their mean, chosen per horizon on a calibration window that also sizes the
intervals; the card reports all of them and the seasonal naive forecasts of a day and a
week before, on rolling origins the models never saw. :func:`next_shift` forecasts a
line's energy and downtime minutes for the next shift from the historian.

>>> from andon.ml import forecast
>>> forecast.ForecastTask.name
'forecast'
"""

from __future__ import annotations

from andon.ml.forecast.backtest import Fitted, Forecaster, backtest, fit_forecaster, point_metrics
from andon.ml.forecast.live import ShiftForecast, next_shift
from andon.ml.forecast.models import GbmForecaster, MstlForecaster, SeasonalNaive
from andon.ml.forecast.series import RegularSeries, regular_series
from andon.ml.forecast.task import ForecastTask

__all__ = [
    "Fitted",
    "ForecastTask",
    "Forecaster",
    "GbmForecaster",
    "MstlForecaster",
    "RegularSeries",
    "SeasonalNaive",
    "ShiftForecast",
    "backtest",
    "fit_forecaster",
    "next_shift",
    "point_metrics",
    "regular_series",
]
