"""Planning: inventory policies, production plans and energy-aware schedules (HiGHS)."""

from __future__ import annotations

from andon.plan.energy import EnergyProblem, EnergySchedule, schedule_energy
from andon.plan.inventory import InventoryPolicy, eoq, explode, inventory_policy
from andon.plan.production import ProductionPlan, ProductionProblem, plan_production

__all__ = [
    "EnergyProblem",
    "EnergySchedule",
    "InventoryPolicy",
    "ProductionPlan",
    "ProductionProblem",
    "eoq",
    "explode",
    "inventory_policy",
    "plan_production",
    "schedule_energy",
]
