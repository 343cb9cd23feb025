"""The ``defects`` task: ``andon ml train|predict|evaluate defects`` on a process table.

Training measures the model on stratified folds (or folds by ``--group``): every step of
:class:`~andon.ml.defects.model.DefectClassifier` (screen, selection, balancing, threshold)
is fitted inside each training fold, and the held-out fold is only scored. The same folds
score two baselines: the majority class, and a plain class-weighted logistic regression
with the 0.5 threshold. The card keeps pooled held-out metrics, their spread over folds,
and the threshold each fold chose.

>>> rng = np.random.default_rng(0)
>>> frame = pd.DataFrame(rng.normal(size=(400, 8)), columns=[f"p{i}" for i in range(8)])
>>> frame["scrap"] = (frame["p0"] + 0.3 * rng.normal(size=400) > 1.5).astype(int)
>>> card = DefectTask().train(
...     frame, TrainOptions(target="scrap", folds=3, params={"n_estimators": 40})
... ).card
>>> card.metrics["positive"], card.metrics["cv"]["f1"] > card.metrics["majority"]["f1"]
(1, True)
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import pandas as pd

from andon.ml.contracts import clone
from andon.ml.defects.model import DefectClassifier, defect_class
from andon.ml.evaluate import Split, classification_metrics
from andon.ml.evaluate.metrics import multiclass_metrics
from andon.ml.evaluate.splits import Fold
from andon.ml.maintenance.failure import derived_from_target
from andon.ml.registry import ModelCard
from andon.ml.tables import TableError, fingerprint, require_columns
from andon.ml.tasks import (
    EvaluateOptions,
    Evaluation,
    TableInput,
    Trained,
    TrainOptions,
    labelled,
)

__all__ = ["DefectTask", "defect_metrics"]


class DefectTask(TableInput):
    """Defect or scrap (two classes) or defect type (several) from process parameters."""

    name: ClassVar[str] = "defects"

    def train(self, frame: pd.DataFrame, options: TrainOptions) -> Trained:
        frame, X, y, target = labelled(frame, options)
        positive = defect_class(y, options.params.get("positive"))
        if positive is not None:
            _refuse_labels(X, y == positive, target)
        split = (
            Split.by_group(options.folds, options.seed)
            if options.group
            else Split.stratified(options.folds, options.seed)
        )
        folds = split.folds(frame, target=target, group=options.group)
        model = DefectClassifier(**{"random_state": options.seed, **options.params})
        final = clone(model).fit(X, y)
        simple = DefectClassifier(model="logistic", threshold=0.5, positive=positive)
        metrics: dict[str, Any] = {
            "positive": positive,
            "cv": cross_validate(model, X, y, folds, positive),
            "baseline": cross_validate(simple, X, y, folds, positive),
            "majority": _majority(y, folds, positive),
            "threshold": final.threshold_,
            "model": final.model_,
            "screened_columns": len(final.screen_.kept_),
        }
        card = ModelCard(
            task=self.name,
            params=final.get_params(),
            options=options.to_dict(),
            metrics=metrics,
            data=fingerprint(frame),
            split={**split.describe(), "target": target, "group": options.group},
            features=final.features_,
        )
        return Trained(final, card)

    def predict(self, model: Any, card: ModelCard, frame: pd.DataFrame) -> pd.DataFrame:
        out = frame.copy()
        proba = model.predict_proba(frame)
        out["prediction"] = model.predict(frame)
        out["probability"] = np.round(_positive_scores(model, proba), 4)
        return out

    def evaluate(
        self, model: Any, card: ModelCard, frame: pd.DataFrame, options: EvaluateOptions
    ) -> Evaluation:
        target = str(card.options.get("target"))
        require_columns(frame, [target], "the model's target")
        labelled = frame[frame[target].notna()]
        truth = labelled[target].to_numpy()
        proba = model.predict_proba(labelled)
        prediction = model.predict(labelled)
        metrics = defect_metrics(model.classes_, model.positive_, truth, prediction, proba)
        binary = model.threshold_ is not None
        return Evaluation(
            self.name,
            metrics,
            truth,
            prediction,
            _positive_scores(model, proba) if binary else None,
            model.feature_importances(),
        )


def _refuse_labels(X: pd.DataFrame, defect: npt.NDArray[np.bool_], target: str) -> None:
    leaked = derived_from_target(X, defect.astype(int))
    if leaked:
        raise TableError(
            f"columns {leaked} are 1 only where {target!r} is at its defect value: they are "
            "labels, not process parameters (label leakage); leave them out with --drop"
        )


def _positive_scores(model: DefectClassifier, proba: npt.NDArray[np.float64]) -> Any:
    if model.threshold_ is None:
        return proba.max(axis=1)
    return proba[:, int(np.flatnonzero(model.classes_ == model.positive_)[0])]


def defect_metrics(
    classes: npt.NDArray[Any],
    positive: Any,
    truth: npt.NDArray[Any],
    prediction: npt.NDArray[Any],
    proba: npt.NDArray[np.float64] | None,
) -> dict[str, Any]:
    """Defect-class metrics (precision, recall, F1, balanced accuracy, ROC-AUC) for two
    classes, accuracy and macro F1 for several.

    >>> defect_metrics(np.array(["ok", "nok"]), "nok", np.array(["ok", "nok", "nok"]),
    ...                np.array(["ok", "nok", "ok"]), None)["recall"]
    0.5
    """
    if positive is None:
        return multiclass_metrics(truth, prediction, list(classes))
    scores = None if proba is None else proba[:, int(np.flatnonzero(classes == positive)[0])]
    return classification_metrics(truth == positive, prediction == positive, scores)


def cross_validate(
    model: DefectClassifier,
    X: pd.DataFrame,
    y: npt.NDArray[Any],
    folds: list[Fold],
    positive: Any,
) -> dict[str, Any]:
    """Pooled held-out metrics of ``model`` over ``folds``, with per-fold F1 and thresholds.

    Each fold fits a fresh copy on its training rows only; the held-out rows are scored.
    """
    classes = np.unique(y)
    proba = np.zeros((len(y), len(classes)))
    prediction = np.empty(len(y), dtype=y.dtype)
    per_fold, thresholds = [], []
    for train, test in folds:
        fitted = clone(model).fit(X.iloc[train], y[train])
        columns = np.searchsorted(classes, fitted.classes_)
        proba[np.ix_(test, columns)] = fitted.predict_proba(X.iloc[test])
        prediction[test] = fitted.predict(X.iloc[test])
        per_fold.append(defect_metrics(classes, positive, y[test], prediction[test], proba[test]))
        thresholds.append(fitted.threshold_)
    result = defect_metrics(classes, positive, y, prediction, proba)
    key = "macro_f1" if positive is None else "f1"
    result[f"fold_{key}"] = [f[key] for f in per_fold]
    result[f"fold_{key}_std"] = round(float(np.std(result[f"fold_{key}"])), 3)
    if positive is not None:
        result["fold_threshold"] = thresholds
    return result


def _majority(y: npt.NDArray[Any], folds: list[Fold], positive: Any) -> dict[str, Any]:
    """Held-out metrics of calling every row the training fold's commonest class."""
    classes = np.unique(y)
    prediction = np.empty(len(y), dtype=y.dtype)
    proba = np.zeros((len(y), len(classes)))
    for train, test in folds:
        values, counts = np.unique(y[train], return_counts=True)
        prediction[test] = values[np.argmax(counts)]
        proba[np.ix_(test, np.searchsorted(classes, values))] = counts / counts.sum()
    return defect_metrics(classes, positive, y, prediction, proba)
