"""The two contracts every model of andon follows (STYLE.md habit 8).

* **Batch models** follow scikit-learn: hyper-parameters are exactly the constructor's
  arguments (``get_params``), ``fit(X, y)`` learns and returns the model, ``predict(X)``
  returns one value per row; classifiers add ``predict_proba``. ``X`` is a
  :class:`pandas.DataFrame` with the user's column names.
* **Streaming detectors** follow River: ``learn_one(x)`` updates the model with one
  observation, ``score_one(x)`` rates how anomalous ``x`` is, in ``[0, 1]``, without
  changing the model. ``x`` maps tag names to floats. Scoring before learning is the
  no-look-ahead discipline: a point is judged by what came before it.

``clone`` makes a fresh, unfitted copy of either kind from its parameters.

>>> from andon.ml.anomaly import GaussianWindow
>>> detector = GaussianWindow(window=3)
>>> isinstance(detector, StreamingDetector)
True
>>> clone(detector).get_params() == detector.get_params()
True
"""

from __future__ import annotations

from typing import Any, Protocol, Self, TypeVar, runtime_checkable

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = ["BatchModel", "Classifier", "StreamingDetector", "clone"]


@runtime_checkable
class BatchModel(Protocol):
    """A model trained on a table at once (scikit-learn's contract)."""

    def get_params(self) -> dict[str, Any]:
        """The constructor arguments that describe this model."""
        ...

    def fit(self, X: pd.DataFrame, y: npt.ArrayLike) -> Self:
        """Learn from ``X`` and targets ``y``; returns the model itself."""
        ...

    def predict(self, X: pd.DataFrame) -> npt.NDArray[Any]:
        """One prediction per row of ``X``."""
        ...


@runtime_checkable
class Classifier(BatchModel, Protocol):
    """A batch model that also gives class probabilities (columns in ``classes_`` order)."""

    def predict_proba(self, X: pd.DataFrame) -> npt.NDArray[np.float64]:
        """Probability of each class per row."""
        ...


@runtime_checkable
class StreamingDetector(Protocol):
    """An online anomaly detector (River's contract)."""

    def get_params(self) -> dict[str, Any]:
        """The constructor arguments that describe this detector."""
        ...

    def learn_one(self, x: dict[str, float]) -> None:
        """Update the model with one observation."""
        ...

    def score_one(self, x: dict[str, float]) -> float:
        """How anomalous ``x`` is given the past, in ``[0, 1]``; the model is unchanged."""
        ...


class _Described(Protocol):
    def get_params(self) -> dict[str, Any]: ...


_M = TypeVar("_M", bound=_Described)


def clone(model: _M) -> _M:
    """A new, unfitted model with the same parameters."""
    return type(model)(**model.get_params())
