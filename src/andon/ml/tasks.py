"""The task contract: what ``andon ml train|predict|evaluate TASK`` does for one problem.

A task turns the user's table and options into a trained model with honest held-out
metrics (training), predictions, and metrics on new labelled data. The table of tasks by
name is :data:`andon.ml.catalog.TASKS`: a new task (defects, forecast, ...) is one class
following :class:`Task` and one entry there.

>>> TrainOptions(target="y").require("target")
'y'
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd

from andon.errors import InvalidRequest
from andon.ml.registry import ModelCard
from andon.ml.tables import TableError, read_table, require_columns

__all__ = [
    "EvaluateOptions",
    "Evaluation",
    "TableInput",
    "Task",
    "TrainOptions",
    "Trained",
    "features_of",
    "labelled",
]

_logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainOptions:
    """Options of ``andon ml train``; each task uses the ones it needs."""

    target: str | None = None
    drop: tuple[str, ...] = ()
    group: str | None = None
    unit: str | None = None
    time: str | None = None
    rul: str | None = None
    cap: float = 125.0
    horizon: int | None = None
    folds: int = 5
    seed: int = 0
    params: dict[str, Any] = field(default_factory=dict)

    def require(self, name: str) -> Any:
        value = getattr(self, name)
        if value is None:
            raise InvalidRequest(f"this task needs --{name}")
        return value

    def to_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}


@dataclass
class Evaluation:
    """Metrics on labelled data, and what a report draws from them."""

    task: str
    metrics: dict[str, Any]
    truth: npt.NDArray[Any]
    prediction: npt.NDArray[Any]
    probability: npt.NDArray[np.float64] | None = None
    importances: dict[str, float] = field(default_factory=dict)


@dataclass
class Trained:
    """A fitted model and its card (metrics from held-out folds, split, options)."""

    model: Any
    card: ModelCard


@dataclass(frozen=True)
class EvaluateOptions:
    """Options of ``andon ml evaluate``; each task uses the ones it needs."""

    start: str | None = None


class Task(Protocol):
    """One kind of problem: training, prediction and evaluation on user tables."""

    name: ClassVar[str]

    def read(self, path: Path) -> pd.DataFrame:
        """The user's ``--data`` as a frame: a table, or (vision) one row per image file."""
        ...

    def train(self, frame: pd.DataFrame, options: TrainOptions) -> Trained:
        """Fit on ``frame``; the card carries metrics measured on held-out folds."""
        ...

    def predict(self, model: Any, card: ModelCard, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame``'s columns plus the prediction columns."""
        ...

    def evaluate(
        self, model: Any, card: ModelCard, frame: pd.DataFrame, options: EvaluateOptions
    ) -> Evaluation:
        """Metrics of ``model`` on labelled ``frame``."""
        ...


class TableInput:
    """Mixin of tasks whose ``--data`` is one CSV or Parquet table."""

    def read(self, path: Path) -> pd.DataFrame:
        return read_table(path)


def labelled(
    frame: pd.DataFrame, options: TrainOptions
) -> tuple[pd.DataFrame, pd.DataFrame, npt.NDArray[Any], str]:
    """The rows of ``frame`` with a ``--target`` label, their features (all columns but the
    target, ``--drop`` and ``--group``) and their labels, and the target's name."""
    target: str = options.require("target")
    require_columns(frame, [target], "--target")
    rows = frame[frame[target].notna()].reset_index(drop=True)
    exclude = [target, *options.drop, *([options.group] if options.group else [])]
    return rows, features_of(rows, exclude), rows[target].to_numpy(), target


def features_of(frame: pd.DataFrame, exclude: list[str]) -> pd.DataFrame:
    """``frame`` without the excluded columns (those that are present)."""
    missing = [c for c in exclude if c not in frame.columns]
    if missing:
        raise TableError(f"--drop: no column {missing!r} in the data")
    return frame.drop(columns=exclude)
