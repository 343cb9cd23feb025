"""Defect (scrap) prediction from process parameters, built for rare defects and wide tables.

:class:`DefectClassifier` learns, from the training rows only and in this order: the
columns' plan (numbers as they are, small categories as codes, identifiers left out), the
:class:`~andon.ml.defects.screen.ColumnScreen` (mostly-missing and near-constant columns
out, gaps median-filled, a missing-count feature and, with ``missing_flags``, a "was
missing" flag for each column whose gaps differ by class), the optional univariate selection
of ``select`` columns, a class-balanced model, and, for a binary target, the decision
threshold that maximises the defect class's F1 on validation scores of the training rows
(the balanced forest's out-of-bag votes; ``inner_folds``-fold cross-validation inside the
training rows for the other models). Nothing is ever fitted on rows it is later judged on.

Models: ``balanced_forest`` (trees on class-balanced bootstraps, the default for two
classes), ``boosting`` (LightGBM with balanced class weights, the default for more) and
``logistic`` (L2-regularised, balanced). The defect class is ``positive``, by default the
rarer class of a binary target. Scores of the balanced models over-state the defect rate
(the classes were made equal): read them as a ranking, and use the chosen threshold.

>>> rng = np.random.default_rng(0)
>>> X = pd.DataFrame(rng.normal(size=(600, 30)), columns=[f"s{i}" for i in range(30)])
>>> X["flat"] = 1.0
>>> y = np.where(X["s0"] + 0.5 * rng.normal(size=600) > 1.6, "scrap", "good")
>>> model = DefectClassifier(n_estimators=60, select=10).fit(X, y)
>>> model.positive_, "flat" in model.features_, "s0" in model.features_
('scrap', False, True)
>>> float(np.mean(model.predict(X) == y)) > 0.9
True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, Self

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from andon.ml.defects.forest import BalancedForest
from andon.ml.defects.screen import ColumnScreen, UnivariateSelector
from andon.ml.maintenance.failure import FeaturePlan
from andon.ml.tables import TableError

__all__ = ["MODELS", "DefectClassifier", "best_threshold", "defect_class"]

Matrix = npt.NDArray[np.float64]
FLAG_GAP = 0.05  # missing-share difference between classes that earns a column a flag


class _Fitted(Protocol):
    def predict_proba(self, X: Matrix) -> Matrix: ...


def _forest(model: DefectClassifier, X: Matrix, y: npt.NDArray[np.intp]) -> BalancedForest:
    return BalancedForest(
        n_estimators=model.n_estimators, ratio=model.ratio, random_state=model.random_state
    ).fit(X, y)


def _boosting(model: DefectClassifier, X: Matrix, y: npt.NDArray[np.intp]) -> _Fitted:
    booster = lgb.LGBMClassifier(
        n_estimators=model.n_estimators,
        learning_rate=0.05,
        num_leaves=15,
        min_child_samples=10,
        subsample=0.8,
        subsample_freq=1,
        colsample_bytree=0.5,
        reg_lambda=1.0,
        class_weight="balanced",
        random_state=model.random_state,
        n_jobs=model.n_jobs,
        verbose=-1,
    )
    fitted: _Fitted = booster.fit(X, y)
    return fitted


def _logistic(model: DefectClassifier, X: Matrix, y: npt.NDArray[np.intp]) -> _Fitted:
    pipeline = make_pipeline(
        StandardScaler(), LogisticRegression(C=model.C, class_weight="balanced", max_iter=5000)
    )
    fitted: _Fitted = pipeline.fit(X, y)
    return fitted


MODELS: dict[str, Callable[[DefectClassifier, Matrix, npt.NDArray[np.intp]], _Fitted]] = {
    "balanced_forest": _forest,
    "boosting": _boosting,
    "logistic": _logistic,
}


def best_threshold(scores: npt.ArrayLike, positive: npt.ArrayLike) -> float:
    """The score from which a row is called a defect that maximises F1 on ``scores``.

    Candidates are the scores themselves (at most 201 quantiles of them); 0.5 when no
    candidate finds a defect.

    >>> best_threshold([0.1, 0.2, 0.35, 0.8, 0.9], [0, 0, 1, 1, 1])
    0.35
    """
    values, truth = np.asarray(scores, dtype=float), np.asarray(positive, dtype=bool)
    candidates = np.unique(np.quantile(values, np.linspace(0.0, 1.0, 201), method="lower"))
    called = values[None, :] >= candidates[:, None]
    hits = (called & truth).sum(axis=1)
    f1 = 2 * hits / np.maximum(called.sum(axis=1) + truth.sum(), 1)
    best = int(np.argmax(f1))
    return round(float(candidates[best]), 6) if f1[best] > 0 else 0.5


def defect_class(target: npt.ArrayLike, given: Any = None) -> Any:
    """The defect class of a target: ``given``, else the rarer of two classes (ties: the
    larger value); None for several classes.

    >>> defect_class(["pass", "fail", "pass"]), defect_class([-1, 1, -1, -1])
    ('fail', 1)
    >>> defect_class([0, 1, 2]) is None
    True
    """
    values, counts = np.unique(np.asarray(target), return_counts=True)
    if given is not None:
        if given not in set(values.tolist()):
            known = ", ".join(map(str, values))
            raise TableError(f"positive class {given!r} is not a target value: {known}")
        return given
    if len(values) != 2:
        return None
    rarer = values[0] if counts[0] < counts[1] else values[1]
    return rarer.item() if isinstance(rarer, np.generic) else rarer


class DefectClassifier:
    """Defect class (binary, thresholded) or defect type (several classes) from a table."""

    def __init__(
        self,
        model: str = "auto",
        n_estimators: int = 300,
        ratio: float = 2.0,
        select: int | None = None,
        max_missing: float = 0.5,
        near_constant: float = 0.99,
        missing_flags: bool = False,
        C: float = 0.05,
        threshold: float | None = None,
        positive: Any = None,
        inner_folds: int = 3,
        random_state: int = 0,
        n_jobs: int = 1,
    ) -> None:
        self.model = model
        self.n_estimators = n_estimators
        self.ratio = ratio
        self.select = select
        self.max_missing = max_missing
        self.near_constant = near_constant
        self.missing_flags = missing_flags
        self.C = C
        self.threshold = threshold
        self.positive = positive
        self.inner_folds = inner_folds
        self.random_state = random_state
        self.n_jobs = n_jobs

    def get_params(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "n_estimators": self.n_estimators,
            "ratio": self.ratio,
            "select": self.select,
            "max_missing": self.max_missing,
            "near_constant": self.near_constant,
            "missing_flags": self.missing_flags,
            "C": self.C,
            "threshold": self.threshold,
            "positive": self.positive,
            "inner_folds": self.inner_folds,
            "random_state": self.random_state,
            "n_jobs": self.n_jobs,
        }

    def fit(self, X: pd.DataFrame, y: npt.ArrayLike) -> Self:
        target = np.asarray(y)
        self.classes_, codes = np.unique(target, return_inverse=True)
        if len(self.classes_) < 2:
            raise TableError("the target has a single class: nothing to learn")
        self.positive_ = defect_class(target, self.positive)
        self.model_ = self._model_name()
        if self.model_ not in MODELS:
            raise TableError(f"unknown defects model {self.model!r}: auto or {', '.join(MODELS)}")
        ordering = codes if self.positive_ is None else (target == self.positive_).astype(int)
        self.plan_ = FeaturePlan.learn(X, ordering, physics=False)
        raw = self.plan_.transform(X).to_numpy(dtype=float)
        gap = FLAG_GAP if self.missing_flags else None
        self.screen_ = ColumnScreen(self.max_missing, self.near_constant, flag_gap=gap)
        self.screen_.fit(raw, codes)
        screened = self.screen_.transform(raw)
        self.selector_ = UnivariateSelector(self.select).fit(screened, codes)
        names = self.screen_.names(self.plan_.features)
        self.features_ = [names[i] for i in self.selector_.chosen_]
        self.estimator_ = MODELS[self.model_](self, self.selector_.transform(screened), codes)
        self.threshold_ = self._choose_threshold(X, target)
        return self

    def _model_name(self) -> str:
        if self.model != "auto":
            return self.model
        return "balanced_forest" if len(self.classes_) == 2 else "boosting"

    @property
    def _column(self) -> int:
        return int(np.flatnonzero(self.classes_ == self.positive_)[0])

    def _choose_threshold(self, X: pd.DataFrame, target: npt.NDArray[Any]) -> float | None:
        if len(self.classes_) != 2:
            return None
        if self.threshold is not None:
            return self.threshold
        if isinstance(self.estimator_, BalancedForest):
            scores = self.estimator_.oob_proba_[:, self._column]
            return best_threshold(scores, target == self.positive_)
        return best_threshold(self._inner_scores(X, target), target == self.positive_)

    def _inner_scores(self, X: pd.DataFrame, target: npt.NDArray[Any]) -> Matrix:
        """Defect scores of the training rows, each from a model fitted without it."""
        if np.unique(target, return_counts=True)[1].min() < self.inner_folds:
            raise TableError(
                f"choosing the threshold on {self.inner_folds} inner folds needs at least "
                f"{self.inner_folds} rows of each class in the training rows"
            )
        folds = StratifiedKFold(self.inner_folds, shuffle=True, random_state=self.random_state)
        params = {**self.get_params(), "threshold": 0.5, "positive": self.positive_}
        scores = np.zeros(len(target))
        for train, valid in folds.split(np.zeros(len(target)), target):
            inner = DefectClassifier(**params).fit(X.iloc[train], target[train])
            scores[valid] = inner.predict_proba(X.iloc[valid])[:, self._column]
        return scores

    def predict_proba(self, X: pd.DataFrame) -> Matrix:
        """Class scores per row, columns in ``classes_`` order."""
        raw = self.plan_.transform(X).to_numpy(dtype=float)
        rows = self.selector_.transform(self.screen_.transform(raw))
        return np.asarray(self.estimator_.predict_proba(rows), dtype=np.float64)

    def predict(self, X: pd.DataFrame) -> npt.NDArray[Any]:
        proba = self.predict_proba(X)
        if self.threshold_ is None:
            return np.asarray(self.classes_[np.argmax(proba, axis=1)])
        other = self.classes_[1 - self._column]
        called = proba[:, self._column] >= self.threshold_
        return np.asarray(np.where(called, self.positive_, other))

    def feature_importances(self) -> dict[str, float]:
        """Importance per feature, largest first, summing to about 1."""
        raw = self._raw_importances()
        total = float(raw.sum()) or 1.0
        pairs = sorted(zip(self.features_, raw / total, strict=True), key=lambda p: -p[1])
        return {name: round(float(v), 4) for name, v in pairs}

    def _raw_importances(self) -> Matrix:
        estimator: Any = self.estimator_
        if isinstance(estimator, BalancedForest):
            return estimator.feature_importances()
        if isinstance(estimator, lgb.LGBMClassifier):
            gains = estimator.booster_.feature_importance(importance_type="gain")
            return np.asarray(gains, dtype=np.float64)
        coefficients = np.abs(estimator[-1].coef_).sum(axis=0)
        return np.asarray(coefficients, dtype=np.float64)
