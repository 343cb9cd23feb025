"""Remaining useful life from run-to-failure histories of many units.

The target is piecewise linear: a unit's RUL, capped at ``cap`` cycles (a healthy unit
shows no sign of how long it will last). Sensors are normalised per operating condition:
conditions are found by clustering the operating-setting columns, so a fleet flying six
regimes (C-MAPSS FD002/FD004) is handled by the same code as a single-regime one, with no
per-dataset tuning. Features are each unit's own rolling history (see
:func:`andon.ml.features.history_features`) plus its age; the model is an average of a
few LightGBM regressors with different seeds.

>>> rng = np.random.default_rng(1)
>>> rows = [(u, t, 100 - t + rng.normal(0, 2)) for u in range(12) for t in range(1, 80 + u)]
>>> X = pd.DataFrame(rows, columns=["unit", "time", "wear_sensor"])
>>> y = X.groupby("unit")["time"].transform("max") - X["time"]
>>> model = RulRegressor(n_estimators=60, seeds=1).fit(X, y)
>>> prediction = model.predict(X)
>>> bool(np.sqrt(np.mean((prediction - np.minimum(y, 125)) ** 2)) < 10)
True
"""

from __future__ import annotations

import logging
import re
from typing import Any, Self

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.linear_model import Ridge

from andon.ml.features import history_features
from andon.ml.maintenance.conditions import ConditionNormalizer
from andon.ml.tables import TableError, require_columns

__all__ = ["CONDITION_NAMES", "RulRegressor"]

_logger = logging.getLogger(__name__)
CONDITION_NAMES = re.compile(r"(setting|condition|regime|operat|op_?mode|altitude|mach|throttle)")


class RulRegressor:
    """Capped-RUL regressor on per-unit history; ``model="linear"`` is the simple baseline."""

    def __init__(
        self,
        unit: str = "unit",
        time: str = "time",
        cap: float = 125.0,
        conditions: list[str] | None = None,
        windows: tuple[int, ...] = (5, 10, 20, 30),
        model: str = "gbm",
        n_estimators: int = 600,
        learning_rate: float = 0.02,
        num_leaves: int = 15,
        seeds: int = 3,
        random_state: int = 0,
        n_jobs: int = 1,
    ) -> None:
        self.unit = unit
        self.time = time
        self.cap = cap
        self.conditions = conditions
        self.windows = windows
        self.model = model
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.seeds = seeds
        self.random_state = random_state
        self.n_jobs = n_jobs

    def get_params(self) -> dict[str, Any]:
        return {
            "unit": self.unit,
            "time": self.time,
            "cap": self.cap,
            "conditions": self.conditions,
            "windows": self.windows,
            "model": self.model,
            "n_estimators": self.n_estimators,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "seeds": self.seeds,
            "random_state": self.random_state,
            "n_jobs": self.n_jobs,
        }

    def fit(self, X: pd.DataFrame, y: npt.ArrayLike) -> Self:
        require_columns(X, [self.unit, self.time], "--unit/--time")
        order = _order(X, self.unit, self.time)
        frame = X.iloc[order]
        target = np.minimum(np.asarray(y, dtype=float)[order], self.cap)
        conditions = self._condition_columns(frame)
        candidates = [c for c in _numeric(frame) if c not in {self.unit, self.time, *conditions}]
        self.normalizer_ = ConditionNormalizer(conditions).fit(frame, candidates)
        self.sensors_ = self.normalizer_.informative
        if not self.sensors_:
            raise TableError("no sensor column varies: nothing to learn RUL from")
        features = self._features(frame)
        self.features_ = list(features.columns)
        self.estimators_ = [self._estimator(seed).fit(features, target) for seed in self._seeds()]
        _logger.info(
            "RUL model: %d sensors, %d conditions, %d features",
            len(self.sensors_),
            self.normalizer_.n_conditions,
            len(self.features_),
        )
        return self

    def _seeds(self) -> range:
        count = 1 if self.model == "linear" else max(1, self.seeds)
        return range(self.random_state, self.random_state + count)

    def _condition_columns(self, frame: pd.DataFrame) -> list[str]:
        if self.conditions is not None:
            require_columns(frame, self.conditions, "conditions")
            return list(self.conditions)
        named = [c for c in _numeric(frame) if CONDITION_NAMES.search(c.lower())]
        return [c for c in named if c not in {self.unit, self.time}]

    def _estimator(self, seed: int) -> lgb.LGBMRegressor | Ridge:
        if self.model == "linear":
            return Ridge(alpha=1.0)
        if self.model != "gbm":
            raise TableError(f"unknown RUL model {self.model!r} (gbm or linear)")
        return lgb.LGBMRegressor(
            n_estimators=self.n_estimators,
            learning_rate=self.learning_rate,
            num_leaves=self.num_leaves,
            min_child_samples=50,
            subsample=0.7,
            subsample_freq=1,
            colsample_bytree=0.5,
            reg_lambda=1.0,
            random_state=seed,
            n_jobs=self.n_jobs,
            verbose=-1,
        )

    def _features(self, frame: pd.DataFrame) -> pd.DataFrame:
        normalised = self.normalizer_.transform(frame)
        if self.model == "linear":  # the baseline: today's sensor values and age only
            return normalised.assign(**{self.time: frame[self.time].to_numpy(dtype=float)})
        joined = pd.concat([frame[[self.unit]], normalised], axis=1)
        history = history_features(joined, self.unit, self.sensors_, windows=self.windows)
        ages = frame[self.time].to_numpy(dtype=float)
        return pd.concat([normalised, history], axis=1).assign(**{self.time: ages})

    def predict(self, X: pd.DataFrame) -> npt.NDArray[np.float64]:
        """Capped RUL per row, from each unit's rows up to and including that row."""
        require_columns(X, [self.unit, self.time, *self.normalizer_.inputs], "RUL model input")
        order = _order(X, self.unit, self.time)
        features = self._features(X.iloc[order])[self.features_]
        mean = np.mean([e.predict(features) for e in self.estimators_], axis=0)
        result = np.empty(len(X))
        result[order] = np.clip(mean, 0.0, self.cap)
        return result

    def feature_importances(self) -> dict[str, float]:
        """Split-gain importance averaged over the ensemble, largest first (GBM only)."""
        if self.model != "gbm":
            return {}
        gains = np.mean([e.booster_.feature_importance("gain") for e in self.estimators_], axis=0)
        total = float(np.sum(gains)) or 1.0
        pairs = sorted(zip(self.features_, gains / total, strict=True), key=lambda p: -p[1])
        return {name: round(float(v), 4) for name, v in pairs}


def _numeric(frame: pd.DataFrame) -> list[str]:
    return [str(c) for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]


def _order(X: pd.DataFrame, unit: str, time: str) -> npt.NDArray[np.intp]:
    """Row positions sorted by unit, then time (stable)."""
    keys = pd.DataFrame({"u": X[unit].to_numpy(), "t": X[time].to_numpy()})
    return np.asarray(keys.sort_values(["u", "t"], kind="stable").index.to_numpy(), dtype=np.intp)
