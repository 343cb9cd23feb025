"""Two small streaming detectors: a windowed Gaussian (the baseline) and Page-Hinkley drift.

>>> gauss = GaussianWindow(window=50)
>>> for i in range(100):
...     gauss.learn_one({"t": 20.0 + 0.1 * (i % 5)})
>>> gauss.score_one({"t": 20.2}) < 0.9, gauss.score_one({"t": 25.0}) > 0.99
(True, True)
>>> drift = PageHinkley(probation=50, threshold=20.0)
>>> for i in range(300):
...     drift.learn_one({"t": 20.0 + (0.05 * (i - 150) if i > 150 else 0.0)})
>>> drift.score_one({"t": 28.0}) > 0.5
True
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

from scipy.special import ndtr

__all__ = ["GaussianWindow", "PageHinkley"]


def _value(x: dict[str, float]) -> float | None:
    if len(x) != 1:
        raise ValueError(f"a univariate detector needs one value, got {sorted(x)}")
    value = float(next(iter(x.values())))
    return value if math.isfinite(value) else None


class GaussianWindow:
    """Two-sided tail probability of a value under a Gaussian fitted to the last ``window``."""

    def __init__(self, window: int = 1000, min_history: int = 20) -> None:
        self.window = window
        self.min_history = min_history
        self._values: deque[float] = deque(maxlen=window)
        self._sum = 0.0
        self._sq = 0.0

    def get_params(self) -> dict[str, Any]:
        return {"window": self.window, "min_history": self.min_history}

    def score_one(self, x: dict[str, float]) -> float:
        value = _value(x)
        n = len(self._values)
        if value is None or n < max(self.min_history, 2):
            return 0.0
        mean = self._sum / n
        var = max((self._sq - n * mean * mean) / (n - 1), 0.0)
        if var == 0.0:
            return 0.0 if value == mean else 1.0
        return float(2.0 * ndtr(abs(value - mean) / math.sqrt(var)) - 1.0)

    def learn_one(self, x: dict[str, float]) -> None:
        value = _value(x)
        if value is None:
            return
        if len(self._values) == self.window:
            old = self._values[0]
            self._sum -= old
            self._sq -= old * old
        self._values.append(value)
        self._sum += value
        self._sq += value * value


class PageHinkley:
    """Page-Hinkley test for a sustained drift of the mean, up or down.

    The cumulative deviation from the running mean (less a tolerance ``delta`` in units of
    the probation period's spread) is compared with ``threshold``; the score is the
    fraction of the threshold reached, capped at 1. After a detection the test restarts.
    """

    def __init__(self, probation: int = 100, delta: float = 0.5, threshold: float = 50.0):
        self.probation = probation
        self.delta = delta
        self.threshold = threshold
        self._seen: list[float] = []
        self._scale = 1.0
        self._reset(0.0)

    def _reset(self, mean: float) -> None:
        self._mean, self._n = mean, 1
        self._up = self._up_min = 0.0
        self._down = self._down_max = 0.0

    def get_params(self) -> dict[str, Any]:
        return {"probation": self.probation, "delta": self.delta, "threshold": self.threshold}

    def _statistics(self, value: float) -> tuple[float, float, float, float, float]:
        z = value / self._scale
        mean = self._mean + (z - self._mean) / (self._n + 1)
        up = self._up + z - mean - self.delta
        down = self._down + z - mean + self.delta
        return mean, up, min(self._up_min, up), down, max(self._down_max, down)

    def score_one(self, x: dict[str, float]) -> float:
        value = _value(x)
        if value is None or len(self._seen) < self.probation:
            return 0.0
        _, up, up_min, down, down_max = self._statistics(value)
        return min(1.0, max(up - up_min, down_max - down) / self.threshold)

    def learn_one(self, x: dict[str, float]) -> None:
        value = _value(x)
        if value is None:
            return
        if len(self._seen) < self.probation:
            self._seen.append(value)
            if len(self._seen) == self.probation:
                mean = sum(self._seen) / len(self._seen)
                var = sum((v - mean) ** 2 for v in self._seen) / max(len(self._seen) - 1, 1)
                self._scale = math.sqrt(var) or 1.0
                self._reset(mean / self._scale)
            return
        mean, up, up_min, down, down_max = self._statistics(value)
        if max(up - up_min, down_max - down) >= self.threshold:
            self._reset(value / self._scale)
            return
        self._mean, self._n = mean, self._n + 1
        self._up, self._up_min, self._down, self._down_max = up, up_min, down, down_max
