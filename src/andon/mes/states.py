"""Machine states over a time window: time spans and where the time of a window went.

A state timeline is a list of :class:`~andon.signals.StateChange`; each state holds until the
next change and the last one until the window ends. Turning it into time per class follows
these policies, each tested in ``tests/mes/test_oee.py``:

- **Late messages**: the timeline is sorted by ``ts_ms`` first (stable), so arrival order
  does not matter. Of several states at the same instant, the one listed last wins.
- **Clip**: a state that starts before the window (carried in) counts from the window start;
  one still in force at the window end counts until the window end. States outside the
  window count only to size and back-fill the stops around it (:mod:`andon.mes.stops`).
- **No data**: time before the first known state is ``no_data``. It is reported and excluded
  from planned busy time: andon does not invent availability loss from missing data.
- **Sub-codes** classify by their category (``state_category``), unless the policy lists the
  exact sub-code itself, which then wins over its category (:mod:`andon.mes.policy`).
- **Stops**: a stop is an entry into downtime at an instant inside the window, from a state
  that was not downtime (or from no data). Consecutive downtime states (an unknown stop
  followed by its operator reason) are one stop; downtime carried into the window is not a
  new stop. Micro-stops and failures (entries into breakdown) are counted the same way. So
  counts add up exactly when a window is split.

>>> from andon.signals import StateChange
>>> timeline = [StateChange("m", 0, 10000), StateChange("m", 4_000, 180000)]
>>> t = account(timeline, 1_000, 6_000)
>>> t.producing_ms, t.downtime_ms, t.stops, t.failures
(3000, 2000, 1, 1)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from andon.mes.policy import (
    DEFAULT_PLANNED,
    DEFAULT_POLICY,
    DEFAULT_PRODUCING,
    MICRO_STOP,
    OeePolicy,
    StateClass,
)
from andon.mes.timeline import MICRO, PLANNED, PRODUCING, STOP, Resolution, Timeline, resolve
from andon.signals import StateChange

__all__ = [
    "DEFAULT_PLANNED",
    "DEFAULT_POLICY",
    "DEFAULT_PRODUCING",
    "MICRO_STOP",
    "OeePolicy",
    "Span",
    "StateClass",
    "TimeAccount",
    "account",
    "count_stops",
    "spans",
]

_BREAKDOWN, _SETUP = 0, 1  # indices of timeline.LOSSES


@dataclass(frozen=True, slots=True)
class Span:
    """State ``code`` held over ``[start_ms, end_ms)``, already clipped to a window."""

    start_ms: int
    end_ms: int
    code: int

    @property
    def ms(self) -> int:
        return self.end_ms - self.start_ms


def _timeline(states: Sequence[StateChange] | Timeline) -> Timeline:
    return states if isinstance(states, Timeline) else Timeline.of(states)


def _durations(timeline: Timeline, start_ms: int, end_ms: int) -> tuple[np.ndarray, np.ndarray]:
    """(start, length) of each state's time inside the window; length 0 outside it."""
    until = np.append(timeline.ts[1:], end_ms)
    lo = np.maximum(timeline.ts, start_ms)
    hi = np.minimum(until, end_ms)
    return lo, np.maximum(hi - lo, 0)


def spans(states: Sequence[StateChange] | Timeline, start_ms: int, end_ms: int) -> list[Span]:
    """The timeline clipped to ``[start_ms, end_ms)``, in time order, without empty spans.

    Time before the first state is not covered by any span (no data). Codes are the raw
    ones, before any back-fill.

    >>> from andon.signals import StateChange
    >>> spans([StateChange("m", 5, 20000), StateChange("m", -9, 10000)], 0, 8)
    [Span(start_ms=0, end_ms=5, code=10000), Span(start_ms=5, end_ms=8, code=20000)]
    """
    timeline = _timeline(states)
    lo, length = _durations(timeline, start_ms, end_ms)
    return [
        Span(a, a + n, code)
        for a, n, code in zip(lo.tolist(), length.tolist(), timeline.code.tolist(), strict=True)
        if n > 0
    ]


