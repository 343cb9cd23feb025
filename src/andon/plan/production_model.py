"""The production planning problem (schema), its MILP, and the lot-for-lot baseline.

See :mod:`andon.plan.production` for the model's equations and how results are reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, model_validator

from andon.plan.milp import FloatArray, IndexArray, ModelBuilder
from andon.plan.production_result import Binding, ProductionPlan, Shortfall

__all__ = [
    "Binding",
    "LotForLot",
    "Operation",
    "Product",
    "ProductionPlan",
    "ProductionProblem",
    "Shortfall",
    "Variables",
    "WorkCentre",
    "build_model",
    "lot_for_lot",
]

_FROZEN = ConfigDict(frozen=True, extra="forbid")
Hours = NonNegativeFloat | list[NonNegativeFloat]


class Operation(BaseModel):
    """One step of a routing: hours per unit and per setup on a work centre."""

    model_config = _FROZEN
    work_centre: str
    hours_per_unit: NonNegativeFloat
    setup_hours: NonNegativeFloat = 0.0


class Product(BaseModel):
    """Demand per period, costs, stock levels and the routing of one product."""

    model_config = _FROZEN
    name: str = Field(min_length=1)
    demand: list[NonNegativeFloat] = Field(min_length=1)
    holding_cost: NonNegativeFloat = Field(0.0, description="per unit held over a period")
    setup_cost: NonNegativeFloat = 0.0
    unit_cost: NonNegativeFloat = 0.0
    initial_inventory: NonNegativeFloat = 0.0
    safety_stock: NonNegativeFloat = Field(0.0, description="minimum inventory each period")
    routing: list[Operation] = Field(min_length=1)


class WorkCentre(BaseModel):
    """Hours available per period (one number, or one per period), and overtime."""

    model_config = _FROZEN
    name: str = Field(min_length=1)
    capacity: Hours
    overtime_hours: Hours = 0.0
    overtime_cost: NonNegativeFloat = Field(0.0, description="per overtime hour")


class ProductionProblem(BaseModel):
    """Products with demand over a horizon, and the work centres that make them."""

    model_config = _FROZEN
    periods: list[str] | None = Field(None, description="period names; default 1, 2, ...")
    products: list[Product] = Field(min_length=1)
    work_centres: list[WorkCentre] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> ProductionProblem:
        horizon = len(self.products[0].demand)
        for product in self.products:
            if len(product.demand) != horizon:
                raise ValueError(
                    f"{product.name}: {len(product.demand)} periods of demand, "
                    f"the first product has {horizon}"
                )
        if self.periods is not None and len(self.periods) != horizon:
            raise ValueError(f"{len(self.periods)} period names for {horizon} periods of demand")
        for kind, names in (
            ("product", [p.name for p in self.products]),
            ("work centre", [w.name for w in self.work_centres]),
        ):
            if len(set(names)) != len(names):
                raise ValueError(f"{kind} names must be unique")
        for centre in self.work_centres:
            for field in ("capacity", "overtime_hours"):
                value = getattr(centre, field)
                if isinstance(value, list) and len(value) != horizon:
                    raise ValueError(f"{centre.name}.{field}: {len(value)} values, not {horizon}")
        known = {w.name for w in self.work_centres}
        for product in self.products:
            for op in product.routing:
                if op.work_centre not in known:
                    raise ValueError(f"{product.name}: unknown work centre {op.work_centre!r}")
        return self

    @property
    def horizon(self) -> int:
        return len(self.products[0].demand)

    @property
    def period_names(self) -> list[str]:
        return self.periods or [str(t + 1) for t in range(self.horizon)]

    def _per_period(self, value: Hours) -> FloatArray:
        values: FloatArray = np.broadcast_to(np.asarray(value, dtype=np.float64), (self.horizon,))
        return values.copy()

    def capacity(self, centre: WorkCentre) -> FloatArray:
        return self._per_period(centre.capacity)

    def overtime_hours(self, centre: WorkCentre) -> FloatArray:
        return self._per_period(centre.overtime_hours)

    def demand(self) -> FloatArray:
        """Demand as a (products, periods) array."""
        return np.array([p.demand for p in self.products], dtype=np.float64)

    def hours(self) -> tuple[FloatArray, FloatArray]:
        """Run and setup hours as (products, work centres) arrays (repeat visits add up)."""
        index = {w.name: k for k, w in enumerate(self.work_centres)}
        run = np.zeros((len(self.products), len(self.work_centres)))
        setup = np.zeros_like(run)
        for p, product in enumerate(self.products):
            for op in product.routing:
                run[p, index[op.work_centre]] += op.hours_per_unit
                setup[p, index[op.work_centre]] += op.setup_hours
        return run, setup


@dataclass(frozen=True, slots=True)
class Variables:
    """Column indices: (products, periods) for make/inventory/setup, (centres, periods) else."""

    make: IndexArray
    inventory: IndexArray
    setup: IndexArray
    overtime: IndexArray
    extra_hours: IndexArray | None = None
    missing_stock: IndexArray | None = None


def _big_m(problem: ProductionProblem, elastic: bool) -> FloatArray:
    """The most each product can usefully make per period: remaining need, capacity."""
    demand = problem.demand()
    stock = np.array([p.safety_stock for p in problem.products])[:, np.newaxis]
    need: FloatArray = np.cumsum(demand[:, ::-1], axis=1)[:, ::-1] + stock
    if elastic:
        return need
    run, setup = problem.hours()
    available = np.array(
        [problem.capacity(w) + problem.overtime_hours(w) for w in problem.work_centres]
    )  # (centres, periods)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_centre = (available[np.newaxis, :, :] - setup[:, :, np.newaxis]) / run[:, :, None]
    per_centre = np.where(run[:, :, np.newaxis] > 0, np.maximum(per_centre, 0.0), np.inf)
    bound: FloatArray = np.minimum(need, per_centre.min(axis=1))
    return bound


def _columns(m: ModelBuilder, problem: ProductionProblem, *, elastic: bool) -> Variables:
    """The decision variables; in the elastic model only violations cost anything."""
    horizon, products, centres = problem.horizon, problem.products, problem.work_centres
    price = 0.0 if elastic else 1.0

    def block(
        rows: int, cost: list[float], upper: float | FloatArray = np.inf, integer: bool = False
    ) -> IndexArray:
        per_period = np.repeat(np.asarray(cost, dtype=np.float64) * price, horizon)
        columns = m.variables(rows * horizon, cost=per_period, upper=upper, integer=integer)
        return columns.reshape(rows, horizon)

    n, k = len(products), len(centres)
    ceiling = np.concatenate([problem.overtime_hours(w) for w in centres])
    return Variables(
        make=block(n, [p.unit_cost for p in products]),
        inventory=block(n, [p.holding_cost for p in products]),
        setup=block(n, [p.setup_cost for p in products], upper=1.0, integer=True),
        overtime=block(k, [w.overtime_cost for w in centres], upper=ceiling),
        extra_hours=m.variables(k * horizon, cost=1.0).reshape(k, horizon) if elastic else None,
        missing_stock=m.variables(n * horizon, cost=1.0).reshape(n, horizon) if elastic else None,
    )


def build_model(
    problem: ProductionProblem, *, elastic: bool, setups: IndexArray | None = None
) -> tuple[ModelBuilder, Variables]:
    """The MILP; ``elastic`` prices violations of capacity and safety stock instead of the
    plan's costs (the model that explains infeasibility).

    With ``setups`` given, the setup decisions are fixed and production is simply barred
    where there is none, instead of the big-M rows: the LP whose shadow prices are reported
    (a big-M row tightened by capacity would otherwise take the capacity row's price).
    """
    m = ModelBuilder()
    variables = _columns(m, problem, elastic=elastic)
    _balance_rows(m, problem, variables)
    if setups is None:
        _setup_rows(m, variables, _big_m(problem, elastic))
    else:
        for (p, t), on in np.ndenumerate(setups):
            column = int(variables.make[p, t])
            m.upper[column] = np.inf if on else 0.0
            m.lower[int(variables.setup[p, t])] = m.upper[int(variables.setup[p, t])] = float(on)
    _capacity_rows(m, problem, variables)
    _stock_rows(m, problem, variables)
    return m, variables


def _stock_rows(m: ModelBuilder, problem: ProductionProblem, v: Variables) -> None:
    for p, product in enumerate(problem.products):
        if product.safety_stock <= 0:
            continue
        for t in range(problem.horizon):
            cols = [int(v.inventory[p, t])]
            if v.missing_stock is not None:
                cols.append(int(v.missing_stock[p, t]))
            label = ("safety_stock", product.name, t)
            m.row(cols, [1.0] * len(cols), lower=product.safety_stock, label=label)


def _balance_rows(m: ModelBuilder, problem: ProductionProblem, v: Variables) -> None:
    demand = problem.demand()
    for p, product in enumerate(problem.products):
        for t in range(problem.horizon):
            cols, coefs = [int(v.make[p, t]), int(v.inventory[p, t])], [1.0, -1.0]
            rhs = demand[p, t]
            if t == 0:
                rhs -= product.initial_inventory
            else:
                cols.append(int(v.inventory[p, t - 1]))
                coefs.append(1.0)
            m.row(cols, coefs, lower=rhs, upper=rhs, label=("balance", product.name, t))


def _setup_rows(m: ModelBuilder, v: Variables, big_m: FloatArray) -> None:
    for (p, t), bound in np.ndenumerate(big_m):
        m.row([int(v.make[p, t]), int(v.setup[p, t])], [1.0, -float(bound)], upper=0.0)


def _capacity_rows(m: ModelBuilder, problem: ProductionProblem, v: Variables) -> None:
    run, setup = problem.hours()
    for w, centre in enumerate(problem.work_centres):
        users = np.flatnonzero((run[:, w] > 0) | (setup[:, w] > 0))
        capacity = problem.capacity(centre)
        for t in range(problem.horizon):
            cols = [*v.make[users, t], *v.setup[users, t], int(v.overtime[w, t])]
            coefs = [*run[users, w], *setup[users, w], -1.0]
            if v.extra_hours is not None:
                cols.append(int(v.extra_hours[w, t]))
                coefs.append(-1.0)
            m.row(cols, coefs, upper=float(capacity[t]), label=("capacity", centre.name, t))


@dataclass(frozen=True, slots=True)
class LotForLot:
    """The naive plan: each period's net requirement made in that period."""

    cost: float | None
    feasible: bool
    reason: str | None


def lot_for_lot(problem: ProductionProblem) -> LotForLot:
    """Cost of lot-for-lot with overtime where needed; infeasible when hours run out."""
    demand = problem.demand()
    stock = np.array([p.safety_stock for p in problem.products])
    held = np.array([p.initial_inventory for p in problem.products], dtype=np.float64)
    make = np.zeros_like(demand)
    level = np.zeros_like(demand)
    for t in range(problem.horizon):
        make[:, t] = np.maximum(demand[:, t] + stock - held, 0.0)
        held = held + make[:, t] - demand[:, t]
        level[:, t] = held
    run, setup = problem.hours()
    setups = make > 0
    load = run.T @ make + setup.T @ setups  # (centres, periods)
    cost = sum(
        p.holding_cost * float(level[k].sum())
        + p.setup_cost * float(setups[k].sum())
        + p.unit_cost * float(make[k].sum())
        for k, p in enumerate(problem.products)
    )
    for w, centre in enumerate(problem.work_centres):
        over = np.maximum(load[w] - problem.capacity(centre), 0.0)
        short = np.flatnonzero(over > problem.overtime_hours(centre) + 1e-9)
        if short.size:
            period = problem.period_names[int(short[0])]
            return LotForLot(None, False, f"{centre.name} lacks hours in period {period}")
        cost += centre.overtime_cost * float(over.sum())
    return LotForLot(cost, True, None)
