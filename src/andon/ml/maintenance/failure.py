"""Failure risk from process signals: a random forest on physics features.

The feature plan is learned from the training table: numeric columns as they are, small
categorical columns as codes, identifiers (free text, row numbers) left out, and physics
features from the recognised signal roles (see :mod:`andon.ml.features`). The decision
threshold of a binary model maximises F1 on the forest's out-of-bag predictions, so it is
chosen on the training rows only.

>>> rng = np.random.default_rng(0)
>>> X = pd.DataFrame({"torque_nm": rng.normal(40, 10, 400), "rpm": rng.normal(1500, 150, 400)})
>>> y = (X["torque_nm"] * X["rpm"] > 75_000).astype(int)
>>> model = FailureClassifier(n_estimators=50).fit(X, y)
>>> "power_w" in model.plan_.features
True
>>> float((model.predict(X) == y).mean()) > 0.95
True
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from typing import Any, Self

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from andon.ml.features import find_roles, physics_features
from andon.ml.tables import TableError

__all__ = ["FailureClassifier", "FeaturePlan", "derived_from_target"]

_logger = logging.getLogger(__name__)
_MAX_CATEGORIES = 30
_KELVIN_MIN = 150.0  # a temperature column whose values sit above this is in kelvin


@dataclass
class FeaturePlan:
    """Which input columns a model uses and how it turns them into features."""

    numeric: list[str] = field(default_factory=list)
    categories: dict[str, list[str]] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)
    kelvin: dict[str, bool] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)
    physics: bool = True
    defaults: dict[str, float | str] = field(default_factory=dict)

    @classmethod
    def learn(
        cls, X: pd.DataFrame, y: npt.ArrayLike | None = None, physics: bool = True
    ) -> FeaturePlan:
        """The plan for training table ``X``; categories are ordered by their rate of the
        target's last class in ``y`` (training rows only), so trees split them in order."""
        plan = cls(physics=physics)
        for column in X.columns:
            name, values = str(column), X[column]
            if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
                plan._add_category(name, values, y)
            elif _is_row_number(values):
                plan.ignored.append(name)
            else:
                plan.numeric.append(name)
                plan.defaults[name] = float(values.median())
        plan.roles = find_roles(plan.numeric) if physics else {}
        plan.kelvin = {
            role: bool(X[col].median() > _KELVIN_MIN)
            for role, col in plan.roles.items()
            if role.endswith("_temp")
        }
        if plan.ignored:
            _logger.info("left out as identifiers: %s", ", ".join(plan.ignored))
        return plan

    def _add_category(self, name: str, values: pd.Series, y: npt.ArrayLike | None) -> None:
        levels = values.dropna().astype(str)
        unique = levels.unique()
        if len(unique) > _MAX_CATEGORIES or len(unique) > 0.5 * len(values):
            self.ignored.append(name)
            return
        order = sorted(unique)
        if y is not None:
            target = np.asarray(y)
            hit = pd.Series(target == np.max(target), index=values.index)
            rate = hit[values.notna()].groupby(levels).mean()
            order = sorted(unique, key=lambda level: (rate.get(level, 0.0), level))
        self.categories[name] = order
        self.defaults[name] = str(levels.mode().iloc[0]) if len(levels) else ""

    @property
    def inputs(self) -> list[str]:
        """The input columns a table must have."""
        return [*self.numeric, *self.categories]

    @property
    def features(self) -> list[str]:
        names = [*self.numeric, *self.categories]
        if self.physics:
            names += list(physics_features(_probe(self.roles), self.roles))
        return names

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        missing = [c for c in self.inputs if c not in X.columns]
        if missing:
            raise TableError(f"the data lacks the model's input columns {missing}")
        out: dict[str, Any] = {c: X[c].to_numpy(dtype=float) for c in self.numeric}
        for column, levels in self.categories.items():
            codes = pd.Categorical(X[column].astype(str), categories=levels).codes
            out[column] = np.where(codes < 0, np.nan, codes).astype(float)
        if self.physics:
            out.update(physics_features(X, self.roles))
        return pd.DataFrame(out, index=X.index)