@dataclass(slots=True)
class TimeAccount:
    """Where the time of one window went, in integer milliseconds.

    ``downtime_ms`` is the availability loss; ``breakdown_ms`` and ``setup_ms`` are the parts
    of it in those loss categories. ``micro_ms`` is micro-stop time, inside ``producing_ms``
    or ``downtime_ms`` as the policy says. ``by_code`` is keyed by the back-filled code.
    """

    pot_ms: int
    no_data_ms: int = 0
    planned_ms: int = 0
    producing_ms: int = 0
    downtime_ms: int = 0
    micro_ms: int = 0
    breakdown_ms: int = 0
    setup_ms: int = 0
    stops: int = 0
    micro_stops: int = 0
    failures: int = 0
    by_code: dict[int, int] = field(default_factory=dict)

    @property
    def pbt_ms(self) -> int:
        """Planned busy time: POT minus planned downtime minus time without data."""
        return self.pot_ms - self.planned_ms - self.no_data_ms


def _entries(now: np.ndarray, inside: np.ndarray, before: bool = False) -> int:
    """Instants inside the window where ``now`` turns true (``before``: prior to the first)."""
    was = np.concatenate(([before], now[:-1]))
    return int(np.count_nonzero(inside & now & ~was))


def count_stops(
    states: Sequence[StateChange] | Timeline,
    start_ms: int,
    end_ms: int,
    policy: OeePolicy = DEFAULT_POLICY,
) -> int:
    """Entries into downtime inside ``[start_ms, end_ms)`` (see the module docstring)."""
    return account(states, start_ms, end_ms, policy).stops


def account(
    states: Sequence[StateChange] | Timeline,
    start_ms: int,
    end_ms: int,
    policy: OeePolicy = DEFAULT_POLICY,
    resolution: Resolution | None = None,
) -> TimeAccount:
    """Split the window ``[start_ms, end_ms)`` into no data, planned, producing and downtime.

    The window is the planned operation time (POT); ``pbt_ms`` follows from it.
    ``resolution`` is ``resolve(states, policy)`` when the caller already has it: many
    windows over one long timeline resolve it once and only look at the states near each
    window (the same numbers as resolving a slice ``policy.lookaround_ms`` wider than the
    window, which is all resolution looks at).
    """
    timeline = _timeline(states)
    result = TimeAccount(pot_ms=end_ms - start_ms)
    if not len(timeline):
        result.no_data_ms = result.pot_ms
        return result
    if resolution is None:
        resolution = resolve(timeline, policy)
    else:  # the state before the one in force at the start too: it tells entries apart
        first = max(timeline.at(start_ms) - 1, 0)
        last = int(np.searchsorted(timeline.ts, end_ms, side="left"))
        codes = timeline.code[resolution.source[first:last]]
        timeline = Timeline(timeline.ts[first:last], codes, timeline.reason[first:last])
        resolution = Resolution(
            np.arange(last - first, dtype=np.int64),
            resolution.kind[first:last],
            resolution.loss[first:last],
        )
    lo, length = _durations(timeline, start_ms, end_ms)
    shown = length > 0
    result.no_data_ms = (int(lo[shown][0]) if shown.any() else end_ms) - start_ms
    klass, kind = resolution.time_class(policy), resolution.kind
    stop = kind == STOP

    def total(mask: np.ndarray) -> int:
        return int(length[mask].sum())

    result.planned_ms = total(klass == PLANNED)
    result.producing_ms = total(klass == PRODUCING)
    result.downtime_ms = total(klass == STOP)
    result.micro_ms = total(kind == MICRO)
    result.breakdown_ms = total(stop & (resolution.loss == _BREAKDOWN))
    result.setup_ms = total(stop & (resolution.loss == _SETUP))
    codes = timeline.code[resolution.source][shown]
    for code in np.unique(codes).tolist():
        result.by_code[code] = int(length[shown][codes == code].sum())
    inside = (timeline.ts >= start_ms) & (timeline.ts < end_ms)
    result.stops = _entries(klass == STOP, inside)
    result.micro_stops = _entries(kind == MICRO, inside)
    result.failures = _entries(stop & (resolution.loss == _BREAKDOWN), inside)
    return result
