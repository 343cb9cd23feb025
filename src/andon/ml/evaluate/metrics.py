"""Metrics of the maintenance tasks: classification, regression and the PHM08 score.

>>> m = classification_metrics([0, 1, 1, 0], [0, 1, 0, 0], [0.1, 0.9, 0.4, 0.2])
>>> m["f1"], m["precision"], m["recall"], m["roc_auc"]
(0.667, 1.0, 0.5, 1.0)
>>> m["confusion"]
[[2, 0], [1, 1]]
>>> phm08_score([100.0, 50.0], [90.0, 60.0])  # late by 10 costs more than early by 10
2.876
>>> regression_metrics([10.0, 20.0], [12.0, 18.0])["rmse"]
2.0
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn import metrics as skm

__all__ = ["classification_metrics", "multiclass_metrics", "phm08_score", "regression_metrics"]


def _round(value: float, digits: int = 3) -> float:
    return round(float(value), digits)


def classification_metrics(
    y_true: npt.ArrayLike, y_pred: npt.ArrayLike, proba: npt.ArrayLike | None = None
) -> dict[str, Any]:
    """Binary metrics for the positive class (1): F1, precision, recall, ROC-AUC, ...

    ``proba`` is the positive-class probability; AUCs are left out without it or when
    only one class is present.
    """
    truth, pred = np.asarray(y_true).astype(int), np.asarray(y_pred).astype(int)
    result: dict[str, Any] = {
        "n": len(truth),
        "positives": int(truth.sum()),
        "accuracy": _round(skm.accuracy_score(truth, pred)),
        "balanced_accuracy": _round(_balanced(truth, pred)),
        "precision": _round(skm.precision_score(truth, pred, zero_division=0)),
        "recall": _round(skm.recall_score(truth, pred, zero_division=0)),
        "f1": _round(skm.f1_score(truth, pred, zero_division=0)),
        "confusion": skm.confusion_matrix(truth, pred, labels=[0, 1]).tolist(),
    }
    if proba is not None and len(np.unique(truth)) == 2:
        p = np.asarray(proba, dtype=float)
        result["roc_auc"] = _round(skm.roc_auc_score(truth, p))
        result["pr_auc"] = _round(skm.average_precision_score(truth, p))
        result["brier"] = _round(skm.brier_score_loss(truth, p), 4)
    return result


def multiclass_metrics(
    y_true: npt.ArrayLike, y_pred: npt.ArrayLike, labels: list[Any]
) -> dict[str, Any]:
    """Accuracy, balanced accuracy, macro F1 and the confusion matrix over ``labels``.

    >>> multiclass_metrics(["a", "b", "c"], ["a", "b", "b"], ["a", "b", "c"])["macro_f1"]
    0.556
    """
    truth, pred = np.asarray(y_true), np.asarray(y_pred)
    return {
        "n": len(truth),
        "labels": [str(label) for label in labels],
        "accuracy": _round(skm.accuracy_score(truth, pred)),
        "balanced_accuracy": _round(skm.balanced_accuracy_score(truth, pred)),
        "macro_f1": _round(
            skm.f1_score(truth, pred, labels=labels, average="macro", zero_division=0)
        ),
        "confusion": skm.confusion_matrix(truth, pred, labels=labels).tolist(),
    }


def _balanced(truth: npt.NDArray[np.int_], pred: npt.NDArray[np.int_]) -> float:
    recalls = [np.mean(pred[truth == c] == c) for c in (0, 1) if np.any(truth == c)]
    return float(np.mean(recalls)) if recalls else float("nan")


def phm08_score(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> float:
    """The PHM08 challenge score: ``sum(exp(-d/13) - 1)`` early, ``sum(exp(d/10) - 1)`` late.

    ``d = predicted - true``; late predictions (d > 0) are penalised more, as a missed
    failure costs more than an early repair.
    """
    d = np.asarray(y_pred, dtype=float) - np.asarray(y_true, dtype=float)
    return _round(np.sum(np.where(d < 0, np.expm1(-d / 13.0), np.expm1(d / 10.0))))


def regression_metrics(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> dict[str, Any]:
    """RMSE, MAE, bias (mean of predicted - true), R² and the PHM08 score."""
    truth, pred = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    error = pred - truth
    return {
        "n": len(truth),
        "rmse": _round(np.sqrt(np.mean(error**2))),
        "mae": _round(np.mean(np.abs(error))),
        "bias": _round(np.mean(error)),
        "r2": _round(skm.r2_score(truth, pred)) if len(truth) > 1 else None,
        "phm08": phm08_score(truth, pred),
    }
