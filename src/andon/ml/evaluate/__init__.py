"""Honest evaluation: splits by unit or time, metrics, and the NAB anomaly score."""

from __future__ import annotations

from andon.ml.evaluate import nab
from andon.ml.evaluate.metrics import classification_metrics, phm08_score, regression_metrics
from andon.ml.evaluate.splits import Fold, LeakageError, Split, assert_no_leak

__all__ = [
    "Fold",
    "LeakageError",
    "Split",
    "assert_no_leak",
    "classification_metrics",
    "nab",
    "phm08_score",
    "regression_metrics",
]
