"""Stops: runs of unplanned downtime in a state timeline, back-filled and sized.

A **stop** is a maximal run of consecutive stop states (see :class:`~andon.mes.policy.OeePolicy`):
an unknown stop followed by its reason is one stop, not two. Resolving a timeline decides,
for each state, the code it counts under and its kind:

- **Back-fill**: an unknown stop (category 30000) lasting at most ``unknown_backfill_s`` and
  followed directly by another stop state takes that state's code and reason. Only the direct
  successor counts (no chains), so the decision needs the timeline ``unknown_backfill_s`` past
  a window's end, never more.
- **Micro-stops**: a stop that *ended* less than ``micro_stop_threshold_s`` after it began is a
  micro-stop, as is every state whose (back-filled) code is a micro-stop (category 50000). A
  stop still open at the end of the known timeline holds (a state lasts until the next), so
  it is a real stop until it ends short.

Both depend only on the timeline, never on the window asked for: a window's numbers are
exact when the timeline is known ``policy.lookaround_ms`` before and after it, and windows
split anywhere add up to the whole.

>>> from andon.signals import StateChange
>>> timeline = [StateChange("m", 0, 10000), StateChange("m", 10_000, 30000),
...             StateChange("m", 70_000, 180000, "spindle"), StateChange("m", 400_000, 10000),
...             StateChange("m", 500_000, 60000), StateChange("m", 530_000, 10000)]
>>> [(r.code, r.reason, r.kind) for r in resolved(timeline)]  # doctest: +NORMALIZE_WHITESPACE
[(10000, None, 'producing'), (180000, 'spindle', 'stop'), (180000, 'spindle', 'stop'),
 (10000, None, 'producing'), (60000, None, 'micro'), (10000, None, 'producing')]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, cast

from andon.mes.policy import DEFAULT_POLICY, OeePolicy
from andon.mes.timeline import KIND_NAMES, MICRO, STOP, Timeline, resolve
from andon.signals import StateChange

__all__ = ["Kind", "Resolved", "Stop", "ordered", "resolved", "stops_of"]

Kind = Literal["planned", "producing", "stop", "micro"]


@dataclass(frozen=True, slots=True)
class Resolved:
    """A state change as it counts: the code and reason after back-fill, and its kind."""

    ts_ms: int
    code: int
    reason: str | None
    kind: Kind
    raw_code: int


@dataclass(frozen=True, slots=True)
class Stop:
    """One stop: ``[start_ms, end_ms)`` (``end_ms`` None while open) and its resolved states."""

    start_ms: int
    end_ms: int | None
    micro: bool
    states: tuple[Resolved, ...]

    @property
    def code(self) -> int:
        """The code the stop is known by: that of its longest-lasting resolved state."""
        return self._main().code

    @property
    def reason(self) -> str | None:
        return self._main().reason

    def _main(self) -> Resolved:
        ends = [s.ts_ms for s in self.states[1:]] + [self.end_ms or self.states[-1].ts_ms]
        lengths = [end - s.ts_ms for s, end in zip(self.states, ends, strict=True)]
        return self.states[lengths.index(max(lengths))]


def ordered(states: Iterable[StateChange]) -> list[StateChange]:
    """Sorted by time; of several states at one instant only the last listed is kept."""
    by_time = sorted(states, key=lambda s: s.ts_ms)
    last = len(by_time) - 1
    return [s for i, s in enumerate(by_time) if i == last or by_time[i + 1].ts_ms != s.ts_ms]


def _resolved(timeline: Timeline, policy: OeePolicy) -> list[Resolved]:
    resolution = resolve(timeline, policy)
    codes, stamps = timeline.code.tolist(), timeline.ts.tolist()
    return [
        Resolved(ts, codes[src], timeline.reason[src], cast(Kind, KIND_NAMES[kind]), raw)
        for ts, raw, src, kind in zip(
            stamps, codes, resolution.source.tolist(), resolution.kind.tolist(), strict=True
        )
    ]


def resolved(
    states: Iterable[StateChange] | Timeline, policy: OeePolicy = DEFAULT_POLICY
) -> list[Resolved]:
    """The timeline in time order, each state with the code and kind it counts under."""
    timeline = states if isinstance(states, Timeline) else Timeline.of(states)
    return _resolved(timeline, policy)


def stops_of(
    states: Sequence[StateChange] | Timeline,
    start_ms: int,
    end_ms: int,
    policy: OeePolicy = DEFAULT_POLICY,
) -> list[Stop]:
    """The stops that overlap ``[start_ms, end_ms)``, micro-stops included, in time order.

    >>> from andon.signals import StateChange
    >>> timeline = [StateChange("m", 0, 10000), StateChange("m", 5_000, 30000),
    ...             StateChange("m", 400_000, 10000)]
    >>> [(s.start_ms, s.end_ms, s.code, s.micro) for s in stops_of(timeline, 0, 10_000)]
    [(5000, 400000, 30000, False)]
    """
    found: list[Stop] = []
    run: list[Resolved] = []
    for state in [*resolved(states, policy), None]:
        if state is not None and state.kind in KIND_NAMES[STOP : MICRO + 1]:
            run.append(state)
            continue
        if run:
            end = None if state is None else state.ts_ms
            if run[0].ts_ms < end_ms and (end is None or end > start_ms):
                micro = all(s.kind == "micro" for s in run)
                found.append(Stop(run[0].ts_ms, end, micro, tuple(run)))
            run = []
    return found
