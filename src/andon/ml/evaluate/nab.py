"""The Numenta Anomaly Benchmark score, implemented from the paper's definitions.

Lavin and Ahmad, "Evaluating Real-time Anomaly Detection Algorithms - the Numenta Anomaly
Benchmark" (ICMLA 2015, arXiv:1510.03336):

* Each labelled anomaly has a **window** around it. Only the **first** detection inside a
  window counts, rewarded by a scaled sigmoid of its position: ``A_TP`` x ~1 at the left
  edge, falling to 0 at the right edge. A window without any detection costs ``A_FN``.
* A detection outside every window costs ``A_FP`` x the sigmoid of its distance past the
  previous window (1 far away, less just after a window; 1 before the first window).
* The first 15 % of each file (at most 750 points) is a **probation** period: neither
  rewarded nor penalised.
* The corpus score is normalised so that the null detector (never fires) scores 0 and a
  perfect detector (fires at the start of every window) scores 100. Detectors emit scores
  in [0, 1]; the threshold is the one that maximises the corpus score of each profile.

Profiles (application weights): ``standard`` (A_TP 1, A_FP 0.11, A_FN 1),
``reward_low_fp_rate`` (A_FP 0.22) and ``reward_low_fn_rate`` (A_FN 2).

>>> w = window_weights(10, [(5, 6)], PROFILES["standard"], probation=2)
>>> [round(float(v), 3) for v in w.weights[4:9]]
[-0.11, 1.0, 0.86, -0.109, -0.11]
>>> series = NabSeries("demo", np.zeros(100), [(50, 59)])
>>> score_corpus([series], "standard").score  # the null detector
0.0
>>> series.scores[50] = 1.0
>>> score_corpus([series], "standard").score  # detected at the window's first point
100.0
>>> series.scores[80] = 0.5  # a false positive, ignored at the best threshold
>>> result = score_corpus([series], "standard")
>>> result.score, result.threshold, result.fp
(100.0, 1.0, 0)
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from andon.errors import InvalidRequest

__all__ = [
    "PROFILES",
    "NabProfile",
    "NabResult",
    "NabSeries",
    "WindowWeights",
    "load_corpus",
    "probation_length",
    "scaled_sigmoid",
    "score_corpus",
    "window_weights",
]

FloatArray = npt.NDArray[np.float64]
_NO_WINDOW = -1
_PROBATION = -2


@dataclass(frozen=True, slots=True)
class NabProfile:
    """The application weights of one scoring profile."""

    name: str
    tp: float
    fp: float
    fn: float


PROFILES: dict[str, NabProfile] = {
    "standard": NabProfile("standard", 1.0, 0.11, 1.0),
    "reward_low_fp_rate": NabProfile("reward_low_fp_rate", 1.0, 0.22, 1.0),
    "reward_low_fn_rate": NabProfile("reward_low_fn_rate", 1.0, 0.11, 2.0),
}


@dataclass
class NabSeries:
    """One data file: a detector's scores and the labelled windows as index pairs."""

    name: str
    scores: FloatArray
    windows: list[tuple[int, int]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class WindowWeights:
    """Per point: the weighted score of a detection there, and its window (-1 none)."""

    weights: FloatArray
    window: npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class NabResult:
    """The corpus score of one profile at its best (or a given) threshold."""

    profile: str
    score: float
    raw: float
    null: float
    perfect: float
    threshold: float
    tp: int
    fp: int
    fn: int

    def to_dict(self) -> dict[str, float | int | str]:
        return {
            "profile": self.profile,
            "score": round(self.score, 2),
            "raw": round(self.raw, 3),
            "threshold": self.threshold,
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
        }


def scaled_sigmoid(position: float) -> float:
    """NAB's reward by relative position: -1 is a window's left edge, 0 its right edge.

    >>> round(scaled_sigmoid(-1.0), 5), scaled_sigmoid(0.0), scaled_sigmoid(3.0)
    (0.98661, 0.0, -1.0)
    """
    if position >= 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * position)) - 1.0


def probation_length(n: int, percent: float = 0.15) -> int:
    """Points at the start of a file that are not scored (15 %, at most 750).

    >>> probation_length(4032), probation_length(22695)
    (604, 750)
    """
    return int(min(math.floor(percent * n), percent * 5000))


def window_weights(
    n: int, windows: Sequence[tuple[int, int]], profile: NabProfile, probation: int
) -> WindowWeights:
    """The weight a detection at each point earns, per the paper's scaled sigmoid."""
    weights = np.empty(n)
    window = np.full(n, _NO_WINDOW, dtype=np.int64)
    max_tp = scaled_sigmoid(-1.0)
    previous: tuple[int, int] | None = None
    cursor = 0
    for number, (left, right) in enumerate(sorted(windows)):
        _fill_outside(weights, cursor, left, previous, profile)
        width = right - left + 1
        positions = -(right - np.arange(left, right + 1) + 1) / width
        weights[left : right + 1] = _sigmoid(positions) * profile.tp / max_tp
        window[left : right + 1] = number
        previous, cursor = (right, width), right + 1
    _fill_outside(weights, cursor, n, previous, profile)
    window[:probation] = _PROBATION
    return WindowWeights(weights, window)


def _fill_outside(
    weights: FloatArray,
    start: int,
    stop: int,
    previous: tuple[int, int] | None,
    profile: NabProfile,
) -> None:
    if stop <= start:
        return
    if previous is None:
        weights[start:stop] = -profile.fp
        return
    right, width = previous
    past = np.abs(right - np.arange(start, stop)) / max(width - 1, 1)
    weights[start:stop] = _sigmoid(past) * profile.fp


