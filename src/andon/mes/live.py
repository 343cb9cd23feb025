"""Live OEE, current state and order progress from the ingest stream, without re-reading history.

:class:`LiveOee` is a :class:`~andon.signals.RecordStream`: the app hands it every batch of
records just written to the historian. Per machine it keeps a short tail of states and count
readings and a *checkpoint*: everything before the checkpoint is folded into an exact
partial result, and a snapshot adds the tail, computed by the very functions batch
recomputation uses (:func:`~andon.mes.states.account`, :func:`~andon.mes.count_deltas`,
:func:`~andon.mes.rollup`). Because results of adjacent windows add up exactly, the live
numbers equal :func:`~andon.mes.oee_for_asset` over the same window and data.

The checkpoint trails the newest record by ``policy.lookaround_ms`` plus ``lateness_ms``: a
record that arrives later than that (older than the checkpoint) cannot be folded in any
more; it is counted in ``late`` and only batch recomputation sees it. With a calendar the
window is the current shift (the last one between shifts), otherwise it starts at
``start_ms``. Order progress follows the ``order_start``/``order_end`` events.

>>> from andon.signals import CountUpdate, StateChange
>>> live = LiveOee(0, ideal_cycle_times={"l1/m1": 1.0})
>>> live.publish([StateChange("l1/m1", 0, 10000), CountUpdate("l1/m1", 0, 0, 0, 0),
...               StateChange("l1/m1", 1_800_000, 180000),
...               CountUpdate("l1/m1", 1_799_000, 1500, 1500, 0)])
>>> r = live.oee("l1/m1", 3_600_000)
>>> r.availability, round(r.performance, 4), live.state("l1/m1").code
(0.5, 0.8333, 180000)
"""

from __future__ import annotations

import bisect
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import pairwise

from andon.mes.calendar import Calendar
from andon.mes.oee import OeeResult, Quantities, from_account, rollup
from andon.mes.policy import DEFAULT_POLICY, OeePolicy
from andon.mes.production import count_deltas
from andon.mes.states import account
from andon.mes.timeline import Timeline
from andon.namespace import ancestors
from andon.signals import CountUpdate, Event, Record, StateChange

__all__ = ["LiveOee", "LiveOrder"]

_logger = logging.getLogger(__name__)
_FOREVER = 1 << 62


@dataclass(slots=True)
class LiveOrder:
    """An order seen on a machine's event channel and its quantities there."""

    order: str
    product: str
    quantity: int
    start_ms: int
    end_ms: int | None = None
    folded: Quantities = (0, 0, 0)

    def to_dict(self, quantities: Quantities) -> dict[str, object]:
        produced, good, scrap = quantities
        return {
            "order": self.order,
            "product": self.product,
            "quantity": self.quantity,
            "start": self.start_ms,
            "end": self.end_ms,
            "produced": produced,
            "good": good,
            "scrap": scrap,
        }


@dataclass(slots=True)
class _Cell:
    window: tuple[int, int]
    checkpoint: int
    closed: OeeResult | None = None
    states: list[StateChange] = field(default_factory=list)
    counts: list[CountUpdate] = field(default_factory=list)
    orders: list[LiveOrder] = field(default_factory=list)
    newest: int = -_FOREVER
    recheck: int = _FOREVER


def _add(a: Quantities, b: Quantities) -> Quantities:
    return (a[0] + b[0], a[1] + b[1], a[2] + b[2])


