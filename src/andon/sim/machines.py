"""One simulated machine: its state machine, its parts and its signals.

A machine advances one simulated second at a time. Inside the second, events happen at the
exact millisecond they fall due (a part completes, a micro-stop or failure strikes, a repair
ends, a part arrives from upstream), so state changes carry millisecond timestamps; at the
end of the second the shift calendar is applied and one metrics message is sampled.

States: ``running``; unplanned ``micro_stop`` and ``equipment_failure``; ``changeover``
(product change or tool change); ``material`` (e.g. a coil change); ``starved`` / ``blocked``
by the buffers around it; ``planned_maintenance`` when wear reaches the maintenance level;
planned ``break`` / ``no_shift`` from the calendar, which suspend whatever stop was in
progress.

Failures come two ways: at random, from a hazard that rises with wear (``reliability.py``),
and from the part in work, whose process conditions the kind's physics checks against its
failure modes when the part starts (:class:`~andon.sim.physics.Trip`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from andon.sim.chance import Draws
from andon.sim.climate import Ambient
from andon.sim.kinds import KIND_MODELS
from andon.sim.lines import Line
from andon.sim.messages import Outbox
from andon.sim.physics import Condition, Trip
from andon.sim.reliability import RELIABILITY_DEFAULTS, Reliability
from andon.sim.scenario import MachineSpec

__all__ = ["Machine"]

_logger = logging.getLogger(__name__)

_NEVER = 1 << 62
_TIMED_STOPS = frozenset(
    {"micro_stop", "equipment_failure", "changeover", "material", "planned_maintenance"}
)
_GRACE = {"starve": "starved", "block": "blocked"}  # waits still reported as running
_GRACE_KINDS = {state: kind for kind, state in _GRACE.items()}


class Machine:
    """A machine of a line, publishing through its :class:`Outbox`."""

    def __init__(
        self, spec: MachineSpec, line: Line, position: int, draws: Draws, ambient: Ambient
    ) -> None:
        kind = KIND_MODELS[spec.kind]
        params: Mapping[str, float] = {**kind.RELIABILITY, **kind.DEFAULTS, **spec.params}
        self.spec = spec
        self.outbox = Outbox(spec.path)
        self._draws = draws
        self._ambient = ambient
        self._kind = kind
        self._model = kind(params, spec.ideal_cycle_time_s, draws, ambient.air_c)
        self._rel = Reliability.from_params(
            {k: v for k, v in params.items() if k in RELIABILITY_DEFAULTS}
        )
        self._cycle_ms = spec.ideal_cycle_time_s * 1000.0
        self._orders = line.orders
        self._inlet, self._outlet, self._capacity = (
            line.inlet(position),
            line.outlet(position),
            line.capacity,
        )
        self._handlers: dict[str, Callable[[int], None]] = {
            "part": self._complete_part,
            "micro": self._micro_stop,
            "failure": self._fail,
            "trip": self._strike,
            "resume": self._resume,
            "input": self._continue,
            "starve": self._declare,
            "block": self._declare,
        }
        self._cond = Condition()
        self.state = ""
        self._reason: str | None = None
        self._planned: str | None = None
        self._next_ms, self._next_kind = _NEVER, ""
        self.total = self.good = self.scrap = 0
        self._count_ts = -1  # >= 0: totals changed at this ms and are not yet published
        self._held: int | None = None  # a finished good part waiting for outlet space
        self._suspended: tuple[str, str | None, int] | None = None
        self._renew: str | None = None  # why the stop in progress renews the worn part
        self._trip: Trip | None = None  # the stop the part in work will cause
        self._trip_left = 0.0  # running ms until it strikes
        self._evaluate, self._fresh = True, True  # the part in work needs begin_part()
        self._last_scrap = False
        self._run_since, self._hazard, self._speed = 0, 0.0, 1.0
        self._working = False  # running time is booked (not waiting, not stopped)
        self._grace_ms = round(self._rel.wait_grace_cycles * self._cycle_ms)
        self._micro_left = draws.exponential(self._rel.micro_every_ms)
        self._fail_left = draws.exponential(1.0)
        self._wear_ms = draws.between(0.0, 0.8) * self._rel.life_ms
        self._part: int | None = self._first_part()
        self._order = self._part if self._part is not None else 0
        self._work_left = self._draw_work() * draws.uniform()

    # -- the public step ---------------------------------------------------------------

    def start(self, ts: int, planned: str | None) -> None:
        """Publish the initial state, totals and order at ``ts``."""
        self.outbox.count(ts, total=0, good=0, scrap=0)
        self._order_event(ts, "order_start", self._order)
        self._planned = planned
        if planned is None:
            self._continue(ts)
        else:
            self._enter(ts, planned, None)

    def advance(self, t0: int, t1: int, planned: str | None) -> None:
        """Simulate ``(t0, t1]``, apply the calendar at ``t1``, then sample metrics at ``t1``."""
        self._wake(t0)
        while self._next_ms <= t1:
            self._handlers[self._next_kind](self._next_ms)
        if planned != self._planned:
            self._apply_calendar(t1, planned)
        self._flush_count()
        self.outbox.metrics(t1, self._model.sample(self._condition(t1)))

    # -- production --------------------------------------------------------------------

    def _continue(self, t: int) -> None:
        """Decide what to do next after a part, a stop or a wait ends."""
        if self._held is not None:
            outlet = self._outlet
            if outlet is None or len(outlet) >= self._capacity:
                self._wait(t, "blocked", _NEVER)
                return
            outlet.append((t, self._held))
            self._held = None
        if self._part is None and not self._load(t):
            return
        if self._part != self._order:
            self._changeover(t)
            return
        self._run(t)

    def _load(self, t: int) -> bool:
        """Take the next part from the inlet (or the order book); else wait for one."""
        inlet = self._inlet
        if inlet is None:
            self._part = self._orders.release()
        elif inlet and inlet[0][0] <= t:
            self._part = inlet.popleft()[1]
        else:
            self._wait(t, "starved", inlet[0][0] if inlet else _NEVER)
            return False
        self._work_left = self._draw_work()
        self._evaluate, self._fresh = True, True
        return True

    def _wait(self, t: int, state: str, ready_ms: int) -> None:
        """Wait for a neighbour until ``ready_ms`` (when known).

        A running machine reports short waits (within its grace) as running, a performance
        loss, and reports ``state`` only once the wait outlasts the grace; as PLC starvation
        timers do, this keeps lines of unequal speeds from chattering every cycle.
        """
        if self.state != "running":
            self._enter(t, state, None, ready_ms, "input")
            return
        declare_ms = t + self._grace_ms
        if ready_ms <= declare_ms:
            self._next_ms, self._next_kind = ready_ms, "input"
        else:
            self._next_ms, self._next_kind = declare_ms, _GRACE_KINDS[state]

    def _declare(self, t: int) -> None:
        """The grace ran out: report the wait (``starved`` or ``blocked``)."""
        state = _GRACE[self._next_kind]
        ready = self._inlet[0][0] if state == "starved" and self._inlet else _NEVER
        self._enter(t, state, None, max(ready, t), "input")

    def _run(self, t: int) -> None:
        if self._evaluate:
            self._begin_part(t)
            if self._trip is not None and self._trip_left <= 0:
                self._strike(t)
                return
        self._run_since, self._working = t, True
        self._hazard = self._rel.hazard(self._wear_ms / self._rel.life_ms)
        next_ms, kind = t + max(1, round(self._work_left)), "part"
        micro_ms = t + max(1, round(self._micro_left))
        if micro_ms < next_ms:
            next_ms, kind = micro_ms, "micro"
        failure_ms = t + max(1, round(min(self._fail_left / self._hazard, _NEVER / 2)))
        if failure_ms < next_ms:
            next_ms, kind = failure_ms, "failure"
        if self._trip is not None:
            trip_ms = t + max(1, round(self._trip_left))
            if trip_ms < next_ms:
                next_ms, kind = trip_ms, "trip"
        self._enter(t, "running", None, next_ms, kind)

    def _begin_part(self, t: int) -> None:
        """Let the physics draw the part's process conditions and the stop they cause."""
        trip = self._model.begin_part(self._condition(t), self._fresh)
        self._evaluate = self._fresh = False
        self._trip = trip
        self._trip_left = trip.at * self._work_left if trip is not None else 0.0

    def _settle(self, t: int) -> None:
        """Book running time since the last settlement against work, wear and hazards."""
        elapsed = t - self._run_since
        self._run_since, self._working = t, False
        self._work_left -= elapsed
        self._micro_left -= elapsed
        self._fail_left -= self._hazard * elapsed
        self._wear_ms += elapsed
        self._trip_left -= elapsed

    def _complete_part(self, t: int) -> None:
        self._settle(t)
        wear = self._wear_ms / self._rel.life_ms
        scrap = self._draws.uniform() < self._rel.scrap_probability(
            wear, self._ambient.humidity_pct
        )
        self.total += 1
        self._last_scrap = scrap
        if scrap:
            self.scrap += 1
        else:
            self.good += 1
            self._held = self._part if self._outlet is not None else None
        self._count_ts = t
        self._part = None
        if self._kind.TOOL and self._model.worn_out(self._condition(t)):
            self._change_tool(t, "worn_out")
            self._enter(t, "changeover", "tool_change", t + self._span(self._rel.tool_change_ms))
        elif self._rel.maintenance_at and wear >= self._rel.maintenance_at:
            self._maintain(t, wear)
        else:
            self._continue(t)

    def _maintain(self, t: int, wear: float) -> None:
        """Planned maintenance renews the worn part before it fails."""
        self._flush_count()
        self.outbox.event(t, "maintenance", {"reason": "preventive", "wear": round(wear, 3)})
        self._renew = "maintenance"
        end = t + self._span(self._rel.maintenance_ms)
        self._enter(t, "planned_maintenance", "preventive", end)

    def _changeover(self, t: int) -> None:
        assert self._part is not None
        self._order_event(t, "order_end", self._order)
        self._order = self._part
        self._order_event(t, "order_start", self._order)
        if self._kind.TOOL and self._wear_ms >= self._rel.tool_change_at * self._rel.life_ms:
            self._change_tool(t, "changeover")
        self._evaluate = True  # the part now belongs to the new order (and maybe a new tool)
        self._enter(t, "changeover", "product_change", t + self._span(self._rel.changeover_ms))

    def _draw_work(self) -> float:
        low, high = self._rel.speed
        self._speed = self._draws.between(low, high) * self._rel.slowdown(
            self._wear_ms / self._rel.life_ms
        )
        return self._cycle_ms / self._speed

    def _first_part(self) -> int | None:
        if self._inlet is None:
            return self._orders.release()
        return self._inlet.popleft()[1] if self._inlet else None

    # -- stops -------------------------------------------------------------------------

    def _micro_stop(self, t: int) -> None:
        self._settle(t)
        self._micro_left = self._draws.exponential(self._rel.micro_every_ms)
        reasons = self._kind.MICRO_STOPS
        reason = reasons[int(self._draws.uniform() * len(reasons))]
        self._enter(t, "micro_stop", reason, t + self._span(self._rel.micro_ms))

    def _fail(self, t: int) -> None:
        self._settle(t)
        self._fail_left = self._draws.exponential(1.0)
        wear = self._wear_ms / self._rel.life_ms
        failures = self._kind.FAILURES
        weights = [0.5 + 4.0 * wear * wear if by_wear else 1.0 for _, by_wear in failures]
        reason, by_wear = failures[self._draws.pick(weights)]
        self._renew = "failure" if by_wear else None
        _logger.debug("%s: %s at %d (wear %.2f)", self.spec.path, reason, t, wear)
        self._enter(t, "equipment_failure", reason, t + self._span(self._rel.repair_ms))

    def _strike(self, t: int) -> None:
        """The part in work causes its stop (a failure mode, a coil change...)."""
        if self._working:
            self._settle(t)
        trip, self._trip = self._trip, None
        assert trip is not None
        self._renew = "failure" if trip.renew else None
        self._evaluate = True  # the part is tried again after the stop
        bounds = self._rel.repair_ms
        if trip.minutes is not None:
            bounds = (trip.minutes[0] * 60_000.0, trip.minutes[1] * 60_000.0)
        _logger.debug("%s: %s at %d", self.spec.path, trip.reason, t)
        self._enter(t, trip.state, trip.reason, t + self._span(bounds))

    def _resume(self, t: int) -> None:
        if self._renew is not None:  # the repair replaced the worn tool or component
            if self._kind.TOOL:
                self._change_tool(t, self._renew)
            else:
                self._wear_ms = 0.0
                self._model.renew()
            self._renew = None
            self._evaluate = self._part is not None
        self._continue(t)

    def _wake(self, t0: int) -> None:
        """Re-check waits on neighbours, who may have moved since the last second."""
        waiting_for = _GRACE.get(self._next_kind) or self.state
        if waiting_for == "blocked" and len(self._outlet or ()) < self._capacity:
            self._next_ms, self._next_kind = t0, "input"
        elif waiting_for == "starved" and self._inlet:
            ready = max(self._inlet[0][0], t0)
            if ready < self._next_ms:
                self._next_ms, self._next_kind = ready, "input"

    def _apply_calendar(self, t: int, planned: str | None) -> None:
        if planned is None:
            self._planned = None
            suspended, self._suspended = self._suspended, None
            if suspended is None:
                self._continue(t)
            else:
                state, reason, left = suspended
                self._enter(t, state, reason, t + left)
            return
        if self._planned is None:
            if self._working:
                self._settle(t)
            elif self.state in _TIMED_STOPS:
                self._suspended = (self.state, self._reason, max(0, self._next_ms - t))
        self._planned = planned
        self._enter(t, planned, None)

    # -- messages ----------------------------------------------------------------------

    def _enter(
        self, t: int, state: str, reason: str | None, next_ms: int = _NEVER, kind: str = "resume"
    ) -> None:
        if state != self.state or reason != self._reason:
            self._flush_count()
            self.outbox.state(t, state, reason)
            self.state, self._reason = state, reason
        self._next_ms, self._next_kind = next_ms, kind

    def _flush_count(self) -> None:
        if self._count_ts >= 0:
            self.outbox.count(self._count_ts, total=self.total, good=self.good, scrap=self.scrap)
            self._count_ts = -1

    def _order_event(self, t: int, kind: str, index: int) -> None:
        self._flush_count()
        self.outbox.event(t, kind, self._orders.order(index).describe())

    def _change_tool(self, t: int, why: str) -> None:
        self._flush_count()
        wear_min = round(self._wear_ms / 60_000.0, 1)
        self.outbox.event(t, "tool_change", {"reason": why, "tool_wear_min": wear_min})
        self._wear_ms = 0.0
        self._model.renew()

    def _span(self, bounds: tuple[float, float]) -> int:
        return max(1000, round(self._draws.between(*bounds)))

    def _condition(self, t: int) -> Condition:
        c = self._cond
        wear_ms = self._wear_ms + (t - self._run_since if self._working else 0)
        c.running = self.state == "running"
        c.state = self.state
        c.speed = self._speed
        c.wear = wear_ms / self._rel.life_ms
        c.wear_min = wear_ms / 60_000.0
        c.product = self._orders.order(self._order).product_index
        c.air_c = self._ambient.air_c
        c.parts = self.total
        c.last_scrap = self._last_scrap
        return c
