"""Production planning: known optima, binding constraints, infeasible input explained."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from andon.plan.production import ProductionProblem, plan_production


def _problem(
    demand: list[float], *, capacity: float = 1000.0, **product: object
) -> ProductionProblem:
    item = {
        "name": "a",
        "demand": demand,
        "holding_cost": 1.0,
        "setup_cost": 50.0,
        "routing": [{"work_centre": "press", "hours_per_unit": 1.0}],
        **product,
    }
    return ProductionProblem.model_validate(
        {"products": [item], "work_centres": [{"name": "press", "capacity": capacity}]}
    )


def _wagner_whitin(demand: list[float], setup: float, holding: float) -> float:
    """The uncapacitated single-item optimum by dynamic programming (Wagner and Whitin 1958)."""
    best = [0.0] + [np.inf] * len(demand)
    for last in range(1, len(demand) + 1):
        for first in range(last):  # one setup in `first` covers demand first..last-1
            carry = sum(holding * (t - first) * demand[t] for t in range(first, last))
            made = setup if any(demand[first:last]) else 0.0
            best[last] = min(best[last], best[first] + made + carry)
    return best[-1]


def test_batching_two_periods_beats_two_setups() -> None:
    plan = plan_production(_problem([10, 10]))
    assert plan.status == "optimal"
    assert plan.cost == pytest.approx(60.0)
    assert plan.production["a"] == [20.0, 0.0]
    assert plan.setups["a"] == [1, 0]
    assert plan.baseline["cost"] == pytest.approx(100.0)  # lot for lot: two setups
    assert plan.baseline["saving"] == pytest.approx(40.0)


@pytest.mark.parametrize("seed", range(6))
def test_uncapacitated_plans_match_wagner_whitin(seed: int) -> None:
    rng = np.random.default_rng(seed)
    demand = [float(d) for d in rng.integers(0, 60, size=8)]
    setup, holding = float(rng.integers(20, 300)), float(rng.uniform(0.2, 3.0))
    plan = plan_production(_problem(demand, setup_cost=setup, holding_cost=holding))
    assert plan.cost == pytest.approx(_wagner_whitin(demand, setup, holding), rel=1e-6)


def test_full_capacity_is_reported_binding_with_its_shadow_price() -> None:
    plan = plan_production(_problem([10, 20], capacity=15))
    assert plan.production["a"] == [15.0, 15.0]
    assert plan.cost == pytest.approx(105.0)  # two setups, 5 units held one period
    binding = {(b.kind, b.period): b for b in plan.binding}
    assert set(binding) == {("capacity", "1"), ("capacity", "2")}
    # one more hour in period 2 saves holding one unit: 1.0; in period 1 it saves nothing
    assert binding[("capacity", "2")].shadow_price == pytest.approx(-1.0)
    assert binding[("capacity", "1")].shadow_price == pytest.approx(0.0)
    assert "one more hour would save 1" in binding[("capacity", "2")].text
    assert plan.load_hours["press"] == [15.0, 15.0]


def test_overtime_and_setup_times_count_against_capacity() -> None:
    problem = ProductionProblem.model_validate(
        {
            "products": [
                {
                    "name": "a",
                    "demand": [15],
                    "setup_cost": 10,
                    "routing": [{"work_centre": "press", "hours_per_unit": 1, "setup_hours": 2}],
                }
            ],
            "work_centres": [
                {"name": "press", "capacity": 10, "overtime_hours": 10, "overtime_cost": 3}
            ],
        }
    )
    plan = plan_production(problem)
    assert plan.overtime_hours["press"] == [7.0]  # 15 run + 2 setup - 10
    assert plan.cost == pytest.approx(10 + 7 * 3)
    assert plan.costs == {"holding": 0.0, "setup": 10.0, "production": 0.0, "overtime": 21.0}


def test_safety_stock_is_held_every_period() -> None:
    plan = plan_production(_problem([10, 10], safety_stock=5, setup_cost=1000))
    assert min(plan.inventory["a"]) >= 5 - 1e-9
    assert plan.cost == pytest.approx(1000 + 15 + 5)  # one setup, hold 15 then 5
    kinds = {b.kind for b in plan.binding}
    assert "safety_stock" in kinds


def test_infeasible_demand_is_explained_not_crashed() -> None:
    plan = plan_production(_problem([20, 0], capacity=15))
    assert plan.status == "infeasible"
    assert plan.cost is None
    assert [(s.kind, s.name, s.period, s.amount) for s in plan.shortfalls] == [
        ("capacity", "press", "1", pytest.approx(5.0))
    ]
    assert "press needs 5 h more" in plan.message


def test_unreachable_safety_stock_is_explained() -> None:
    plan = plan_production(_problem([10, 10], capacity=12, safety_stock=5))
    assert plan.status == "infeasible"
    assert {s.kind for s in plan.shortfalls} <= {"capacity", "safety_stock"}
    assert sum(s.amount for s in plan.shortfalls) == pytest.approx(3.0)


def test_two_products_share_a_work_centre() -> None:
    problem = ProductionProblem.model_validate(
        {
            "periods": ["w1", "w2", "w3"],
            "products": [
                {
                    "name": "a",
                    "demand": [0, 10, 10],
                    "holding_cost": 2,
                    "setup_cost": 30,
                    "routing": [{"work_centre": "press", "hours_per_unit": 1}],
                },
                {
                    "name": "b",
                    "demand": [0, 0, 30],
                    "holding_cost": 1,
                    "setup_cost": 10,
                    "routing": [{"work_centre": "press", "hours_per_unit": 1}],
                },
            ],
            "work_centres": [{"name": "press", "capacity": [30, 30, 25]}],
        }
    )
    plan = plan_production(problem)
    # b needs 30 in w3 but only 25 h: at least 5 of b early; a batches w2+w3 (30 < 2 x 10)
    # or not. The optimum, by enumeration of setups: a in w2 (20 units, hold 10: 20),
    # b in w2 (5, hold 5: 5) and w3 (25): 30 + 20 + 10 + 5 + 10 = 75.
    assert plan.cost == pytest.approx(75.0)
    assert plan.periods == ["w1", "w2", "w3"]


def test_inconsistent_problems_are_rejected_with_the_reason() -> None:
    with pytest.raises(ValidationError, match="unknown work centre"):
        ProductionProblem.model_validate(
            {
                "products": [
                    {
                        "name": "a",
                        "demand": [1],
                        "routing": [{"work_centre": "x", "hours_per_unit": 1}],
                    }
                ],
                "work_centres": [{"name": "press", "capacity": 1}],
            }
        )
    with pytest.raises(ValidationError, match="periods of demand"):
        ProductionProblem.model_validate(
            {
                "products": [
                    {
                        "name": "a",
                        "demand": [1, 2],
                        "routing": [{"work_centre": "p", "hours_per_unit": 1}],
                    },
                    {
                        "name": "b",
                        "demand": [1],
                        "routing": [{"work_centre": "p", "hours_per_unit": 1}],
                    },
                ],
                "work_centres": [{"name": "p", "capacity": 1}],
            }
        )