def _sigmoid(positions: FloatArray) -> FloatArray:
    values = 2.0 / (1.0 + np.exp(np.minimum(5.0 * positions, 700.0))) - 1.0
    return np.where(positions >= 3.0, -1.0, values)


def score_corpus(
    corpus: Sequence[NabSeries],
    profile: str | NabProfile,
    threshold: float | None = None,
    probation_percent: float = 0.15,
) -> NabResult:
    """Normalised NAB score of ``corpus``; the best threshold unless one is given."""
    prof = PROFILES[profile] if isinstance(profile, str) else profile
    scores, weights, windows, n_windows, all_windows = _pooled(corpus, prof, probation_percent)
    null = -prof.fn * n_windows
    perfect = prof.tp * all_windows
    order = np.argsort(-scores, kind="stable")
    s, w, win = scores[order], weights[order], windows[order]
    gains = _gains(w, win, prof.fn)
    totals = null + np.cumsum(gains)
    last_of_run = np.r_[s[1:] != s[:-1], True] if len(s) else np.zeros(0, dtype=bool)
    candidates = np.flatnonzero(last_of_run)
    if threshold is None:
        best = _best(candidates, totals, null)
    else:
        chosen = candidates[s[candidates] >= threshold]
        best = int(chosen[-1]) if len(chosen) else -1
    raw = null if best < 0 else float(totals[best])
    detected = np.zeros(len(s), dtype=bool)
    detected[: best + 1] = True
    tp_windows = len(np.unique(win[detected & (win >= 0)]))
    thr = float(s[best]) if best >= 0 else (threshold if threshold is not None else 1.1)
    return NabResult(
        profile=prof.name,
        score=100.0 * (raw - null) / (perfect - null) if perfect != null else 0.0,
        raw=raw,
        null=null,
        perfect=perfect,
        threshold=thr,
        tp=tp_windows,
        fp=int(np.sum(detected & (win == _NO_WINDOW))),
        fn=n_windows - tp_windows,
    )


def _best(candidates: npt.NDArray[np.intp], totals: FloatArray, null: float) -> int:
    if not len(candidates) or float(np.max(totals[candidates])) <= null:
        return -1
    return int(candidates[int(np.argmax(totals[candidates]))])


def _pooled(
    corpus: Sequence[NabSeries], profile: NabProfile, percent: float
) -> tuple[FloatArray, FloatArray, npt.NDArray[np.int64], int, int]:
    """Scorable points of every file in one array; window ids made unique across files."""
    scores, weights, windows = [], [], []
    offset = scorable = total = 0
    for series in corpus:
        n = len(series.scores)
        ww = window_weights(n, series.windows, profile, probation_length(n, percent))
        keep = ww.window != _PROBATION
        ids = np.where(ww.window[keep] >= 0, ww.window[keep] + offset, _NO_WINDOW)
        scores.append(np.asarray(series.scores, dtype=np.float64)[keep])
        weights.append(ww.weights[keep])
        windows.append(ids)
        scorable += len(np.unique(ids[ids >= 0]))
        total += len(series.windows)
        offset += len(series.windows)
    if not scores:
        raise InvalidRequest("the NAB corpus is empty")
    return (
        np.concatenate(scores),
        np.concatenate(weights),
        np.concatenate(windows),
        scorable,
        total,
    )


def _gains(weights: FloatArray, windows: npt.NDArray[np.int64], fn: float) -> FloatArray:
    """Change of the total score as each point (in threshold order) becomes a detection.

    A point outside windows adds its FP weight. Inside a window only the best (earliest)
    detection so far counts, replacing the window's ``-A_FN``: the gain is the rise of the
    window's running maximum.
    """
    gains = np.where(windows == _NO_WINDOW, weights, 0.0)
    inside = np.flatnonzero(windows >= 0)
    if len(inside):
        frame = pd.DataFrame({"w": windows[inside], "v": weights[inside]})
        best = frame.groupby("w")["v"].cummax().to_numpy()
        before = frame.assign(b=best).groupby("w")["b"].shift(1).fillna(-fn).to_numpy()
        gains[inside] = np.maximum(best, -fn) - np.maximum(before, -fn)
    return gains


def load_corpus(root: Path, scores: dict[str, FloatArray] | None = None) -> list[NabSeries]:
    """The NAB files under ``root/data`` with windows from ``root/labels``.

    ``scores`` maps a file key (``"realKnownCause/nyc_taxi.csv"``) to a detector's scores;
    files without scores get zeros (the null detector).
    """
    labels = json.loads((root / "labels" / "combined_windows.json").read_text(encoding="utf-8"))
    corpus = []
    for key in sorted(labels):
        stamps = pd.to_datetime(
            pd.read_csv(root / "data" / key, usecols=["timestamp"])["timestamp"]
        )
        values = stamps.to_numpy()
        windows = [_window_index(values, start, end) for start, end in labels[key]]
        given = None if scores is None else scores.get(key)
        corpus.append(
            NabSeries(key, given if given is not None else np.zeros(len(values)), windows)
        )
    return corpus


def _window_index(stamps: npt.NDArray[np.datetime64], start: str, end: str) -> tuple[int, int]:
    left = int(np.searchsorted(stamps, np.datetime64(pd.Timestamp(start)), side="left"))
    right = int(np.searchsorted(stamps, np.datetime64(pd.Timestamp(end)), side="right")) - 1
    return left, right
