"""Detectors by name, several tags at once, and scoring a whole table as a stream.

>>> frame = pd.DataFrame({"t": range(300), "a": [1.0] * 299 + [9.0], "b": [2.0] * 300})
>>> scored = detect_frame(frame, "t", ["a", "b"], probation=50)
>>> scored["anomaly"].tolist()[-2:], list(scored.columns)[-4:]
([0, 1], ['score_a', 'score_b', 'score', 'anomaly'])
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from andon.ml.anomaly.discord import DiscordDetector
from andon.ml.anomaly.simple import GaussianWindow, PageHinkley
from andon.ml.contracts import StreamingDetector
from andon.ml.tables import TableError, require_columns

__all__ = ["DETECTORS", "MultiDetector", "default_probation", "detect_frame", "make_detector"]

DETECTORS: dict[str, Callable[..., StreamingDetector]] = {
    "discord": DiscordDetector,
    "gaussian": GaussianWindow,
    "drift": PageHinkley,
}
ALARMS: dict[str, float] = {"discord": 0.97, "gaussian": 0.9999, "drift": 1.0}


def make_detector(kind: str, **params: Any) -> StreamingDetector:
    """A detector from the table by name, with its parameters."""
    try:
        factory = DETECTORS[kind]
    except KeyError:
        raise TableError(f"unknown detector {kind!r}; known: {', '.join(DETECTORS)}") from None
    return factory(**params)


def default_probation(rows: int) -> int:
    """NAB's convention: the first 15 % of a series, at most 750 points."""
    return int(min(math.floor(0.15 * rows), 750))


class MultiDetector:
    """One detector per tag; a record is as anomalous as its most anomalous tag."""

    def __init__(self, kind: str = "discord", params: dict[str, Any] | None = None) -> None:
        self.kind = kind
        self.params = dict(params or {})
        make_detector(kind, **self.params)  # fail early on a bad name or parameter
        self._detectors: dict[str, StreamingDetector] = {}

    def get_params(self) -> dict[str, Any]:
        return {"kind": self.kind, "params": dict(self.params)}

    def _detector(self, key: str) -> StreamingDetector:
        detector = self._detectors.get(key)
        if detector is None:
            detector = self._detectors[key] = make_detector(self.kind, **self.params)
        return detector

    def score_many(self, x: dict[str, float]) -> dict[str, float]:
        """The score of each tag of ``x`` (tags never seen before score 0)."""
        return {
            key: (self._detectors[key].score_one({key: v}) if key in self._detectors else 0.0)
            for key, v in x.items()
        }

    def score_one(self, x: dict[str, float]) -> float:
        return max(self.score_many(x).values(), default=0.0)

    def learn_one(self, x: dict[str, float]) -> None:
        for key, value in x.items():
            self._detector(key).learn_one({key: value})


def detect_frame(
    frame: pd.DataFrame,
    time: str,
    values: Sequence[str],
    *,
    detector: str = "discord",
    probation: int | None = None,
    threshold: float | None = None,
    params: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """Score every row in time order, each judged only by the rows before it.

    Returns the time and value columns, one ``score_<col>`` per value column when there are
    several, the record's ``score`` (the highest) and ``anomaly`` (0/1 at ``threshold``).
    """
    require_columns(frame, [time, *values], "--time/--value")
    if not values:
        raise TableError("--value: name at least one column to watch")
    ordered = frame.sort_values(time, kind="stable").reset_index(drop=True)
    settings = dict(params or {})
    if detector in {"discord", "drift"}:
        settings.setdefault("probation", probation or default_probation(len(ordered)))
    multi = MultiDetector(detector, settings)
    numbers = ordered[list(values)].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    scores = np.zeros((len(ordered), len(values)))
    names = list(values)
    for i, row in enumerate(numbers):
        x = {name: float(v) for name, v in zip(names, row, strict=True)}
        per_tag = multi.score_many(x)
        scores[i] = [per_tag[name] for name in names]
        multi.learn_one(x)
    out = ordered[[time, *values]].copy()
    if len(values) > 1:
        for j, name in enumerate(names):
            out[f"score_{name}"] = np.round(scores[:, j], 6)
    out["score"] = np.round(scores.max(axis=1), 6)
    cut = ALARMS[detector] if threshold is None else threshold
    out["anomaly"] = (out["score"] >= cut).astype(int)
    return out
