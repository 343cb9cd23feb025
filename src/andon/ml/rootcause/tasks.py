"""The ``rootcause`` task: rank a KPI's factors, store the ranking, predict the KPI.

``andon ml train rootcause --data F --target KPI`` ranks every other column (but ``--drop``
and ``--time``) as a candidate factor. Rows are held out by time: by ``--time`` when given,
otherwise in file order (a plant history is written oldest first). ``--param weight=COL``
weighs rows (the parts behind a ratio). The card keeps the held-out fit of the model and
of the no-factor baseline, and the whole ranking (``metrics.ranking``).

>>> rng = np.random.default_rng(3)
>>> frame = pd.DataFrame({"hour": range(240), "humidity": rng.uniform(40, 70, 240),
...                       "shift": rng.choice(["early", "late"], 240)})
>>> frame["scrap"] = 0.01 * np.exp((frame["humidity"] - 55) / 15) + rng.normal(0, 2e-3, 240)
>>> params = {"repeats": 2, "max_iter": 60}
>>> options = TrainOptions(target="scrap", time="hour", folds=4, params=params)
>>> trained = RootCauseTask().train(frame, options)
>>> [(f["name"], f["significant"]) for f in trained.card.metrics["ranking"]]
[('humidity', True), ('shift', False)]
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import pandas as pd

from andon.errors import InvalidRequest
from andon.ml.evaluate import regression_metrics
from andon.ml.registry import ModelCard
from andon.ml.rootcause.ranking import (
    Ranking,
    RankOptions,
    as_factors,
    fit_model,
    labels,
    rank_factors,
)
from andon.ml.tables import TableError, fingerprint, require_columns
from andon.ml.tasks import EvaluateOptions, Evaluation, TableInput, Trained, TrainOptions

__all__ = ["KpiModel", "RootCauseTask"]

_RANK_PARAMS = {f.name for f in fields(RankOptions)} - {"folds", "seed"}


class KpiModel:
    """The KPI as a function of its factors (gradient boosting on all rows), for predictions."""

    def __init__(self, features: list[str], levels: dict[str, list[str]], estimator: Any) -> None:
        self.features = features
        self.levels = levels
        self.estimator = estimator

    def frame(self, data: pd.DataFrame) -> pd.DataFrame:
        """``data``'s factor columns as the model saw them (unknown categories missing)."""
        require_columns(data, self.features, "the model's factors")
        out = {}
        for name in self.features:
            if name in self.levels:
                out[name] = labels(data[name], self.levels[name])
            else:
                out[name] = pd.to_numeric(data[name], errors="coerce").astype(float)
        return pd.DataFrame(out, index=data.index)

    def predict(self, data: pd.DataFrame) -> npt.NDArray[np.float64]:
        return np.asarray(self.estimator.predict(self.frame(data)), dtype=np.float64)


def _rank_options(options: TrainOptions | dict[str, Any]) -> RankOptions:
    source = options.to_dict() if isinstance(options, TrainOptions) else options
    params = source.get("params", {})
    unknown = set(params) - _RANK_PARAMS - {"weight"}
    if unknown:
        raise InvalidRequest(f"rootcause: unknown --param {sorted(unknown)}")
    chosen = {k: v for k, v in params.items() if k in _RANK_PARAMS}
    return RankOptions(folds=int(source.get("folds", 5)), seed=int(source.get("seed", 0)), **chosen)


def _inputs(
    frame: pd.DataFrame, target: str, options: dict[str, Any]
) -> tuple[pd.DataFrame, npt.NDArray[np.float64], npt.NDArray[Any], npt.NDArray[np.float64] | None]:
    """(factors, KPI, time order, weights) of the rows whose KPI is known."""
    time, weight = options.get("time"), options.get("params", {}).get("weight")
    require_columns(frame, [target, *[c for c in (time, weight) if c]], "--target/--time/weight")
    rows = frame[pd.to_numeric(frame[target], errors="coerce").notna()].reset_index(drop=True)
    if rows.empty:
        raise TableError(f"no row has a numeric {target!r}")
    exclude = [target, *options.get("drop", []), *[c for c in (time, weight) if c]]
    missing = [c for c in exclude if c not in rows.columns]
    if missing:
        raise TableError(f"--drop: no column {missing!r} in the data")
    times = rows[time].to_numpy() if time else np.arange(len(rows))
    w = rows[weight].to_numpy(float) if weight else None
    return rows.drop(columns=exclude), rows[target].to_numpy(float), times, w


def _metrics(ranking: Ranking) -> dict[str, Any]:
    importance = {f.name: f.importance for f in ranking.factors}
    return {
        "cv": {"r2": ranking.r2, "importance": importance},
        "baseline": {"r2": ranking.baseline_r2},
        "linear_r2": ranking.linear_r2,
        "noise_level": ranking.noise_level,
        "significant": [f.name for f in ranking.factors if f.significant],
        "ranking": [f.to_dict() for f in ranking.factors],
    }


class RootCauseTask(TableInput):
    """Which factors explain a KPI, in which direction, and how sure that is."""

    name: ClassVar[str] = "rootcause"

    def train(self, frame: pd.DataFrame, options: TrainOptions) -> Trained:
        target = options.require("target")
        X, y, times, w = _inputs(frame, target, options.to_dict())
        rank_options = _rank_options(options)
        ranking = rank_factors(X, y, times, rank_options, w)
        factors = as_factors(X)
        levels = {
            str(c): [str(v) for v in factors[c].cat.categories]
            for c in factors
            if isinstance(factors[c].dtype, pd.CategoricalDtype)
        }
        estimator = fit_model(factors, y, w, rank_options)
        model = KpiModel(list(factors.columns), levels, estimator)
        card = ModelCard(
            task=self.name,
            params=estimator.get_params(),
            options=options.to_dict(),
            metrics=_metrics(ranking),
            data=fingerprint(frame),
            split={
                "kind": "time_blocks",
                "k": ranking.folds,
                "gap": rank_options.gap,
                "time": options.time or "row order",
                "target": target,
            },
            features=list(factors.columns),
        )
        return Trained(model, card)

    def predict(self, model: Any, card: ModelCard, frame: pd.DataFrame) -> pd.DataFrame:
        out = frame.copy()
        out["prediction"] = model.predict(frame)
        return out

    def evaluate(
        self, model: Any, card: ModelCard, frame: pd.DataFrame, options: EvaluateOptions
    ) -> Evaluation:
        target = str(card.options.get("target"))
        X, y, times, w = _inputs(frame, target, card.options)
        prediction = model.predict(frame.loc[pd.to_numeric(frame[target], errors="coerce").notna()])
        ranking = rank_factors(X, y, times, _rank_options(card.options), w)
        metrics = {"trained_model": regression_metrics(y, prediction), **_metrics(ranking)}
        importances = {f.name: f.importance for f in ranking.factors}
        return Evaluation(self.name, metrics, y, prediction, None, importances)
