"""Planning routes: inventory policies, production plans (MILP) and energy-aware schedules.

The request bodies are the planning problems themselves (the schema of ``andon plan ...``'s
YAML files). A plan that cannot exist answers 200 with ``status: "infeasible"`` and the
reasons (``shortfalls``): it is an answer about the plant, not a malformed request. Solver
time is capped per request so one call cannot hold a worker for long.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from andon.plan import energy, inventory, production

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/plan", tags=["plan"])

MAX_SOLVE_S = 120.0
TimeLimit = Annotated[
    float, Query(gt=0, le=MAX_SOLVE_S, description="solver time limit in seconds")
]


class MaterialDemand(BaseModel):
    material: str = Field(min_length=1)
    demand: list[float] = Field(min_length=2, description="demand per period, oldest first")


class InventoryIn(BaseModel):
    materials: list[MaterialDemand] = Field(min_length=1)
    lead_time: float = Field(ge=0, description="periods")
    order_cost: float = Field(ge=0)
    holding_cost: float = Field(gt=0, description="per unit and period")
    service_level: float = Field(default=0.95, gt=0, lt=1)
    lead_time_std: float = Field(default=0.0, ge=0)
    jit_order_cost: float | None = Field(default=None, ge=0)


class PolicyRunOut(BaseModel):
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


class InventoryPolicyOut(BaseModel):
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
    replay_eoq: PolicyRunOut
    replay_jit: PolicyRunOut
    cheaper: str


@router.post("/inventory")
def plan_inventory(body: InventoryIn) -> list[InventoryPolicyOut]:
    """Safety stock, reorder point and EOQ per material, and EOQ against just-in-time."""
    return [
        InventoryPolicyOut.model_validate(
            inventory.inventory_policy(
                item.material,
                item.demand,
                lead_time=body.lead_time,
                order_cost=body.order_cost,
                holding_cost=body.holding_cost,
                service_level=body.service_level,
                lead_time_std=body.lead_time_std,
                jit_order_cost=body.jit_order_cost,
            ).to_dict()
        )
        for item in body.materials
    ]


class BindingOut(BaseModel):
    kind: str
    name: str
    period: str
    limit: float
    shadow_price: float | None
    text: str


class ShortfallOut(BaseModel):
    kind: str
    name: str
    period: str
    amount: float
    text: str


class ProductionPlanOut(BaseModel):
    status: str = Field(description="optimal, feasible (time limit), infeasible, time_limit")
    message: str
    periods: list[str]
    cost: float | None
    bound: float | None
    gap: float | None
    solve_s: float
    costs: dict[str, float]
    production: dict[str, list[float]]
    inventory: dict[str, list[float]]
    setups: dict[str, list[int]]
    load_hours: dict[str, list[float]]
    overtime_hours: dict[str, list[float]]
    binding: list[BindingOut]
    shortfalls: list[ShortfallOut]
    baseline: dict[str, Any] = Field(description="the lot-for-lot plan's cost and the saving")


@router.post("/production")
def plan_production(
    body: production.ProductionProblem,
    time_limit_s: TimeLimit = 30.0,
    mip_gap: Annotated[float, Query(gt=0, lt=1)] = 1e-4,
) -> ProductionPlanOut:
    """The cost-minimal plan with setups; binding constraints, or why none exists."""
    plan = production.plan_production(body, time_limit_s=time_limit_s, mip_gap=mip_gap)
    return ProductionPlanOut.model_validate(plan.to_dict())


class JobRunOut(BaseModel):
    name: str
    resource: str
    start_period: int
    end_period: int
    start: str | None
    energy_kwh: float
    cost: float


class PlacementOut(BaseModel):
    jobs: list[JobRunOut]
    energy_cost: float
    peak_kwh: float
    demand_cost: float
    cost: float
    feasible: bool
    problems: list[str]
    load_kwh: list[float]


class EnergyScheduleOut(BaseModel):
    status: str
    message: str
    jobs: list[JobRunOut]
    cost: float | None
    energy_cost: float | None
    demand_cost: float | None
    peak_kwh: float | None
    base_cost: float
    gap: float | None
    solve_s: float
    naive: PlacementOut = Field(description="every job at its earliest start")
    saving: float | None
    saving_ratio: float | None
    prices: list[float]
    load_kwh: list[float]
    shortfalls: list[str]


@router.post("/energy")
def plan_energy(body: energy.EnergyProblem, time_limit_s: TimeLimit = 30.0) -> EnergyScheduleOut:
    """Energy-intensive jobs placed by tariff and forecast; the saving against the naive
    (earliest start) schedule."""
    result = energy.schedule_energy(body, time_limit_s=time_limit_s)
    return EnergyScheduleOut.model_validate(asdict(result))
