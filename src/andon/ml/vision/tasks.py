"""The ``vision`` task: train, predict and evaluate on folders of images.

``--data`` is a folder: for training and evaluation one sub-folder per class, for
prediction also a flat folder. Held-out metrics come from stratified folds of images
(each image is in exactly one test fold); the features of an image do not depend on any
other image, so they are computed once and only the scaler, the classifier and the
novelty scorer are fitted inside each fold. The baseline, measured on the same folds, is
a logistic regression on the grey-level histogram and moments alone (what brightness
tells without texture).

>>> import tempfile
>>> from PIL import Image
>>> rng = np.random.default_rng(0)
>>> root = Path(tempfile.mkdtemp())
>>> for label, blur in (("smooth", 4), ("rough", 1)):
...     (root / label).mkdir()
...     for i in range(6):
...         noise = rng.normal(0, 40, (48 // blur, 48 // blur)).repeat(blur, 0).repeat(blur, 1)
...         Image.fromarray(np.uint8(np.clip(128 + noise, 0, 255))).save(root / label / f"{i}.png")
>>> task = VisionTask()
>>> trained = task.train(task.read(root), TrainOptions(folds=3))
>>> trained.card.metrics["cv"]["accuracy"], trained.card.split["kind"]
(1.0, 'stratified')
>>> task.predict(trained.model, trained.card, task.read(root)).columns.tolist()
['file', 'label', 'class', 'probability', 'anomaly']
"""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import precision_recall_fscore_support
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from andon.errors import InvalidRequest
from andon.ml.contracts import clone
from andon.ml.evaluate import Split
from andon.ml.evaluate.metrics import multiclass_metrics
from andon.ml.registry import ModelCard
from andon.ml.tables import TableError
from andon.ml.tasks import EvaluateOptions, Evaluation, Trained, TrainOptions
from andon.ml.vision.classifier import DefectClassifier
from andon.ml.vision.features import Matrix
from andon.ml.vision.images import read_folder, require_labels

__all__ = ["ANOMALY_CUT", "VisionTask"]

_logger = logging.getLogger(__name__)
ANOMALY_CUT = 0.99  # anomaly score from which an image is reported as unlike the training set

Folds = list[tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]]


class VisionTask:
    """Surface-defect classes from images, with an anomaly score for unfamiliar images."""

    name: ClassVar[str] = "vision"

    def read(self, path: Path) -> pd.DataFrame:
        return read_folder(path)

    def train(self, frame: pd.DataFrame, options: TrainOptions) -> Trained:
        model = _model(options.params)
        labels = require_labels(frame, options.folds)
        split = Split.stratified(options.folds, options.seed)
        folds = split.folds(frame.assign(label=labels), target="label")
        started = time.perf_counter()
        features = model.extract(frame)
        per_image_ms = (time.perf_counter() - started) / len(frame) * 1000
        intensity = [i for i, n in enumerate(model.features.names()) if n.startswith("intensity")]
        metrics: dict[str, Any] = {
            "cv": _cross_validate(model, features, labels, folds),
            "baseline": _cross_validate_baseline(features[:, intensity], labels, folds),
            "feature_ms_per_image": round(per_image_ms, 2),
        }
        final = clone(model).fit_features(features, labels)
        card = ModelCard(
            task=self.name,
            params=final.get_params(),
            options=options.to_dict(),
            metrics=metrics,
            data=_fingerprint(features, labels),
            split={**split.describe(), "by": "image"},
            features=list(final.feature_importances()),
        )
        return Trained(final, card)

    def predict(self, model: Any, card: ModelCard, frame: pd.DataFrame) -> pd.DataFrame:
        features = model.extract(frame)
        proba = model.predict_proba_features(features)
        out = frame.copy()
        out["class"] = model.classes_[np.argmax(proba, axis=1)]
        out["probability"] = np.round(proba.max(axis=1), 4)
        out["anomaly"] = np.round(model.anomaly_features(features), 4)
        return out

    def evaluate(
        self, model: Any, card: ModelCard, frame: pd.DataFrame, options: EvaluateOptions
    ) -> Evaluation:
        if "label" not in frame.columns or frame["label"].isna().any():
            raise TableError("evaluation needs labelled images: one sub-folder per class")
        truth = frame["label"].astype(str).to_numpy()
        features = model.extract(frame)
        prediction = model.predict_features(features)
        known = [str(c) for c in model.classes_]
        metrics = _metrics(truth, prediction, sorted({*known, *truth}))
        metrics["unknown_classes"] = sorted({str(c) for c in truth} - set(known))
        anomaly = model.anomaly_features(features)
        metrics["anomaly"] = _anomaly_summary(anomaly)
        return Evaluation(self.name, metrics, truth, prediction, None, model.feature_importances())