def _probe(roles: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame({column: [1.0] for column in roles.values()})


def _is_row_number(values: pd.Series) -> bool:
    """An integer column counting up by one per row is an index, not a signal."""
    if not pd.api.types.is_integer_dtype(values) or len(values) < 3:
        return False
    steps = np.diff(values.to_numpy())
    return bool(np.all(steps == 1))


def derived_from_target(X: pd.DataFrame, y: npt.ArrayLike) -> list[str]:
    """0/1 columns that are 1 only where the target is positive: failure-mode labels.

    Such columns are the answer in disguise (label leakage), so training refuses them.

    >>> X = pd.DataFrame({"TWF": [0, 1, 0, 0], "torque": [1.0, 2.0, 3.0, 4.0]})
    >>> derived_from_target(X, [0, 1, 1, 0])
    ['TWF']
    """
    target = np.asarray(y)
    if len(np.unique(target)) != 2:
        return []
    positive = target == np.max(target)
    found = []
    for column in X.columns:
        values = X[column]
        if not pd.api.types.is_numeric_dtype(values) or not set(values.dropna().unique()) <= {0, 1}:
            continue
        ones = values.to_numpy() == 1
        if ones.any() and np.all(positive[ones]):
            found.append(str(column))
    return found


class FailureClassifier:
    """Failure (or failure type) classifier; ``model="logistic"`` is the simple baseline."""

    def __init__(
        self,
        n_estimators: int = 300,
        max_features: float = 0.6,
        physics: bool = True,
        model: str = "forest",
        threshold: float | None = None,
        random_state: int = 0,
        n_jobs: int = 1,
    ) -> None:
        self.n_estimators = n_estimators
        self.max_features = max_features
        self.physics = physics
        self.model = model
        self.threshold = threshold
        self.random_state = random_state
        self.n_jobs = n_jobs

    def get_params(self) -> dict[str, Any]:
        return {
            "n_estimators": self.n_estimators,
            "max_features": self.max_features,
            "physics": self.physics,
            "model": self.model,
            "threshold": self.threshold,
            "random_state": self.random_state,
            "n_jobs": self.n_jobs,
        }

    def fit(self, X: pd.DataFrame, y: npt.ArrayLike) -> Self:
        target = np.asarray(y)
        self.plan_ = FeaturePlan.learn(X, target, physics=self.physics)
        features = self.plan_.transform(X)
        self.classes_ = np.unique(target)
        if len(self.classes_) < 2:
            raise TableError("the target has a single class: nothing to learn")
        self.estimator_ = self._estimator()
        with warnings.catch_warnings():
            # A small forest leaves some rows without out-of-bag votes; they are ignored
            # when the threshold is chosen, which is what the warning is about.
            warnings.filterwarnings("ignore", "Some inputs do not have OOB scores")
            self.estimator_.fit(features, target)
        self.threshold_ = self._choose_threshold(target)
        return self

    def _estimator(self) -> RandomForestClassifier | Pipeline:
        if self.model == "logistic":
            return make_pipeline(
                SimpleImputer(strategy="median"),
                StandardScaler(),
                LogisticRegression(max_iter=2000),
            )
        if self.model != "forest":
            raise TableError(f"unknown failure model {self.model!r} (forest or logistic)")
        return RandomForestClassifier(
            n_estimators=self.n_estimators,
            max_features=self.max_features,
            oob_score=True,
            random_state=self.random_state,
            n_jobs=self.n_jobs,
        )

    def _choose_threshold(self, target: npt.NDArray[Any]) -> float:
        if self.threshold is not None:
            return self.threshold
        if len(self.classes_) != 2 or not isinstance(self.estimator_, RandomForestClassifier):
            return 0.5
        oob = self.estimator_.oob_decision_function_[:, 1]
        voted = np.isfinite(oob)  # rows that every tree saw have no out-of-bag vote
        oob, positive = oob[voted], (target == self.classes_[1])[voted]
        grid = np.round(np.arange(0.2, 0.8, 0.025), 3)
        scores = [f1_score(positive, oob >= t, zero_division=0) for t in grid]
        return float(grid[int(np.argmax(scores))])

    def predict_proba(self, X: pd.DataFrame) -> npt.NDArray[np.float64]:
        features = self.plan_.transform(X)
        estimator = self.estimator_
        if isinstance(estimator, RandomForestClassifier):
            # The trees' own predict, without scikit-learn's per-call validation and joblib
            # dispatch: the same numbers, ten times faster on the small batches of live
            # scoring (tests compare both paths).
            rows = np.ascontiguousarray(features.to_numpy(dtype=np.float32))
            trees = [tree.tree_.predict(rows) for tree in estimator.estimators_]
            return np.asarray(np.mean(trees, axis=0), dtype=np.float64)
        proba: npt.NDArray[np.float64] = estimator.predict_proba(features)
        return proba

    def predict(self, X: pd.DataFrame) -> npt.NDArray[Any]:
        proba = self.predict_proba(X)
        if len(self.classes_) == 2:
            chosen = np.where(proba[:, 1] >= self.threshold_, self.classes_[1], self.classes_[0])
            return np.asarray(chosen)
        return np.asarray(self.classes_[np.argmax(proba, axis=1)])

    def feature_importances(self) -> dict[str, float]:
        """Mean decrease in impurity per feature (empty for the logistic baseline)."""
        estimator = self.estimator_
        if not isinstance(estimator, RandomForestClassifier):
            return {}
        pairs = zip(self.plan_.features, estimator.feature_importances_, strict=True)
        return {name: round(float(v), 4) for name, v in sorted(pairs, key=lambda p: -p[1])}
