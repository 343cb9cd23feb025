"""The ``forecast`` task: ``andon ml train|predict|evaluate forecast`` on a time series table.

Training backtests from rolling origins over the last quarter of the table (the card's
held-out metrics, split kind ``rolling-origin``) and then refits on all of it. Prediction
forecasts the ``horizon`` steps after the last row of the history it is given; evaluation
backtests the stored model from ``--start`` on.

>>> times = pd.date_range("2024-01-01", periods=24 * 7 * 5, freq="h")
>>> load = 10 + 5 * np.sin(np.arange(len(times)) * 2 * np.pi / 24)
>>> frame = pd.DataFrame({"t": times, "kw": load})
>>> options = TrainOptions(time="t", target="kw", horizon=24,
...                        params={"n_estimators": 30, "stat_origins": 0})
>>> trained = ForecastTask().train(frame, options)
>>> trained.card.split["kind"], sorted(trained.card.metrics["cv"])[:2]
('rolling-origin', ['bias', 'interval_coverage'])
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from andon.ml.forecast.backtest import Forecaster, backtest, fit_forecaster
from andon.ml.forecast.series import RegularSeries, parse_times, regular_series
from andon.ml.registry import ModelCard
from andon.ml.tables import TableError, fingerprint
from andon.ml.tasks import EvaluateOptions, Evaluation, TableInput, Trained, TrainOptions

__all__ = ["ForecastTask"]

_logger = logging.getLogger(__name__)


def _series(frame: pd.DataFrame, card: ModelCard) -> RegularSeries:
    return regular_series(frame, str(card.options["time"]), str(card.options["target"]))


class ForecastTask(TableInput):
    """Multi-step forecasts with prediction intervals of one regularly spaced series."""

    name: ClassVar[str] = "forecast"

    def train(self, frame: pd.DataFrame, options: TrainOptions) -> Trained:
        time, target = options.require("time"), options.require("target")
        horizon = int(options.require("horizon"))
        series = regular_series(frame, time, target)
        try:
            fitted = fit_forecaster(series, horizon, params=options.params, seed=options.seed)
        except ValueError as exc:
            raise TableError(str(exc)) from exc
        report = fitted.report
        model: Forecaster = fitted.forecaster
        metrics: dict[str, Any] = {
            "cv": report["chosen"],
            "baseline": {
                **report["baselines"]["naive_day"],  # beside the model's figures in the CLI
                "model": "naive_day",
                "naive_day": report["baselines"]["naive_day"],
                "naive_week": report["baselines"]["naive_week"],
            },
            "models": report["models"],
            "by_horizon": report["by_horizon"],
            "filled_points": series.filled,
            "train_s": report["train_s"],
        }
        if "stat_subset" in report:
            metrics["stat_subset"] = report["stat_subset"]
        card = ModelCard(
            task=self.name,
            params={
                **model.gbm.get_params(),
                "choice": model.choice,
                "metric": report["training"]["calibration"]["metric"],
                "level": model.intervals.level,
                "stat_origins": int(options.params.get("stat_origins", 20)),
            },
            options=options.to_dict(),
            metrics=metrics,
            data={**fingerprint(frame), "start": str(series.start), "end": str(series.end)},
            split={
                "kind": "rolling-origin",
                "origins": report["origins"],
                "origin_stride_steps": report["origin_stride_steps"],
                "first_origin": report["first_origin"],
                "last_origin": report["last_origin"],
                "step": str(series.step),
                "calibration": "the 14 days before the first origin choose the model and size "
                "the intervals, judging a GBM that learns only from before them; the chosen "
                "GBM is then refit on everything before the first origin"
                if report["training"].get("refit")
                else "the 14 days before the first origin choose the model and size the "
                "intervals; the GBM learns only from before them",
                "baselines": "naive_day y[t-1 day], naive_week y[t-7 days]",
            },
            features=model.gbm.features_,
        )
        return Trained(model, card)

    def predict(self, model: Any, card: ModelCard, frame: pd.DataFrame) -> pd.DataFrame:
        try:
            forecaster: Forecaster = model
            return forecaster.forecast(_series(frame, card))
        except ValueError as exc:
            raise TableError(str(exc)) from exc

    def evaluate(
        self, model: Any, card: ModelCard, frame: pd.DataFrame, options: EvaluateOptions
    ) -> Evaluation:
        series = _series(frame, card)
        if options.start is None:
            first = round(len(series.values) * 0.75)
        else:
            try:
                when = parse_times(pd.Series([options.start], name="--start"))[0]
            except TableError as exc:
                raise TableError(f"--start {options.start!r}: not a time") from exc
            first = series.index_of(pd.Timestamp(when))
        if first < 2 * model.day:
            raise TableError("--start: keep at least two days of history before it")
        try:
            report = backtest(model, series, first, int(card.params.get("stat_origins", 20)))
        except ValueError as exc:
            raise TableError(str(exc)) from exc
        trained_until = pd.Timestamp(str(card.data.get("end", series.start)))
        report["in_sample"] = bool(series.start + first * series.step <= trained_until)
        if report["in_sample"]:
            report["note"] = (
                f"the model was trained on data up to {trained_until}: "
                "origins before that are in-sample"
            )
        truth, prediction = self._day_ahead(model, series, first, report["origin_stride_steps"])
        return Evaluation(self.name, report, truth, prediction, None, model.gbm.importances())

    @staticmethod
    def _day_ahead(
        model: Forecaster, series: RegularSeries, first: int, stride: int
    ) -> tuple[Any, Any]:
        """Truth and the GBM's full-horizon forecasts from the backtest origins (plots)."""
        y = series.values
        origins = np.arange(max(first - 1, 1), len(y) - 1 - model.horizon + 1, stride)
        forecast = model.gbm.forecast_many(y, origins, model.horizon, (series.start, series.step))
        index = origins[:, None] + np.arange(1, model.horizon + 1)[None, :]
        return y[index].ravel(), forecast.ravel()
