"""A machine's state timeline as arrays, resolved into what each state counts as.

A :class:`Timeline` holds state changes sorted by time, one per instant (of several at the
same instant the last listed wins): a state holds until the next. Arrays keep 30 days of
20,000 state changes cheap to account for. Two things happen on a timeline:

- **Overlay** (:meth:`Timeline.overlay`): operator annotations and the shift calendar replace
  the machine's state over intervals; the machine's own state resumes at each interval's end.
  The raw timeline in the historian is never edited.
- **Resolution** (:func:`resolve`): each state gets the code it counts under and its kind
  (planned, producing, stop, micro-stop), after the policies of :mod:`andon.mes.stops`.

>>> from andon.signals import StateChange
>>> t = Timeline.of([StateChange("m", 0, 10000), StateChange("m", 100, 180000)])
>>> t.overlay([(50, 80, 150000, "lunch")]).changes("m")  # doctest: +NORMALIZE_WHITESPACE
[StateChange(asset='m', ts_ms=0, code=10000, reason=None, seq=None),
 StateChange(asset='m', ts_ms=50, code=150000, reason='lunch', seq=None),
 StateChange(asset='m', ts_ms=80, code=10000, reason=None, seq=None),
 StateChange(asset='m', ts_ms=100, code=180000, reason=None, seq=None)]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from andon.mes.policy import MICRO_STOP, UNKNOWN_STOP, OeePolicy
from andon.signals import StateChange, state_category

__all__ = [
    "KIND_NAMES",
    "MICRO",
    "PLANNED",
    "PRODUCING",
    "STOP",
    "Interval",
    "Resolution",
    "Timeline",
    "resolve",
]

Ints = NDArray[np.int64]
Interval = tuple[int, int, int, str | None]
"""``(start_ms, end_ms, code, reason)`` laid over a timeline."""

PLANNED, PRODUCING, STOP, MICRO = 0, 1, 2, 3
KIND_NAMES = ("planned", "producing", "stop", "micro")
LOSSES = ("breakdown", "setup", "other")


class Timeline:
    """State changes sorted by time, unique per instant: ``ts``, ``code`` and ``reason``."""

    __slots__ = ("code", "reason", "ts")

    def __init__(self, ts: Ints, code: Ints, reason: list[str | None]) -> None:
        self.ts = ts
        self.code = code
        self.reason = reason

    @classmethod
    def from_rows(
        cls,
        ts: Sequence[int] | Ints,
        code: Sequence[int] | Ints,
        reason: Sequence[str | None],
    ) -> Timeline:
        """Sort by time (stable) and keep the last listed state of each instant."""
        stamps = np.asarray(ts, dtype=np.int64).reshape(-1)
        order = np.argsort(stamps, kind="stable")
        stamps = stamps[order]
        keep = np.ones(len(stamps), dtype=bool)
        keep[:-1] = stamps[1:] != stamps[:-1]
        picked = order[keep]
        codes = np.asarray(code, dtype=np.int64).reshape(-1)[picked]
        return cls(stamps[keep], codes, [reason[i] for i in picked.tolist()])

    @classmethod
    def of(cls, states: Iterable[StateChange]) -> Timeline:
        listed = list(states)
        return cls.from_rows(
            [s.ts_ms for s in listed], [s.code for s in listed], [s.reason for s in listed]
        )

    def __len__(self) -> int:
        return len(self.ts)

    def changes(self, asset: str) -> list[StateChange]:
        """The timeline as state changes of ``asset``."""
        return [
            StateChange(asset, ts, code, reason)
            for ts, code, reason in zip(
                self.ts.tolist(), self.code.tolist(), self.reason, strict=True
            )
        ]

    def at(self, ts_ms: int) -> int:
        """Index of the state in force at ``ts_ms`` (-1 before the first state)."""
        return int(np.searchsorted(self.ts, ts_ms, side="right")) - 1

    def slice(self, lo: int, hi: int) -> Timeline:
        """The states in force from ``lo`` (the one carried in included) to before ``hi``."""
        first = max(self.at(lo), 0)
        last = int(np.searchsorted(self.ts, hi, side="left"))
        return Timeline(self.ts[first:last], self.code[first:last], self.reason[first:last])

    def overlay(self, intervals: Sequence[Interval]) -> Timeline:
        """The timeline with each interval's state laid over it (intervals must not overlap).

        An interval counts only where the timeline has data: from its first state on.
        """
        if not intervals or not len(self):
            return self
        first = int(self.ts[0])
        laid = [(max(a, first), b, c, r) for a, b, c, r in sorted(intervals) if b > max(a, first)]
        covered = np.zeros(len(self), dtype=bool)
        rows: list[tuple[int, int, int, int, str | None]] = []  # ts, priority, index, code...
        for start, end, code, reason in laid:
            lo, hi = np.searchsorted(self.ts, [start, end], side="left").tolist()
            covered[lo:hi] = True
            resume = self.at(end)
            if hi >= len(self) or int(self.ts[hi]) != end:
                rows.append((end, 0, resume, int(self.code[resume]), self.reason[resume]))
            rows.append((start, 1, -1, code, reason))
        kept = np.flatnonzero(~covered).tolist()
        rows += [(int(self.ts[i]), 0, i, int(self.code[i]), self.reason[i]) for i in kept]
        rows.sort(key=lambda row: (row[0], row[1]))
        return Timeline.from_rows([r[0] for r in rows], [r[3] for r in rows], [r[4] for r in rows])


@dataclass(frozen=True, slots=True)
class Resolution:
    """Per state: the index whose code and reason it counts under, its kind and loss."""

    source: Ints
    kind: NDArray[np.int8]
    loss: NDArray[np.int8]

    def time_class(self, policy: OeePolicy) -> NDArray[np.int8]:
        """0 planned, 1 producing, 2 downtime: micro-stops go where the policy says."""
        micro_to = PRODUCING if policy.micro_stop_is_performance_loss else STOP
        return np.where(self.kind == MICRO, micro_to, self.kind).astype(np.int8)


@dataclass(frozen=True, slots=True)
class _Codes:
    """Properties of each distinct code, indexed by ``np.unique``'s inverse."""

    stop: NDArray[np.bool_]
    planned: NDArray[np.bool_]
    unknown: NDArray[np.bool_]
    micro: NDArray[np.bool_]
    loss: Ints

    @classmethod
    def of(cls, uniq: list[int], policy: OeePolicy) -> _Codes:
        def flags(test: Callable[[int], bool]) -> NDArray[np.bool_]:
            return np.array([test(c) for c in uniq], dtype=bool)

        return cls(
            flags(policy.is_stop),
            flags(lambda c: policy.classify(c) == "planned"),
            flags(lambda c: state_category(c) == UNKNOWN_STOP),
            flags(lambda c: state_category(c) == MICRO_STOP),
            np.array([LOSSES.index(policy.loss(c)) for c in uniq], dtype=np.int64),
        )


