"""The discord detector: how unlike everything seen before is the latest stretch of a tag?

For several lengths ``L`` the detector keeps the last ``memory`` subsequences of the tag
(scaled by the probation period's mean and spread) and finds, for the newest one, the
distance to its nearest neighbour in the past: a *left discord* distance. A spike, a level
shift or a broken rhythm has no near neighbour. Each distance is calibrated against the
history of distances of the same length (the probability that a log-distance this large
is normal, after Numenta's anomaly likelihood), the lengths must agree (the minimum is
taken), and a value outside every value seen so far scores 0.999 on its own. After an
alarm the detector rests for ``rest`` points: one event, one alarm.

Nothing looks ahead: the scale is learned on the probation period (scored 0) and every
later point is judged only by what came before it.

>>> import math
>>> detector = DiscordDetector(probation=60, lengths=(2, 4))
>>> wave = [math.sin(i / 3) for i in range(200)]
>>> for v in wave:
...     detector.learn_one({"v": v})
>>> detector.score_one({"v": 0.3}) < 0.99, detector.score_one({"v": 5.0}) >= 0.99
(True, True)
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.special import ndtr

__all__ = ["DiscordDetector"]

FloatArray = npt.NDArray[np.float64]
_MIN_HISTORY = 20


class _Running:
    """Mean and sample standard deviation of a stream (Welford)."""

    __slots__ = ("count", "m2", "mean")

    def __init__(self) -> None:
        self.count, self.mean, self.m2 = 0, 0.0, 0.0

    def add(self, value: float) -> None:
        self.count += 1
        delta = value - self.mean
        self.mean += delta / self.count
        self.m2 += delta * (value - self.mean)

    def std(self) -> float:
        return math.sqrt(self.m2 / (self.count - 1)) if self.count > 1 else 0.0


class _Memory:
    """The past subsequences of one length, searchable once they no longer overlap."""

    def __init__(self, length: int, capacity: int) -> None:
        self.length = length
        self.windows = np.zeros((capacity, length))
        self.norms = np.zeros(capacity)
        self.size = 0
        self.head = 0
        self.pending: deque[FloatArray] = deque()
        self.distances = _Running()

    def distance(self, query: FloatArray) -> float:
        """Distance from ``query`` to its nearest searchable neighbour (nan if none)."""
        best = math.inf
        if self.size:
            w, n = self.windows[: self.size], self.norms[: self.size]
            best = float(np.min(n - 2.0 * (w @ query)))
        if len(self.pending) >= self.length:  # becomes searchable with this point
            oldest = self.pending[0]
            best = min(best, float(oldest @ oldest - 2.0 * (oldest @ query)))
        if math.isinf(best):
            return math.nan
        return math.sqrt(max(best + float(query @ query), 0.0))

    def add(self, query: FloatArray) -> None:
        self.pending.append(query)
        if len(self.pending) > self.length:
            window = self.pending.popleft()
            self.windows[self.head] = window
            self.norms[self.head] = window @ window
            self.head = (self.head + 1) % len(self.norms)
            self.size = min(self.size + 1, len(self.norms))

    def likelihood(self, distance: float) -> float:
        """Probability that a log-distance this large is normal (0 until enough history)."""
        stats = self.distances
        if math.isnan(distance) or stats.count < _MIN_HISTORY:
            return 0.0
        z = (math.log1p(distance) - stats.mean) / max(stats.std(), 1e-9)
        return float(ndtr(z))


class DiscordDetector:
    """Streaming left-discord detector with likelihood calibration and a rest period."""

    def __init__(
        self,
        lengths: tuple[int, ...] = (2, 4, 8),
        memory: int = 8000,
        probation: int = 750,
        rest: int | None = None,
        alarm: float = 0.99,
        tolerance: float = 0.05,
    ) -> None:
        self.lengths = tuple(lengths)
        self.memory = memory
        self.probation = max(probation, 2 * max(self.lengths))
        self.rest = self.probation // 5 if rest is None else rest
        self.alarm = alarm
        self.tolerance = tolerance
        self._memories = [_Memory(length, memory) for length in self.lengths]
        self._recent: deque[float] = deque(maxlen=max(self.lengths))
        self._raw: list[float] = []
        self._scale = (0.0, 1.0)
        self._low, self._high = math.inf, -math.inf
        self._seen = 0
        self._since_alarm = self.rest + 1
        self._cache: tuple[float, float, list[float]] | None = None

    def get_params(self) -> dict[str, Any]:
        return {
            "lengths": self.lengths,
            "memory": self.memory,
            "probation": self.probation,
            "rest": self.rest,
            "alarm": self.alarm,
            "tolerance": self.tolerance,
        }

    # -- the contract ------------------------------------------------------------------

    def score_one(self, x: dict[str, float]) -> float:
        value = _value(x)
        if value is None or self._seen < self.probation:
            return 0.0
        score, _ = self._evaluate(value)
        return 0.0 if self._since_alarm <= self.rest else score

    def learn_one(self, x: dict[str, float]) -> None:
        value = _value(x)
        if value is None:
            return
        self._seen += 1
        if self._seen <= self.probation:
            self._raw.append(value)
            if self._seen == self.probation:
                self._end_probation()
            return
        score, distances = self._evaluate(value)
        alarmed = self._since_alarm > self.rest and score >= self.alarm
        self._since_alarm = 0 if alarmed else self._since_alarm + 1
        self._absorb(value, distances)

    # -- internals ---------------------------------------------------------------------

    def _end_probation(self) -> None:
        raw = np.asarray(self._raw)
        spread = float(np.std(raw))
        self._scale = (float(np.mean(raw)), spread if spread > 0 else 1.0)
        for value in self._raw:  # replay: the probation period becomes the first history
            self._absorb(value, self._distances(self._query(value)))
        self._raw = []

    def _query(self, value: float) -> list[float]:
        mean, spread = self._scale
        return [*self._recent, (value - mean) / spread]

    def _distances(self, recent: list[float]) -> list[float]:
        out = []
        for memory in self._memories:
            if len(recent) < memory.length:
                out.append(math.nan)
            else:
                out.append(memory.distance(np.asarray(recent[-memory.length :])))
        return out

    def _evaluate(self, value: float) -> tuple[float, list[float]]:
        cached = self._cache
        if cached is not None and cached[0] == value:
            return cached[1], cached[2]
        distances = self._distances(self._query(value))
        likelihood = min(m.likelihood(d) for m, d in zip(self._memories, distances, strict=True))
        if self._outside(value):
            likelihood = max(likelihood, 0.999)
        self._cache = (value, likelihood, distances)
        return likelihood, distances

    def _outside(self, value: float) -> bool:
        span = self._high - self._low
        if not math.isfinite(span):
            return False
        margin = self.tolerance * span
        return value > self._high + margin or value < self._low - margin

    def _absorb(self, value: float, distances: list[float]) -> None:
        self._cache = None
        recent = self._query(value)
        for memory, distance in zip(self._memories, distances, strict=True):
            if len(recent) >= memory.length:
                memory.add(np.asarray(recent[-memory.length :]))
            memory.distances.add(math.log1p(0.0 if math.isnan(distance) else distance))
        self._recent.append(recent[-1])
        self._low, self._high = min(self._low, value), max(self._high, value)


def _value(x: dict[str, float]) -> float | None:
    """The single value of ``x``; None when it is missing or not finite."""
    if len(x) != 1:
        raise ValueError(f"a univariate detector needs one value, got {sorted(x)}")
    value = float(next(iter(x.values())))
    return value if math.isfinite(value) else None
