"""Machine states over a time window: the OEE policy, code classification and time spans.

A state timeline is a list of :class:`~andon.signals.StateChange`; each state holds until the
next change and the last one until the window ends. Turning it into time per class follows
these policies, each tested in ``tests/mes/test_oee.py``:

- **Late messages**: the timeline is sorted by ``ts_ms`` first (stable), so arrival order
  does not matter. Of several states at the same instant, the one listed last wins.
- **Clip**: a state that starts before the window (carried in) counts from the window start;
  one still in force at the window end counts until the window end; states at or after the
  end are ignored.
- **No data**: time before the first known state is ``no_data``. It is reported and excluded
  from planned busy time: andon does not invent availability loss from missing data.
- **Sub-codes** classify by their category (``state_category``), unless the policy lists the
  exact sub-code itself, which then wins over its category.
- **Stops**: a stop is an entry into downtime at an instant inside the window, from a state
  that was not downtime (or from no data). Consecutive downtime states (an unknown stop
  followed by its operator reason) are one stop; downtime carried into the window is not a
  new stop. So stops add up exactly when a window is split.

>>> from andon.signals import StateChange
>>> timeline = [StateChange("m", 0, 10000), StateChange("m", 4_000, 180000)]
>>> t = account(timeline, 1_000, 6_000)
>>> t.producing_ms, t.downtime_ms, t.stops
(3000, 2000, 1)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from andon.errors import ConfigError
from andon.signals import StateChange, state_category, state_code

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

StateClass = Literal["planned", "producing", "downtime"]

DEFAULT_PLANNED: frozenset[int] = frozenset(
    state_code(name) for name in ("break", "no_shift", "no_order", "planned_maintenance")
)
DEFAULT_PRODUCING: frozenset[int] = frozenset(
    state_code(name) for name in ("running", "reduced_speed")
)
MICRO_STOP: int = state_code("micro_stop")


@dataclass(frozen=True, slots=True)
class OeePolicy:
    """Which state codes are planned downtime, production time or availability loss.

    ``planned`` and ``producing`` hold category codes (``180000``) or exact sub-codes
    (``180012``). Micro-stops (category 50000) are governed by the flag alone: production
    time (a performance loss, the default) or downtime (an availability loss). Every other
    code, unknown ones included, is downtime.

    >>> policy = OeePolicy()
    >>> policy.classify(150000), policy.classify(20007), policy.classify(180012)
    ('planned', 'producing', 'downtime')
    >>> policy.classify(50000), OeePolicy(micro_stop_is_performance_loss=False).classify(50000)
    ('producing', 'downtime')
    """

    planned: frozenset[int] = DEFAULT_PLANNED
    producing: frozenset[int] = DEFAULT_PRODUCING
    micro_stop_is_performance_loss: bool = True

    def __post_init__(self) -> None:
        both = self.planned & self.producing
        if both:
            raise ConfigError(f"state codes {sorted(both)} are both planned and producing")
        micro = {c for c in self.planned | self.producing if state_category(c) == MICRO_STOP}
        if micro:
            raise ConfigError(
                f"micro-stop codes {sorted(micro)} are set by micro_stop_is_performance_loss"
            )

    def classify(self, code: int) -> StateClass:
        """The class of a state code: ``"planned"``, ``"producing"`` or ``"downtime"``."""
        for key in (code, state_category(code)):
            if key in self.planned:
                return "planned"
            if key in self.producing:
                return "producing"
        if state_category(code) == MICRO_STOP and self.micro_stop_is_performance_loss:
            return "producing"
        return "downtime"


DEFAULT_POLICY = OeePolicy()


@dataclass(frozen=True, slots=True)
class Span:
    """State ``code`` held over ``[start_ms, end_ms)``, already clipped to a window."""

    start_ms: int
    end_ms: int
    code: int

    @property
    def ms(self) -> int:
        return self.end_ms - self.start_ms


def _ordered(states: Iterable[StateChange]) -> list[StateChange]:
    """Sorted by time; of several states at one instant only the last listed is kept."""
    by_time = sorted(states, key=lambda s: s.ts_ms)
    last = len(by_time) - 1
    return [s for i, s in enumerate(by_time) if i == last or by_time[i + 1].ts_ms != s.ts_ms]


def spans(states: Sequence[StateChange], start_ms: int, end_ms: int) -> list[Span]:
    """The timeline clipped to ``[start_ms, end_ms)``, in time order, without empty spans.

    Time before the first state is not covered by any span (no data).

    >>> from andon.signals import StateChange
    >>> spans([StateChange("m", 5, 20000), StateChange("m", -9, 10000)], 0, 8)
    [Span(start_ms=0, end_ms=5, code=10000), Span(start_ms=5, end_ms=8, code=20000)]
    """
    ordered = _ordered(states)
    if not ordered:
        return []
    bounds = [*(s.ts_ms for s in ordered[1:]), end_ms]
    clipped = (
        Span(max(s.ts_ms, start_ms), min(until, end_ms), s.code)
        for s, until in zip(ordered, bounds, strict=True)
    )
    return [span for span in clipped if span.end_ms > span.start_ms]


@dataclass(slots=True)
class TimeAccount:
    """Where the time of one window went, in integer milliseconds."""

    pot_ms: int
    no_data_ms: int = 0
    planned_ms: int = 0
    producing_ms: int = 0
    downtime_ms: int = 0
    stops: int = 0
    by_code: dict[int, int] = field(default_factory=dict)

    @property
    def pbt_ms(self) -> int:
        """Planned busy time: POT minus planned downtime minus time without data."""
        return self.pot_ms - self.planned_ms - self.no_data_ms

    def add(self, span: Span, state_class: StateClass) -> None:
        self.by_code[span.code] = self.by_code.get(span.code, 0) + span.ms
        if state_class == "planned":
            self.planned_ms += span.ms
        elif state_class == "producing":
            self.producing_ms += span.ms
        else:
            self.downtime_ms += span.ms


def count_stops(
    states: Sequence[StateChange], start_ms: int, end_ms: int, policy: OeePolicy = DEFAULT_POLICY
) -> int:
    """Entries into downtime inside ``[start_ms, end_ms)`` (see the module docstring)."""
    stops = 0
    before: StateClass | None = None
    for state in _ordered(states):
        now = policy.classify(state.code)
        if start_ms <= state.ts_ms < end_ms and now == "downtime" and before != "downtime":
            stops += 1
        before = now
    return stops


def account(
    states: Sequence[StateChange], start_ms: int, end_ms: int, policy: OeePolicy = DEFAULT_POLICY
) -> TimeAccount:
    """Split the window ``[start_ms, end_ms)`` into no data, planned, producing and downtime.

    The window is the planned operation time (POT); ``pbt_ms`` follows from it.
    """
    result = TimeAccount(pot_ms=end_ms - start_ms)
    clipped = spans(states, start_ms, end_ms)
    result.no_data_ms = (clipped[0].start_ms if clipped else end_ms) - start_ms
    for span in clipped:
        result.add(span, policy.classify(span.code))
    result.stops = count_stops(states, start_ms, end_ms, policy)
    return result
