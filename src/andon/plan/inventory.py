"""Inventory policies from demand history: safety stock, reorder point, EOQ, JIT compared.

Per material, from demand per period (history, or consumption derived from production
through the bill of materials, :func:`explode`):

- safety stock for a cycle service level ``SL`` (probability of no stockout in a
  replenishment cycle), demand and lead time both uncertain:
  ``SS = z(SL) sqrt(L sigma_d^2 + d^2 sigma_L^2)``;
- reorder point ``ROP = d L + SS``; economic order quantity ``EOQ = sqrt(2 d S / h)``
  (``d`` mean demand per period, ``S`` cost per order, ``h`` holding cost per unit and
  period: the period cancels, so any period length works);
- the two policies compared, analytically (expected cost per period) and by replaying the
  actual history (orders, holding, stockouts, fill rate):
  **reorder point / EOQ** (order ``EOQ`` when the inventory position falls to the ROP) and
  **just in time** (each period, order what was consumed, back up to a base stock equal to
  the reorder point: small frequent deliveries).
  A JIT delivery often costs less than a full purchase order (a kanban or a milk run):
  ``jit_order_cost`` says how much, the same as ``order_cost`` by default.

>>> policy = inventory_policy("steel", [100.0] * 12, lead_time=2, order_cost=50.0,
...                           holding_cost=1.0, service_level=0.95)
>>> policy.safety_stock, policy.reorder_point, policy.eoq
(0.0, 200.0, 100.0)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy.special import ndtri

from andon.errors import InvalidRequest
from andon.plan.replenishment import PolicyRun, replay

__all__ = [
    "InventoryPolicy",
    "PolicyRun",
    "eoq",
    "explode",
    "inventory_policy",
    "reorder_point",
    "safety_stock",
]


def safety_stock(
    service_level: float,
    demand_std: float,
    lead_time: float,
    *,
    demand_mean: float = 0.0,
    lead_time_std: float = 0.0,
) -> float:
    """``z(SL) sqrt(L sigma_d^2 + d^2 sigma_L^2)``, never below zero.

    >>> round(safety_stock(0.95, 20.0, 4.0), 2)  # 1.645 x 20 x 2
    65.79
    """
    if not 0 < service_level < 1:
        raise InvalidRequest("the service level must be between 0 and 1 (e.g. 0.95)")
    if min(demand_std, lead_time, demand_mean, lead_time_std) < 0:
        raise InvalidRequest("demand, lead time and their deviations must not be negative")
    spread = math.sqrt(lead_time * demand_std**2 + demand_mean**2 * lead_time_std**2)
    return max(0.0, float(ndtri(service_level)) * spread)


def reorder_point(demand_mean: float, lead_time: float, safety: float) -> float:
    """Expected demand over the lead time plus the safety stock.

    >>> reorder_point(100.0, 2.0, 30.0)
    230.0
    """
    return demand_mean * lead_time + safety


def eoq(demand_mean: float, order_cost: float, holding_cost: float) -> float:
    """The order quantity minimising ordering + holding cost per period (Harris 1913).

    >>> eoq(1000.0, 50.0, 1.0)  # sqrt(2 x 1000 x 50 / 1)
    316.22776601683796
    """
    if holding_cost <= 0 or order_cost < 0 or demand_mean < 0:
        raise InvalidRequest("EOQ needs a positive holding cost and non-negative demand/cost")
    return math.sqrt(2.0 * demand_mean * order_cost / holding_cost)


@dataclass(frozen=True, slots=True)
class InventoryPolicy:
    """The policy parameters of one material and the two policies' costs."""

    material: str
    periods: int
    demand_mean: float
    demand_std: float
    lead_time: float
    service_level: float
    safety_stock: float
    reorder_point: float
    eoq: float
    order_cost: float
    holding_cost: float
    expected_cost_eoq: float
    expected_cost_jit: float
    replay_eoq: PolicyRun
    replay_jit: PolicyRun
    cheaper: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def inventory_policy(
    material: str,
    demand: Sequence[float],
    *,
    lead_time: float,
    order_cost: float,
    holding_cost: float,
    service_level: float = 0.95,
    lead_time_std: float = 0.0,
    jit_order_cost: float | None = None,
) -> InventoryPolicy:
    """Safety stock, reorder point, EOQ and the EOQ/JIT comparison for one material."""
    history = np.asarray(demand, dtype=np.float64)
    if history.size < 2 or np.any(history < 0) or not np.all(np.isfinite(history)):
        raise InvalidRequest(f"{material}: need at least 2 periods of non-negative demand")
    mean, std = float(history.mean()), float(history.std(ddof=1))
    safety = safety_stock(
        service_level, std, lead_time, demand_mean=mean, lead_time_std=lead_time_std
    )
    quantity = eoq(mean, order_cost, holding_cost)
    rop = reorder_point(mean, lead_time, safety)
    jit_cost = order_cost if jit_order_cost is None else jit_order_cost
    expected_eoq = (mean / quantity * order_cost if quantity > 0 else 0.0) + holding_cost * (
        quantity / 2 + safety
    )
    expected_jit = (jit_cost if mean > 0 else 0.0) + holding_cost * (mean / 2 + safety)
    lead = math.ceil(lead_time)
    run_eoq = replay(history, lead, "eoq", rop, quantity, order_cost, holding_cost)
    run_jit = replay(history, lead, "jit", rop, 0.0, jit_cost, holding_cost)
    return InventoryPolicy(
        material=material,
        periods=int(history.size),
        demand_mean=mean,
        demand_std=std,
        lead_time=lead_time,
        service_level=service_level,
        safety_stock=safety,
        reorder_point=rop,
        eoq=quantity,
        order_cost=order_cost,
        holding_cost=holding_cost,
        expected_cost_eoq=expected_eoq,
        expected_cost_jit=expected_jit,
        replay_eoq=run_eoq,
        replay_jit=run_jit,
        cheaper="eoq" if run_eoq.total_cost <= run_jit.total_cost else "jit",
    )


def explode(
    bom: Mapping[str, Mapping[str, float]], produced: Mapping[str, float]
) -> dict[str, float]:
    """Gross requirements of every component at every level for the produced quantities.

    ``bom[product][component]`` is the quantity per unit of product; components with a bill
    of their own are exploded further (an assembly's parts count as consumed too).

    >>> bom = {"bike": {"frame": 1, "wheel": 2}, "wheel": {"spoke": 32, "rim": 1}}
    >>> explode(bom, {"bike": 10})
    {'frame': 10.0, 'wheel': 20.0, 'spoke': 640.0, 'rim': 20.0}
    """
    needs: dict[str, float] = {}

    def walk(item: str, quantity: float, path: tuple[str, ...]) -> None:
        for component, per_unit in bom.get(item, {}).items():
            if component in path:
                raise InvalidRequest(f"the bill of materials has a cycle: {' > '.join(path)}")
            if per_unit < 0:
                raise InvalidRequest(f"{item} -> {component}: negative quantity per unit")
            needs[component] = needs.get(component, 0.0) + quantity * per_unit
            walk(component, quantity * per_unit, (*path, component))

    for product, quantity in produced.items():
        walk(product, float(quantity), (product,))
    return needs
