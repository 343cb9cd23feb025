"""What production planning reports: the plan, its cost, binding constraints, shortfalls."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from andon.plan.milp import FloatArray, Solution

if TYPE_CHECKING:  # the model module imports this one at run time
    from andon.plan.production_model import LotForLot, ProductionProblem, Variables

__all__ = ["Binding", "ProductionPlan", "Shortfall"]

_UNITS = {"capacity": "h", "overtime": "h", "safety_stock": "units"}


@dataclass(frozen=True, slots=True)
class Binding:
    """A constraint met with no slack. ``shadow_price``: objective change per unit of its
    limit (negative for capacity: what one more hour saves); None when not defined."""

    kind: str
    name: str
    period: str
    limit: float
    shadow_price: float | None
    text: str

    @classmethod
    def of(cls, kind: str, name: str, period: str, limit: float, dual: float) -> Binding:
        price = None if not math.isfinite(dual) else float(dual) + 0.0  # no -0.0
        unit = _UNITS[kind]
        texts = {
            "capacity": f"{name} uses all {limit:g} {unit} in period {period}",
            "overtime": f"{name} works all {limit:g} {unit} of overtime in period {period}",
            "safety_stock": f"{name} is held at its safety stock {limit:g} in period {period}",
        }
        text = texts[kind]
        if price is not None and kind == "capacity" and price < 0:
            text += f"; one more hour would save {-price:.4g}"
        elif price is not None and kind == "safety_stock" and price > 0:
            text += f"; each unit of safety stock costs {price:.4g}"
        return cls(kind, name, period, float(limit), price, text)


@dataclass(frozen=True, slots=True)
class Shortfall:
    """Why no plan exists: a constraint that must give way, and by how much."""

    kind: str
    name: str
    period: str
    amount: float
    text: str

    @classmethod
    def capacity(cls, centre: str, period: str, hours: float, available: float) -> Shortfall:
        text = (
            f"{centre} needs {hours:.4g} h more than its {available:g} h "
            f"(capacity + overtime) in period {period}"
        )
        return cls("capacity", centre, period, hours, text)

    @classmethod
    def stock(cls, product: str, period: str, units: float, target: float) -> Shortfall:
        text = f"{product} falls {units:.4g} units below its safety stock {target:g} in {period}"
        return cls("safety_stock", product, period, units, text)


@dataclass(frozen=True, slots=True)
class ProductionPlan:
    """The plan (per product and period) or, when ``status`` is not feasible, why not."""

    status: str
    message: str
    periods: list[str]
    cost: float | None = None
    bound: float | None = None
    gap: float | None = None
    solve_s: float = 0.0
    costs: dict[str, float] = field(default_factory=dict)
    production: dict[str, list[float]] = field(default_factory=dict)
    inventory: dict[str, list[float]] = field(default_factory=dict)
    setups: dict[str, list[int]] = field(default_factory=dict)
    load_hours: dict[str, list[float]] = field(default_factory=dict)
    overtime_hours: dict[str, list[float]] = field(default_factory=dict)
    binding: list[Binding] = field(default_factory=list)
    shortfalls: list[Shortfall] = field(default_factory=list)
    baseline: dict[str, object] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def failed(
        cls,
        problem: ProductionProblem,
        solution: Solution,
        shortfalls: list[Shortfall],
        baseline: LotForLot,
    ) -> ProductionPlan:
        if solution.status == "infeasible":
            reasons = "; ".join(s.text for s in shortfalls) or "no explanation found"
            message = f"no plan meets every demand: {reasons}"
        else:
            message = f"no plan found ({solution.status}); allow more time"
        return cls(
            solution.status,
            message,
            problem.period_names,
            solve_s=solution.seconds,
            shortfalls=shortfalls,
            baseline=_baseline(baseline, None),
        )

    @classmethod
    def from_solution(
        cls,
        problem: ProductionProblem,
        v: Variables,
        solution: Solution,
        binding: list[Binding],
        baseline: LotForLot,
    ) -> ProductionPlan:
        x = solution.x
        make, stock = _clean(x[v.make]), _clean(x[v.inventory])
        setups = np.round(x[v.setup]).astype(int)
        overtime = _clean(x[v.overtime])
        run, setup_hours = problem.hours()
        load = run.T @ make + setup_hours.T @ setups
        costs = _costs(problem, make, stock, setups, overtime)
        status = "optimal" if solution.status == "optimal" else "feasible"
        gap = solution.gap
        message = f"{status} plan, cost {solution.objective:.6g}" + (
            f" (gap {gap:.2%})" if gap else ""
        )
        names = [p.name for p in problem.products]
        centres = [w.name for w in problem.work_centres]
        return cls(
            status=status,
            message=message,
            periods=problem.period_names,
            cost=solution.objective,
            bound=solution.bound,
            gap=gap,
            solve_s=solution.seconds,
            costs=costs,
            production=dict(zip(names, make.tolist(), strict=True)),
            inventory=dict(zip(names, stock.tolist(), strict=True)),
            setups=dict(zip(names, setups.tolist(), strict=True)),
            load_hours=dict(zip(centres, _clean(load).tolist(), strict=True)),
            overtime_hours=dict(zip(centres, overtime.tolist(), strict=True)),
            binding=binding,
            baseline=_baseline(baseline, solution.objective),
        )


def _clean(values: FloatArray) -> FloatArray:
    """Solver noise below 1e-7 becomes 0, values are rounded to 1e-6."""
    cleaned = np.round(np.where(np.abs(values) < 1e-7, 0.0, values), 6) + 0.0
    return np.asarray(cleaned, dtype=np.float64)


def _costs(
    problem: ProductionProblem,
    make: FloatArray,
    stock: FloatArray,
    setups: npt.NDArray[np.int64],
    overtime: FloatArray,
) -> dict[str, float]:
    products, centres = problem.products, problem.work_centres
    return {
        "holding": float(sum(p.holding_cost * stock[k].sum() for k, p in enumerate(products))),
        "setup": float(sum(p.setup_cost * setups[k].sum() for k, p in enumerate(products))),
        "production": float(sum(p.unit_cost * make[k].sum() for k, p in enumerate(products))),
        "overtime": float(sum(w.overtime_cost * overtime[k].sum() for k, w in enumerate(centres))),
    }


def _baseline(baseline: LotForLot, optimum: float | None) -> dict[str, object]:
    saving = None
    if baseline.cost is not None and optimum is not None:
        saving = baseline.cost - optimum
    return {
        "method": "lot-for-lot",
        "cost": baseline.cost,
        "feasible": baseline.feasible,
        "reason": baseline.reason,
        "saving": saving,
    }
