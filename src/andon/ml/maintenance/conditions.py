"""Operating conditions: find the regimes a fleet runs in, and normalise sensors per regime.

An engine at cruise and at take-off reads very different temperatures while equally
healthy; a sensor only says something about health relative to its own regime. The
regimes are found by k-means on the operating-setting columns, with k chosen by the
silhouette score; when no clustering is clearly better than one regime (silhouette below
``min_silhouette``) the fleet is taken as single-regime. No count is given by hand.

>>> rng = np.random.default_rng(0)
>>> regime = rng.integers(0, 3, 600)
>>> frame = pd.DataFrame({
...     "altitude": regime * 10 + rng.normal(0, 0.1, 600),
...     "temp": regime * 50 + rng.normal(0, 1, 600),
... })
>>> normaliser = ConditionNormalizer(["altitude"]).fit(frame, ["temp"])
>>> normaliser.n_conditions
3
>>> round(float(normaliser.transform(frame)["temp"].std()), 1)
1.0
"""

from __future__ import annotations

import logging

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score

__all__ = ["ConditionNormalizer"]

_logger = logging.getLogger(__name__)


class ConditionNormalizer:
    """Per-regime z-scores of sensor columns; regimes from operating-setting columns."""

    def __init__(
        self,
        columns: list[str],
        max_conditions: int = 10,
        min_silhouette: float = 0.7,
        sample: int = 2000,
        seed: int = 0,
    ) -> None:
        self.columns = list(columns)
        self.max_conditions = max_conditions
        self.min_silhouette = min_silhouette
        self.sample = sample
        self.seed = seed

    @property
    def n_conditions(self) -> int:
        return 1 if self.kmeans_ is None else int(self.kmeans_.n_clusters)

    @property
    def inputs(self) -> list[str]:
        """Columns a table needs for :meth:`transform`."""
        return [*self.columns, *self.informative]

    def fit(self, frame: pd.DataFrame, sensors: list[str]) -> ConditionNormalizer:
        self._fit_regimes(frame)
        labels = self.labels(frame)
        values = frame[sensors].to_numpy(dtype=float)
        k = self.n_conditions
        self.mean_ = np.zeros((k, len(sensors)))
        self.std_ = np.ones((k, len(sensors)))
        spread = np.zeros(len(sensors))
        for c in range(k):
            block = values[labels == c]
            if len(block):
                self.mean_[c] = np.nanmean(block, axis=0)
                std = np.nanstd(block, axis=0)
                spread = np.maximum(spread, std / (np.abs(self.mean_[c]) + 1.0))
                self.std_[c] = np.where(std > 0, std, 1.0)
        distinct = np.array([frame[s].nunique() > 2 for s in sensors], dtype=bool)
        keep = (spread > 1e-7) & distinct
        self.informative = [s for s, k_ in zip(sensors, keep, strict=True) if k_]
        self.mean_, self.std_ = self.mean_[:, keep], self.std_[:, keep]
        return self

    def _fit_regimes(self, frame: pd.DataFrame) -> None:
        self.kmeans_: KMeans | None = None
        self.scale_ = (np.zeros(0), np.ones(0))
        if not self.columns:
            return
        raw = frame[self.columns].to_numpy(dtype=float)
        mean, std = np.nanmean(raw, axis=0), np.nanstd(raw, axis=0)
        self.scale_ = (mean, np.where(std > 0, std, 1.0))
        points = self._scaled(frame)
        rng = np.random.default_rng(self.seed)
        sample = points[rng.choice(len(points), min(self.sample, len(points)), replace=False)]
        if not _has_gaps(sample):
            _logger.info("operating conditions: 1 (settings vary continuously)")
            return
        best, best_score = None, self.min_silhouette
        for k in range(2, self.max_conditions + 1):
            if len(np.unique(sample, axis=0)) <= k:
                break
            model = KMeans(n_clusters=k, n_init=1, max_iter=100, random_state=self.seed).fit(sample)
            score = float(silhouette_score(sample, model.labels_))
            if score > best_score:
                best, best_score = model, score
        self.kmeans_ = best
        _logger.info("operating conditions: %d (silhouette %.2f)", self.n_conditions, best_score)

    def _scaled(self, frame: pd.DataFrame) -> npt.NDArray[np.float64]:
        mean, std = self.scale_
        raw = frame[self.columns].to_numpy(dtype=float)
        return np.asarray(np.nan_to_num((raw - mean) / std), dtype=np.float64)

    def labels(self, frame: pd.DataFrame) -> npt.NDArray[np.intp]:
        """The regime of each row (all 0 for a single-regime fleet)."""
        if self.kmeans_ is None:
            return np.zeros(len(frame), dtype=np.intp)
        return np.asarray(self.kmeans_.predict(self._scaled(frame)), dtype=np.intp)

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The informative sensors as z-scores within each row's regime."""
        labels = self.labels(frame)
        values = frame[self.informative].to_numpy(dtype=float)
        normalised = (values - self.mean_[labels]) / self.std_[labels]
        return pd.DataFrame(normalised, columns=self.informative, index=frame.index)


def _has_gaps(sample: npt.NDArray[np.float64], gap: float = 1.0) -> bool:
    """Whether any standardised column jumps between set points (a gap over ``gap`` sd).

    Operating regimes are discrete set points; settings that only jitter around one point
    have no such gap, and the (costlier) clustering is skipped.
    """
    for column in sample.T:
        values = np.sort(column)
        spread = float(np.std(values))
        if spread > 0 and float(np.max(np.diff(values), initial=0.0)) > gap * spread:
            return True
    return False
