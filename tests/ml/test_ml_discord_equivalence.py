"""The lean discord detector scores exactly like the direct search it replaced.

``_Reference`` below is a frozen copy of the detector as it was before its windows were
read out of one shared buffer (a copy of every window per length, and a full
nearest-neighbour search per point). Both run on real NAB files and on synthetic series;
the scores must agree to rounding.
"""

from __future__ import annotations

import math
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
from scipy.special import ndtr

from andon.ml.anomaly import DiscordDetector, MultiDetector
from andon.ml.evaluate import nab

FloatArray = npt.NDArray[np.float64]
_MIN_HISTORY = 20


class _Running:  # frozen copy
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


class _Memory:  # frozen copy
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


class _Reference:
    """The detector as it was before the buffers were shared (frozen: do not edit)."""

    def __init__(
        self,
        lengths: tuple[int, ...] = (8, 16, 32),
        memory: int = 8000,
        probation: int = 750,
        rest: int | None = None,
        alarm: float = 0.97,
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


# -- the comparison -------------------------------------------------------------------------

# The two searches round differently (so does the reference on another CPU: its BLAS kernel
# is chosen at run time). Where a window repeats exactly, its distance is the square root of
# a difference of rounded sums, sqrt(eps) ~ 1e-8 of noise in either search, which reaches the
# scores through the distance statistics: they agree to 1e-6, and elsewhere to ~1e-12.
TOLERANCE = 1e-6


def _stream(detector: Any, values: np.ndarray, probes: bool = False) -> np.ndarray:
    """Score then learn each point; with ``probes``, also score a far value first (no trace)."""
    scores = np.zeros(len(values))
    for i, value in enumerate(values):
        x = {"v": float(value)}
        if probes and i % 7 == 0:
            detector.score_one({"v": float(value) + 3.0})
        scores[i] = detector.score_one(x)
        detector.learn_one(x)
    return scores


def _assert_same(values: np.ndarray, probes: bool = False, **params: Any) -> np.ndarray:
    expected = _stream(_Reference(**params), values, probes)
    got = _stream(DiscordDetector(**params), values, probes)
    assert np.allclose(got, expected, rtol=0.0, atol=TOLERANCE), np.max(np.abs(got - expected))
    clear = np.abs(expected - 0.97) > TOLERANCE  # the same alarms, ties at the cut aside
    assert np.array_equal((got >= 0.97)[clear], (expected >= 0.97)[clear])
    return got


def _synthetic(kind: str, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=float)
    if kind == "wave":
        values = 10 + np.sin(t / 5) + rng.normal(0, 0.1, n)
        values[n // 2] += 6  # a spike
        values[3 * n // 4 :] += 3  # a level shift
    elif kind == "walk":
        values = np.cumsum(rng.normal(0, 1, n))
    elif kind == "steps":  # long flat stretches: exact repeats, distances of zero
        values = np.repeat(rng.integers(0, 4, n // 50 + 1), 50)[:n].astype(float)
    elif kind == "counts":  # few distinct values, many ties
        values = rng.poisson(2.0, n).astype(float)
    else:  # a large offset and a tiny spread: rounding is at its worst here
        values = 1e6 + np.sin(t / 9) * 1e-3 + rng.normal(0, 1e-4, n)
    return values


@pytest.mark.parametrize("kind", ["wave", "walk", "steps", "counts", "offset"])
def test_same_scores_on_synthetic_series(kind: str) -> None:
    values = _synthetic(kind, 1500, seed=len(kind))
    scores = _assert_same(values, probation=200, lengths=(8, 16, 32), memory=400)
    assert scores.max() > 0.0  # the comparison is not between two silent detectors


def test_same_scores_with_odd_lengths_gaps_and_probes() -> None:
    values = _synthetic("wave", 1200, seed=3)
    values[[300, 301, 700]] = np.nan  # skipped by both
    _assert_same(values, probes=True, probation=100, lengths=(1, 3, 5), memory=150, rest=10)


def test_same_scores_when_memory_outlasts_the_stream() -> None:
    _assert_same(_synthetic("walk", 900, seed=5), probation=60, lengths=(2, 4), memory=8000)


# Real NAB files: a machine failure, an ad-exchange metric, an artificial level shift.
NAB_FILES = (
    "realKnownCause/ec2_request_latency_system_failure.csv",
    "realAdExchange/exchange-2_cpc_results.csv",
    "artificialWithAnomaly/art_daily_jumpsup.csv",
)


@pytest.mark.slow
@pytest.mark.parametrize("name", NAB_FILES)
def test_same_scores_on_real_nab_files(shared_datasets: Path, name: str) -> None:
    values = pd.read_csv(shared_datasets / "nab" / "data" / name)["value"].to_numpy(dtype=float)
    probation = nab.probation_length(len(values))
    # the defaults, and a short memory so the buffers wrap around many times
    _assert_same(values[:3000], probation=probation)
    _assert_same(values, probation=probation, memory=700)


def test_multi_detector_scores_each_tag_like_the_reference() -> None:
    a, b = _synthetic("wave", 800, seed=1), _synthetic("counts", 800, seed=2)
    multi = MultiDetector("discord", {"probation": 100, "memory": 200})
    refs = {"a": _Reference(probation=100, memory=200), "b": _Reference(probation=100, memory=200)}
    for va, vb in zip(a, b, strict=True):
        x = {"a": float(va), "b": float(vb)}
        per_tag = multi.score_many(x)
        for key, ref in refs.items():
            assert per_tag[key] == pytest.approx(ref.score_one({key: x[key]}), abs=TOLERANCE)
            ref.learn_one({key: x[key]})
        multi.learn_one(x)


def test_memory_is_one_buffer_not_a_copy_per_length() -> None:
    detector = DiscordDetector()  # the defaults: lengths 8, 16 and 32 and memory 8000
    copies = 8000 * (8 + 16 + 32) * 8  # bytes for a copy of every window of every length
    # one tape of values plus three numbers per window and length (and a scratch row)
    assert detector.nbytes <= 8 * (8600 + 3 * (8600 + 2 * 8001) + 8001) < copies / 4
    _stream(detector, _synthetic("walk", 9000, seed=1))  # the buffers do not grow
    assert detector.nbytes <= 8 * (8600 + 3 * (8600 + 2 * 8001) + 8001)
