"""Replaying a replenishment policy over a demand history: orders, stock, stockouts, cost.

Each period: deliveries due arrive, the period's demand is served from stock (what is
missing is backordered and counts as a stockout), stock left over is charged holding cost,
then the policy reviews its inventory position (on hand + on order) and may order. An
order placed at the end of period ``t`` can be used from period ``t + lead`` on (a lead
time below one period counts as one): like an order placed mid-period under continuous
review, so the stock must cover ``lead`` periods of demand.

- ``eoq``: whenever the position is at or below the reorder point, order the EOQ (as many
  times as needed to rise above it). Starts with the reorder point plus one EOQ on hand.
- ``jit``: order what brings the position back to the base stock, every period. Starts with
  the base stock on hand.

>>> run = replay([10.0, 10.0, 10.0, 10.0], 0, "jit", 10.0, 0.0, 5.0, 1.0)
>>> run.orders, run.stockout_units, run.fill_rate
(4, 0.0, 1.0)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from andon.errors import InvalidRequest

__all__ = ["PolicyRun", "replay"]


@dataclass(frozen=True, slots=True)
class PolicyRun:
    """What a policy did over the history."""

    policy: str
    orders: int
    ordered_units: float
    ordering_cost: float
    holding_cost: float
    total_cost: float
    cost_per_period: float
    average_stock: float
    stockout_units: float
    stockout_periods: int
    fill_rate: float | None


def _order(policy: str, position: float, level: float, quantity: float) -> float:
    if policy == "jit":
        missing = level - position
        return missing if missing > 1e-9 * max(1.0, abs(level)) else 0.0  # not rounding noise
    if quantity <= 0:
        return 0.0
    batches = 0
    while position + batches * quantity <= level:
        batches += 1
    return batches * quantity


def replay(
    demand: Sequence[float] | npt.NDArray[np.float64],
    lead: int,
    policy: str,
    level: float,
    quantity: float,
    order_cost: float,
    holding_cost: float,
) -> PolicyRun:
    """Run ``policy`` (``eoq``: reorder point ``level``, EOQ ``quantity``; ``jit``: base
    stock ``level``) over ``demand``."""
    if policy not in ("eoq", "jit"):
        raise InvalidRequest(f"unknown policy {policy!r}")
    history = np.asarray(demand, dtype=np.float64)
    arriving = np.zeros(history.size + lead + 2)
    on_hand = level + quantity if policy == "eoq" else level
    on_order = 0.0
    orders, ordered, held, short, short_periods = 0, 0.0, 0.0, 0.0, 0
    for t, need in enumerate(history):
        on_hand += arriving[t]
        on_order -= arriving[t]
        missing = max(0.0, need - max(on_hand, 0.0))
        short += missing
        short_periods += missing > 0
        on_hand -= need
        held += max(on_hand, 0.0)
        amount = _order(policy, on_hand + on_order, level, quantity)
        if amount > 0:
            orders += 1
            ordered += amount
            on_order += amount
            arriving[t + max(lead, 1)] += amount
    periods = max(history.size, 1)
    ordering = orders * order_cost
    holding = held * holding_cost
    total_demand = float(history.sum())
    return PolicyRun(
        policy=policy,
        orders=orders,
        ordered_units=ordered,
        ordering_cost=ordering,
        holding_cost=holding,
        total_cost=ordering + holding,
        cost_per_period=(ordering + holding) / periods,
        average_stock=held / periods,
        stockout_units=short,
        stockout_periods=int(short_periods),
        fill_rate=None if total_demand == 0 else 1.0 - short / total_demand,
    )