def _model(params: dict[str, Any]) -> DefectClassifier:
    try:
        return DefectClassifier(**params)
    except TypeError as exc:
        known = ", ".join(DefectClassifier().get_params())
        raise InvalidRequest(f"vision: {exc}; parameters are {known}") from None


def _fingerprint(features: Matrix, labels: npt.NDArray[Any]) -> dict[str, Any]:
    """Images and classes seen, and a hash of their content (features) and labels."""
    digest = hashlib.sha256(np.ascontiguousarray(features).tobytes())
    digest.update("\n".join(labels).encode())
    classes, counts = np.unique(labels, return_counts=True)
    return {
        "rows": len(labels),
        "classes": {str(c): int(n) for c, n in zip(classes, counts, strict=True)},
        "sha256": digest.hexdigest(),
    }


def _metrics(
    truth: npt.NDArray[Any], prediction: npt.NDArray[Any], labels: list[str]
) -> dict[str, Any]:
    """Accuracy, macro F1, the confusion matrix, and precision/recall of every class."""
    labels = [str(label) for label in labels]
    metrics = multiclass_metrics(truth, prediction, labels)
    precision, recall, _, support = precision_recall_fscore_support(
        truth, prediction, labels=labels, zero_division=0
    )
    metrics["per_class"] = {
        label: {"precision": round(float(p), 3), "recall": round(float(r), 3), "n": int(n)}
        for label, p, r, n in zip(labels, precision, recall, support, strict=True)
    }
    return metrics


def _anomaly_summary(scores: Matrix) -> dict[str, Any]:
    return {
        "mean": round(float(np.mean(scores)), 3),
        f"share_over_{ANOMALY_CUT}": round(float(np.mean(scores > ANOMALY_CUT)), 3),
    }


def _cross_validate(
    model: DefectClassifier, features: Matrix, labels: npt.NDArray[Any], folds: Folds
) -> dict[str, Any]:
    """Pooled out-of-fold metrics, the accuracy of each fold, held-out anomaly scores."""
    prediction = np.empty(len(labels), dtype=labels.dtype)
    anomaly = np.empty(len(labels))
    for train, test in folds:
        fitted = clone(model).fit_features(features[train], labels[train])
        prediction[test] = fitted.predict_features(features[test])
        anomaly[test] = fitted.anomaly_features(features[test])
    result = _metrics(labels, prediction, sorted(set(labels)))
    result["fold_accuracy"] = [
        round(float(np.mean(prediction[t] == labels[t])), 4) for _, t in folds
    ]
    result["anomaly_held_out"] = _anomaly_summary(anomaly)
    return result


def _cross_validate_baseline(
    features: Matrix, labels: npt.NDArray[Any], folds: Folds
) -> dict[str, Any]:
    prediction = np.empty(len(labels), dtype=labels.dtype)
    for train, test in folds:
        baseline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000))
        prediction[test] = baseline.fit(features[train], labels[train]).predict(features[test])
    result = _metrics(labels, prediction, sorted(set(labels)))
    result["fold_accuracy"] = [
        round(float(np.mean(prediction[t] == labels[t])), 4) for _, t in folds
    ]
    return result
