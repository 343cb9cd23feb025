"""Production lines: the order book that feeds a line and the buffers between its machines.

A line's first machine pulls raw parts from the :class:`OrderBook`; every part carries the
index of its order, so each machine changes over when the first part of a new order reaches
it. Between consecutive machines sits a finite buffer of good parts, each stamped with the
millisecond it became available downstream.

>>> from andon.sim.scenario import load_scenario
>>> line = Line(load_scenario("demo").lines[0], seed=1, index=0, start_ms=0)
>>> line.orders.order(0).id
'line1-19700101-001'
>>> [len(buffer) for buffer in line.buffers] == [line.capacity // 2] * 2
True
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime

from andon.sim.chance import Draws
from andon.sim.scenario import LineSpec

__all__ = ["Buffer", "Line", "Order", "OrderBook"]

_LINE_STREAM = 1_000_000

Buffer = deque[tuple[int, int]]
"""Parts waiting between two machines: ``(available_at_ms, order_index)``, oldest first."""


@dataclass(frozen=True, slots=True)
class Order:
    """A production order: ``quantity`` raw parts of one product released to a line."""

    index: int
    id: str
    product: str
    product_index: int
    quantity: int

    def describe(self) -> dict[str, str | int]:
        """The fields an order event carries."""
        return {"order": self.id, "product": self.product, "quantity": self.quantity}


class OrderBook:
    """The line's sequence of orders, drawn lazily and deterministically."""

    def __init__(self, spec: LineSpec, draws: Draws, start_ms: int) -> None:
        self._spec = spec
        self._draws = draws
        self._prefix = f"{spec.name}-{datetime.fromtimestamp(start_ms / 1000, UTC):%Y%m%d}"
        self._orders: list[Order] = []
        self._current = 0
        self._released = 0

    def order(self, index: int) -> Order:
        """The order at position ``index`` of the sequence."""
        while len(self._orders) <= index:
            self._orders.append(self._draw(len(self._orders)))
        return self._orders[index]

    def release(self) -> int:
        """Release one raw part to the line; returns the index of its order."""
        if self._released >= self.order(self._current).quantity:
            self._current += 1
            self._released = 0
        self._released += 1
        return self._current

    def _draw(self, index: int) -> Order:
        products = self._spec.products
        product = 0
        if index and len(products) > 1:  # never the same product twice in a row
            previous = self._orders[index - 1].product_index
            product = (previous + 1 + int(self._draws.uniform() * (len(products) - 1))) % len(
                products
            )
        low, high = self._spec.order_size
        quantity = int(self._draws.between(low, high + 1))
        order_id = f"{self._prefix}-{index + 1:03d}"
        return Order(index, order_id, products[product], product, quantity)


class Line:
    """A line's shared material state: its order book and inter-machine buffers."""

    def __init__(self, spec: LineSpec, seed: int, index: int, start_ms: int) -> None:
        self.spec = spec
        self.capacity = spec.buffer_capacity
        self.orders = OrderBook(spec, Draws(seed, _LINE_STREAM + index), start_ms)
        self.buffers: list[Buffer] = [deque() for _ in spec.machines[1:]]
        # Start in steady state: buffers half full, downstream parts released first.
        for buffer in reversed(self.buffers):
            buffer.extend((start_ms, self.orders.release()) for _ in range(self.capacity // 2))

    def inlet(self, position: int) -> Buffer | None:
        """The buffer feeding the machine at ``position`` (``None`` for the first machine)."""
        return self.buffers[position - 1] if position > 0 else None

    def outlet(self, position: int) -> Buffer | None:
        """The buffer the machine at ``position`` feeds (``None`` for the last machine)."""
        return self.buffers[position] if position < len(self.buffers) else None