def _backfill(ts: Ints, stop: NDArray[np.bool_], unknown: NDArray[np.bool_], ms: int) -> Ints:
    source = np.arange(len(ts), dtype=np.int64)
    if len(ts) > 1 and ms > 0:
        follows = stop[:-1] & stop[1:] & unknown[:-1] & ~unknown[1:] & (np.diff(ts) <= ms)
        source[:-1][follows] += 1
    return source


def _short_runs(ts: Ints, stop: NDArray[np.bool_], ms: int) -> NDArray[np.bool_]:
    """Per state: it belongs to a stop that ended less than ``ms`` after it began."""
    n = len(ts)
    first = stop & ~np.concatenate(([False], stop[:-1]))
    last = stop & ~np.concatenate((stop[1:], [False]))
    after = np.flatnonzero(last) + 1
    closed = after < n
    ended = ts[np.minimum(after, n - 1)]
    short: NDArray[np.bool_] = closed & (ended - ts[first] < ms)
    run = np.cumsum(first) - 1
    out: NDArray[np.bool_] = stop & short[np.maximum(run, 0)]
    return out


def resolve(timeline: Timeline, policy: OeePolicy) -> Resolution:
    """What each state of ``timeline`` counts as under ``policy`` (see :mod:`andon.mes.stops`)."""
    if not len(timeline):
        empty = np.zeros(0, dtype=np.int8)
        return Resolution(np.zeros(0, dtype=np.int64), empty, empty)
    uniq, inverse = np.unique(timeline.code, return_inverse=True)
    table = _Codes.of(uniq.tolist(), policy)
    stop = table.stop[inverse]
    source = _backfill(timeline.ts, stop, table.unknown[inverse], policy.backfill_ms)
    effective = inverse[source]
    kind = np.where(stop, STOP, np.where(table.planned[inverse], PLANNED, PRODUCING))
    if stop.any():
        micro = stop & (_short_runs(timeline.ts, stop, policy.micro_ms) | table.micro[effective])
        kind[micro] = MICRO
    return Resolution(source, kind.astype(np.int8), table.loss[effective].astype(np.int8))
