"""The ``failure`` and ``rul`` tasks: train with held-out metrics, predict, evaluate.

>>> rng = np.random.default_rng(0)
>>> frame = pd.DataFrame({"torque": rng.normal(40, 10, 300), "id": range(300)})
>>> frame["failed"] = (frame["torque"] > 58).astype(int)
>>> trained = FailureTask().train(
...     frame, TrainOptions(target="failed", drop=("id",), folds=3, params={"n_estimators": 30})
... )
>>> trained.card.split["kind"], trained.card.metrics["cv"]["f1"] > 0.8
('stratified', True)
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import pandas as pd

from andon.ml.contracts import clone
from andon.ml.evaluate import Split, classification_metrics, regression_metrics
from andon.ml.evaluate.metrics import multiclass_metrics
from andon.ml.maintenance.failure import FailureClassifier, derived_from_target
from andon.ml.maintenance.rul import RulRegressor
from andon.ml.registry import ModelCard
from andon.ml.tables import TableError, fingerprint, require_columns
from andon.ml.tasks import (
    EvaluateOptions,
    Evaluation,
    TableInput,
    Trained,
    TrainOptions,
    features_of,
    labelled,
)

__all__ = ["FailureTask", "RulTask"]

_logger = logging.getLogger(__name__)


class FailureTask(TableInput):
    """Failure risk (binary) or failure type (several classes) from process signals."""

    name: ClassVar[str] = "failure"

    def train(self, frame: pd.DataFrame, options: TrainOptions) -> Trained:
        frame, X, y, target = labelled(frame, options)
        leaked = derived_from_target(X, y)
        if leaked:
            raise TableError(
                f"columns {leaked} are 1 only where {target!r} is: they are failure labels, "
                "not signals (label leakage); leave them out with --drop"
            )
        split = (
            Split.by_group(options.folds, options.seed)
            if options.group
            else Split.stratified(options.folds, options.seed)
        )
        folds = split.folds(frame, target=target, group=options.group)
        model = FailureClassifier(**{"random_state": options.seed, **options.params})
        baseline = FailureClassifier(model="logistic", physics=False)
        metrics: dict[str, Any] = {
            "cv": _cross_validate(model, X, y, folds),
            "baseline": _cross_validate(baseline, X, y, folds),
        }
        final = clone(model).fit(X, y)
        metrics["threshold"] = final.threshold_
        card = ModelCard(
            task=self.name,
            params=final.get_params(),
            options=options.to_dict(),
            metrics=metrics,
            data=fingerprint(frame),
            split={**split.describe(), "target": target, "group": options.group},
            features=final.plan_.features,
        )
        return Trained(final, card)

    def predict(self, model: Any, card: ModelCard, frame: pd.DataFrame) -> pd.DataFrame:
        out = frame.copy()
        proba = model.predict_proba(frame)
        out["prediction"] = model.predict(frame)
        out["probability"] = proba[:, 1] if proba.shape[1] == 2 else proba.max(axis=1)
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
        binary = proba.shape[1] == 2
        positive = proba[:, 1] if binary else proba.max(axis=1)
        metrics = _metrics(model.classes_, truth, prediction, proba)
        return Evaluation(
            self.name,
            metrics,
            truth,
            prediction,
            positive if binary else None,
            model.feature_importances(),
        )


def _metrics(
    classes: npt.NDArray[Any],
    truth: npt.NDArray[Any],
    prediction: npt.NDArray[Any],
    proba: npt.NDArray[np.float64],
) -> dict[str, Any]:
    if len(classes) == 2:
        positive = classes[1]
        return classification_metrics(truth == positive, prediction == positive, proba[:, 1])
    return multiclass_metrics(truth, prediction, list(classes))


def _cross_validate(
    model: FailureClassifier,
    X: pd.DataFrame,
    y: npt.NDArray[Any],
    folds: list[tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]],
) -> dict[str, Any]:
    """Pooled out-of-fold metrics; every preprocessing step is fitted inside the fold."""
    classes = np.unique(y)
    proba = np.zeros((len(y), len(classes)))
    prediction = np.empty(len(y), dtype=y.dtype)
    per_fold = []
    for train, test in folds:
        fitted = clone(model).fit(X.iloc[train], y[train])
        columns = np.searchsorted(classes, fitted.classes_)
        proba[np.ix_(test, columns)] = fitted.predict_proba(X.iloc[test])
        prediction[test] = fitted.predict(X.iloc[test])
        per_fold.append(_metrics(classes, y[test], prediction[test], proba[test]))
    result = _metrics(classes, y, prediction, proba)
    key = "f1" if len(classes) == 2 else "macro_f1"
    result[f"fold_{key}"] = [f[key] for f in per_fold]
    return result


class RulTask(TableInput):
    """Remaining useful life of units from their run-to-failure (or labelled) histories."""

    name: ClassVar[str] = "rul"

    def train(self, frame: pd.DataFrame, options: TrainOptions) -> Trained:
        unit, time = options.require("unit"), options.require("time")
        require_columns(frame, [unit, time], "--unit/--time")
        y = _target(frame, unit, time, options.rul)
        X = features_of(frame, [*([options.rul] if options.rul else []), *options.drop])
        split = Split.by_group(options.folds, options.seed)
        folds = split.folds(frame, group=unit)
        params = {"unit": unit, "time": time, "cap": options.cap, **options.params}
        model = RulRegressor(**{"random_state": options.seed, **params})
        baseline = RulRegressor(**{**params, "model": "linear"})
        cuts = _truncation_rows(frame[unit].to_numpy(), options.seed)
        metrics: dict[str, Any] = {
            "cv": _validate_rul(model, X, y, folds, cuts),
            "baseline": _validate_rul(baseline, X, y, folds, cuts),
        }
        final = clone(model).fit(X, y)
        card = ModelCard(
            task=self.name,
            params=final.get_params(),
            options=options.to_dict(),
            metrics=metrics,
            data=fingerprint(frame),
            split={**split.describe(), "group": unit, "evaluated_at": "one random cut per unit"},
            features=final.features_,
        )
        return Trained(final, card)

    def predict(self, model: Any, card: ModelCard, frame: pd.DataFrame) -> pd.DataFrame:
        out = frame.copy()
        out["prediction"] = np.round(model.predict(frame), 2)
        return out

    def evaluate(
        self, model: Any, card: ModelCard, frame: pd.DataFrame, options: EvaluateOptions
    ) -> Evaluation:
        unit, time = str(card.options["unit"]), str(card.options["time"])
        rul = _truth_column(frame, card.options.get("rul"))
        truth = _target(frame, unit, time, rul)
        prediction = model.predict(frame)
        cap = float(card.options.get("cap", model.cap))
        last = _last_rows(frame, unit, time)
        metrics = {
            "last": regression_metrics(np.minimum(truth[last], cap), prediction[last]),
            "last_uncapped": regression_metrics(truth[last], prediction[last]),
            "all_rows": regression_metrics(np.minimum(truth, cap), prediction),
            "units": len(last),
            "cap": cap,
            "truth": f"column {rul!r}" if rul else "run to failure (last time - time)",
        }
        return Evaluation(
            self.name,
            metrics,
            np.minimum(truth[last], cap),
            prediction[last],
            None,
            model.feature_importances(),
        )


def _target(frame: pd.DataFrame, unit: str, time: str, rul: str | None) -> npt.NDArray[np.float64]:
    """The RUL column, or run-to-failure RUL: the unit's last time minus each row's time."""
    if rul:
        require_columns(frame, [rul], "--rul")
        return np.asarray(frame[rul].to_numpy(dtype=float), dtype=np.float64)
    last = frame.groupby(unit)[time].transform("max")
    return np.asarray((last - frame[time]).to_numpy(dtype=float), dtype=np.float64)


def _truth_column(frame: pd.DataFrame, trained_with: str | None) -> str | None:
    """The true-RUL column of labelled data: the training ``--rul`` column, else ``rul``.

    Units cut short (a test fleet) need it; without one, units are taken as run to failure.
    """
    for name in (trained_with, "rul", "RUL"):
        if name and name in frame.columns:
            return name
    return None


def _last_rows(frame: pd.DataFrame, unit: str, time: str) -> npt.NDArray[np.intp]:
    positions = pd.Series(np.arange(len(frame)), index=frame.index)
    latest = frame.assign(_pos=positions.to_numpy()).sort_values([unit, time])
    return np.asarray(latest.groupby(unit)["_pos"].last().to_numpy(), dtype=np.intp)


def _truncation_rows(units: npt.NDArray[Any], seed: int) -> npt.NDArray[np.intp]:
    """One row per unit, drawn uniformly from the unit's rows after its first tenth.

    Held-out units are judged where a fleet is judged in practice: part-way through life,
    as the C-MAPSS test engines are cut at a random cycle.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for _, index in pd.Series(np.arange(len(units))).groupby(units):
        positions = index.to_numpy()
        low = int(len(positions) * 0.1)
        rows.append(positions[rng.integers(low, len(positions))])
    return np.asarray(sorted(rows), dtype=np.intp)


def _validate_rul(
    model: RulRegressor,
    X: pd.DataFrame,
    y: npt.NDArray[np.float64],
    folds: list[tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]],
    cuts: npt.NDArray[np.intp],
) -> dict[str, Any]:
    prediction = np.zeros(len(y))
    for train, test in folds:
        fitted = clone(model).fit(X.iloc[train], y[train])
        prediction[test] = fitted.predict(X.iloc[test])
    capped = np.minimum(y, model.cap)
    return {
        "at_cut": regression_metrics(capped[cuts], prediction[cuts]),
        "all_rows": regression_metrics(capped, prediction),
    }
