"""Production planning: the cost-minimal plan by mixed-integer programming (HiGHS).

The model is the multi-item capacitated lot-sizing problem with setup times (CLSP): for each
product ``p`` and period ``t``, produce ``x``, hold ``I``, and set up (``y`` in {0, 1})
whenever it produces:

- balance: ``I[p,t-1] + x[p,t] - I[p,t] = demand[p,t]`` (``I[p,-1]`` = initial inventory;
  demand is met on time: no backlog);
- setup: ``x[p,t] <= M[p,t] y[p,t]`` with ``M`` the remaining demand (plus safety stock)
  or what the routing's capacity allows, whichever is smaller;
- capacity, for each work centre ``w``: ``sum_p hours[p,w] x[p,t] + setup_hours[p,w]
  y[p,t] <= capacity[w,t] + overtime[w,t]``, overtime up to a limit at a cost per hour;
- safety stock: ``I[p,t] >= safety_stock[p]``.

It minimises holding + setup + unit + overtime cost. The report gives the plan, its cost
and the optimality gap, the **binding constraints** (work centres used to the last hour,
safety stocks held at their minimum) with their shadow price from the LP around the chosen
setups (what one more hour, or one unit less of safety stock, is worth), and the cost of the
lot-for-lot plan (produce each period's net requirement in that period) as a baseline.

**Infeasible input is explained, not crashed on**: an elastic copy of the model, in which
capacity and safety stock may be violated, finds the smallest violations that make the plan
possible; the report names each (work centre and period short of hours, product and period
short of safety stock).

Problems are pydantic models: the same schema validates ``andon plan production --input
plan.yaml`` and the body of ``POST /api/v1/plan/production``.

>>> problem = ProductionProblem.model_validate({
...     "products": [{"name": "a", "demand": [10, 10], "holding_cost": 1, "setup_cost": 50,
...                   "routing": [{"work_centre": "press", "hours_per_unit": 1}]}],
...     "work_centres": [{"name": "press", "capacity": 40}]})
>>> result = plan_production(problem)  # one setup (50) and hold 10 for a period (10)
>>> result.status, result.cost, result.production["a"]
('optimal', 60.0, [20.0, 0.0])
"""

from __future__ import annotations

import logging

import numpy as np

from andon.plan.milp import FloatArray, ModelBuilder, Solution
from andon.plan.production_model import (
    Binding,
    Operation,
    Product,
    ProductionPlan,
    ProductionProblem,
    Shortfall,
    Variables,
    WorkCentre,
    build_model,
    lot_for_lot,
)

__all__ = [
    "Binding",
    "Operation",
    "Product",
    "ProductionPlan",
    "ProductionProblem",
    "Shortfall",
    "WorkCentre",
    "plan_production",
]

_logger = logging.getLogger(__name__)
_TOLERANCE = 1e-6


def plan_production(
    problem: ProductionProblem, *, time_limit_s: float = 60.0, mip_gap: float = 1e-4
) -> ProductionPlan:
    """The cost-minimal plan, or an explanation of why none exists."""
    model, variables = build_model(problem, elastic=False)
    solution = model.solve(time_limit_s=time_limit_s, mip_gap=mip_gap)
    baseline = lot_for_lot(problem)
    if not solution.feasible:
        shortfalls = _explain(problem, time_limit_s) if solution.status == "infeasible" else []
        return ProductionPlan.failed(problem, solution, shortfalls, baseline)
    binding = _binding(problem, model, variables, solution)
    return ProductionPlan.from_solution(problem, variables, solution, binding, baseline)


def _binding(
    problem: ProductionProblem, model: ModelBuilder, variables: Variables, solution: Solution
) -> list[Binding]:
    """Capacity and safety-stock rows without slack, with their shadow prices."""
    activity = model.activity(solution.x)
    setups = np.round(solution.x[variables.setup]).astype(np.int64)
    priced, _ = build_model(problem, elastic=False, setups=setups)
    duals = dict(zip(priced.labels, priced.row_duals(solution.x), strict=True))
    found: list[Binding] = []
    for row, label in enumerate(model.labels):
        if label is None or label[0] == "balance":
            continue
        kind, name, period = label
        limit = model.row_upper[row] if kind == "capacity" else model.row_lower[row]
        slack = abs(limit - activity[row])
        if slack <= _TOLERANCE * max(1.0, abs(limit)):
            dual = duals.get(label, np.nan)
            found.append(Binding.of(kind, name, problem.period_names[period], limit, dual))
    for w, centre in enumerate(problem.work_centres):
        used = solution.x[variables.overtime[w]]
        ceiling = problem.overtime_hours(centre)
        for t in np.flatnonzero((ceiling > 0) & (used >= ceiling - _TOLERANCE)):
            found.append(
                Binding.of("overtime", centre.name, problem.period_names[t], ceiling[t], np.nan)
            )
    return sorted(found, key=lambda b: (-abs(b.shadow_price or 0.0), b.kind, b.name, b.period))


def _explain(problem: ProductionProblem, time_limit_s: float) -> list[Shortfall]:
    """The smallest capacity and safety-stock violations that would make a plan possible."""
    model, variables = build_model(problem, elastic=True)
    solution = model.solve(time_limit_s=min(time_limit_s, 10.0), mip_gap=1e-3)
    if not solution.feasible:
        _logger.warning("the elastic production model found no point: %s", solution.status)
        return []
    return _shortfalls(problem, variables, solution.x)


def _shortfalls(problem: ProductionProblem, v: Variables, x: FloatArray) -> list[Shortfall]:
    found: list[Shortfall] = []
    names = problem.period_names
    assert v.extra_hours is not None
    assert v.missing_stock is not None
    for w, centre in enumerate(problem.work_centres):
        for t in np.flatnonzero(x[v.extra_hours[w]] > _TOLERANCE):
            hours = float(x[v.extra_hours[w][t]])
            available = float(problem.capacity(centre)[t] + problem.overtime_hours(centre)[t])
            found.append(Shortfall.capacity(centre.name, names[t], hours, available))
    for p, product in enumerate(problem.products):
        for t in np.flatnonzero(x[v.missing_stock[p]] > _TOLERANCE):
            units = float(x[v.missing_stock[p][t]])
            found.append(Shortfall.stock(product.name, names[t], units, product.safety_stock))
    return found