class LiveOee:
    """Current state, OEE of the current window and order progress per machine."""

    def __init__(
        self,
        start_ms: int,
        *,
        policy: OeePolicy = DEFAULT_POLICY,
        ideal_cycle_times: Mapping[str, float] | None = None,
        product_cycle_times: Mapping[tuple[str, str], float] | None = None,
        calendar: Calendar | None = None,
        lateness_ms: int = 60_000,
    ) -> None:
        self.start_ms = start_ms
        self.policy = policy
        self.cycles = dict(ideal_cycle_times or {})
        self.product_cycles = dict(product_cycle_times or {})
        self.calendar = calendar or Calendar()
        self.lateness_ms = lateness_ms
        self.late = 0
        self._cells: dict[str, _Cell] = {}
        self._lock = threading.Lock()

    # -- the stream ---------------------------------------------------------------------

    def publish(self, records: list[Record]) -> None:
        """Take a batch of records in (the :class:`~andon.signals.RecordStream` contract)."""
        with self._lock:
            for record in records:
                if isinstance(record, StateChange | CountUpdate | Event):
                    self._take(record)
            for asset, cell in self._cells.items():
                self._fold(asset, cell)

    def _window(self, ts_ms: int) -> tuple[tuple[int, int], int]:
        """The window holding ``ts_ms`` and when to look again (the next shift's start)."""
        if not self.calendar.shifts:
            return (self.start_ms, _FOREVER), _FOREVER
        day = 86_400_000
        shifts = self.calendar.shifts_between(ts_ms - 3 * day, ts_ms + 3 * day)
        started = [s for s in shifts if s.start_ms <= ts_ms]
        recheck = min((s.start_ms for s in shifts if s.start_ms > ts_ms), default=ts_ms + day)
        if not started:
            return (self.start_ms, _FOREVER), recheck
        return (started[-1].start_ms, started[-1].end_ms), recheck

    def _cell(self, asset: str, ts_ms: int) -> _Cell:
        cell = self._cells.get(asset)
        if cell is None:
            window, recheck = self._window(ts_ms)
            cell = self._cells[asset] = _Cell(window, window[0], recheck=recheck)
        return cell

    def _take(self, record: StateChange | CountUpdate | Event) -> None:
        cell = self._cell(record.asset, record.ts_ms)
        if record.ts_ms < cell.checkpoint:
            self.late += 1
            _logger.debug(
                "late record for %s at %d dropped from live OEE", record.asset, record.ts_ms
            )
            return
        if isinstance(record, StateChange):
            bisect.insort(cell.states, record, key=lambda s: s.ts_ms)
        elif isinstance(record, CountUpdate):
            bisect.insort(cell.counts, record, key=lambda c: c.ts_ms)
        else:
            self._order_event(cell, record)
        cell.newest = max(cell.newest, record.ts_ms)
        if cell.newest >= cell.recheck:
            window, cell.recheck = self._window(cell.newest)
            if window[0] > cell.window[0]:  # a new shift began: a new window
                cell.window, cell.closed = window, None

    def _order_event(self, cell: _Cell, event: Event) -> None:
        ident = event.data.get("order")
        if not ident:
            return
        if event.kind == "order_start":
            cell.orders.append(
                LiveOrder(
                    str(ident),
                    str(event.data.get("product") or "unknown"),
                    int(event.data.get("quantity") or 0),
                    event.ts_ms,
                )
            )
        elif event.kind == "order_end":
            for order in cell.orders:
                if order.order == str(ident) and order.end_ms is None:
                    order.end_ms = event.ts_ms

    # -- computing ------------------------------------------------------------------------

    def _cycle(self, asset: str, product: str | None) -> float | None:
        if product is not None:
            for path in [asset, *reversed(ancestors(asset))]:
                if (path, product) in self.product_cycles:
                    return self.product_cycles[(path, product)]
        return self.cycles.get(asset)

    def _pieces(
        self, asset: str, cell: _Cell, a: int, b: int
    ) -> list[tuple[int, int, float | None]]:
        cuts = sorted(
            {a, b} | {t for o in cell.orders for t in (o.start_ms, o.end_ms or b) if a < t < b}
        )
        pieces: list[tuple[int, int, float | None]] = []
        for lo, hi in pairwise(cuts):
            product = next(
                (o.product for o in cell.orders if o.start_ms <= lo and (o.end_ms or b) >= hi), None
            )
            cycle = self._cycle(asset, product)
            if pieces and pieces[-1][2] == cycle and pieces[-1][1] == lo:
                pieces[-1] = (pieces[-1][0], hi, cycle)
            else:
                pieces.append((lo, hi, cycle))
        return pieces

    def _compute(self, asset: str, cell: _Cell, a: int, b: int) -> OeeResult:
        margin = self.policy.lookaround_ms
        timeline = Timeline.of(cell.states).overlay(self.calendar.planned(a - margin, b + margin))
        results = [
            from_account(
                asset,
                account(timeline, lo, hi, self.policy),
                count_deltas(cell.counts, lo, hi),
                lo,
                hi,
                ideal_cycle_time_s=cycle,
                policy=self.policy,
            )
            for lo, hi, cycle in self._pieces(asset, cell, a, b)
        ]
        return results[0] if len(results) == 1 else rollup(asset, results)

    def _fold(self, asset: str, cell: _Cell) -> None:
        """Fold ``[checkpoint, target)`` in: into the window's result where they overlap, into
        the orders' quantities always. Never past the next window's start, so a new window
        always begins at or after the checkpoint."""
        margin = self.policy.lookaround_ms
        target = min(cell.newest - margin - self.lateness_ms, cell.recheck)
        if target - cell.checkpoint < max(margin, 600_000):  # fold in chunks of 10 min or more
            return
        lo, hi = max(cell.checkpoint, cell.window[0]), min(target, cell.window[1])
        if hi > lo:
            part = self._compute(asset, cell, lo, hi)
            cell.closed = part if cell.closed is None else rollup(asset, [cell.closed, part])
        for order in cell.orders:
            lo, hi = max(order.start_ms, cell.checkpoint), min(order.end_ms or target, target)
            if hi > lo:
                order.folded = _add(order.folded, count_deltas(cell.counts, lo, hi))
        self._trim(cell, target)

    def _trim(self, cell: _Cell, checkpoint: int) -> None:
        margin = self.policy.lookaround_ms
        keep_from = max(Timeline.of(cell.states).at(checkpoint - margin), 0)
        cell.states = cell.states[keep_from:]
        base = bisect.bisect_left([c.ts_ms for c in cell.counts], checkpoint) - 1
        cell.counts = cell.counts[max(base, 0) :]
        cell.orders = [o for o in cell.orders if o.end_ms is None or o.end_ms > checkpoint]
        cell.checkpoint = checkpoint

    # -- reading ----------------------------------------------------------------------------

    def assets(self) -> list[str]:
        with self._lock:
            return sorted(self._cells)

    def state(self, asset: str) -> StateChange | None:
        """The machine's newest state change (None before the first)."""
        with self._lock:
            cell = self._cells.get(asset)
            return cell.states[-1] if cell and cell.states else None

    def window(self, asset: str) -> tuple[int, int] | None:
        with self._lock:
            cell = self._cells.get(asset)
            return None if cell is None else cell.window

    def oee(self, asset: str, now_ms: int) -> OeeResult | None:
        """OEE of the current window up to ``now_ms`` (None for an unseen asset)."""
        with self._lock:
            cell = self._cells.get(asset)
            if cell is None:
                return None
            start, end = max(cell.checkpoint, cell.window[0]), min(now_ms, cell.window[1])
            if end <= start:
                return cell.closed
            tail = self._compute(asset, cell, start, end)
            return tail if cell.closed is None else rollup(asset, [cell.closed, tail])

    def order(self, asset: str, now_ms: int) -> dict[str, object] | None:
        """The order running (or last run) on ``asset`` with its quantities up to ``now_ms``."""
        with self._lock:
            cell = self._cells.get(asset)
            if cell is None or not cell.orders:
                return None
            order = cell.orders[-1]
            lo, hi = max(order.start_ms, cell.checkpoint), min(order.end_ms or now_ms, now_ms)
            tail = count_deltas(cell.counts, lo, hi) if hi > lo else (0, 0, 0)
            return order.to_dict(_add(order.folded, tail))
