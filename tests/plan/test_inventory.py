"""Inventory formulas: properties that must hold for any input, and the policy comparison."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from andon.errors import InvalidRequest
from andon.plan.inventory import eoq, explode, inventory_policy, reorder_point, safety_stock
from andon.plan.replenishment import replay

positive = st.floats(min_value=0.01, max_value=1e5, allow_nan=False)
levels = st.floats(min_value=0.51, max_value=0.999)


def _cost(quantity: float, demand: float, order: float, holding: float) -> float:
    return demand / quantity * order + holding * quantity / 2


@given(demand=positive, order=positive, holding=positive, factor=st.floats(0.05, 20.0))
def test_eoq_minimises_ordering_plus_holding(
    demand: float, order: float, holding: float, factor: float
) -> None:
    best = eoq(demand, order, holding)
    assert _cost(best, demand, order, holding) <= _cost(best * factor, demand, order, holding) * (
        1 + 1e-12
    )
    # at the optimum, ordering and holding cost are equal
    assert demand / best * order == pytest.approx(holding * best / 2)


@given(sigma=positive, lead=st.floats(0.0, 50.0), low=levels, high=levels)
def test_safety_stock_grows_with_service_level_and_scales_with_sigma(
    sigma: float, lead: float, low: float, high: float
) -> None:
    low, high = min(low, high), max(low, high)
    assert safety_stock(low, sigma, lead) <= safety_stock(high, sigma, lead)
    assert safety_stock(high, 2 * sigma, lead) == pytest.approx(2 * safety_stock(high, sigma, lead))
    assert safety_stock(0.5, sigma, lead) == pytest.approx(0.0, abs=1e-9)


@given(mean=positive, lead=st.floats(0.0, 50.0), level=levels, sigma=positive)
def test_reorder_point_is_lead_time_demand_plus_safety_stock(
    mean: float, lead: float, level: float, sigma: float
) -> None:
    safety = safety_stock(level, sigma, lead)
    assert reorder_point(mean, lead, safety) == pytest.approx(mean * lead + safety)


def test_lead_time_variability_adds_up_in_quadrature() -> None:
    # z(0.95) sqrt(4 x 10^2 + 100^2 x 1^2)
    expected = 1.6448536 * math.sqrt(4 * 100 + 100**2)
    got = safety_stock(0.95, 10.0, 4.0, demand_mean=100.0, lead_time_std=1.0)
    assert got == pytest.approx(expected, rel=1e-6)


bills = st.dictionaries(
    st.sampled_from(["a", "b", "c"]),
    st.dictionaries(st.sampled_from(["x", "y", "z", "c"]), st.floats(0.0, 10.0), max_size=3),
    max_size=3,
)


@given(bom=bills, quantity=st.floats(0.0, 1000.0), scale=st.floats(0.0, 10.0))
def test_bom_explosion_is_linear(
    bom: dict[str, dict[str, float]], quantity: float, scale: float
) -> None:
    bom = {k: {c: q for c, q in v.items() if c != k} for k, v in bom.items()}  # no self loops
    try:
        once = explode(bom, {"a": quantity})
    except InvalidRequest:  # a generated cycle through c
        return
    scaled = explode(bom, {"a": quantity * scale})
    assert scaled.keys() == once.keys()
    for item, need in once.items():
        assert scaled[item] == pytest.approx(need * scale, abs=1e-6)


def test_bom_cycles_are_refused() -> None:
    with pytest.raises(InvalidRequest, match="cycle"):
        explode({"a": {"b": 1}, "b": {"a": 1}}, {"a": 1})


@settings(max_examples=50)
@given(
    st.lists(st.floats(0.0, 500.0).map(lambda d: round(d, 3)), min_size=2, max_size=60),
    st.integers(0, 4),
)
def test_jit_reorders_exactly_what_was_consumed(demand: list[float], lead: int) -> None:
    run = replay(demand, lead, "jit", 1000.0, 0.0, 10.0, 1.0)
    assert run.ordered_units == pytest.approx(sum(demand))
    assert run.orders == sum(1 for d in demand if d > 0)
    assert run.fill_rate is None or 0.0 <= run.fill_rate <= 1.0


def test_eoq_and_jit_on_a_steady_demand() -> None:
    demand = [100.0, 120.0, 80.0, 110.0, 90.0, 100.0] * 8
    policy = inventory_policy(
        "steel", demand, lead_time=2, order_cost=200.0, holding_cost=0.5, service_level=0.95
    )
    assert policy.eoq == pytest.approx(math.sqrt(2 * 100 * 200 / 0.5))
    assert policy.reorder_point == pytest.approx(200 + policy.safety_stock)
    assert policy.replay_eoq.orders < policy.replay_jit.orders
    assert policy.replay_eoq.average_stock > policy.replay_jit.average_stock
    assert policy.replay_eoq.stockout_units == 0
    assert policy.cheaper == "eoq"  # expensive orders: batching wins
    cheap_jit = inventory_policy(
        "steel", demand, lead_time=2, order_cost=200.0, holding_cost=0.5, jit_order_cost=5.0
    )
    assert cheap_jit.cheaper == "jit"  # a kanban delivery that costs 5 wins


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(InvalidRequest):
        inventory_policy("m", [1.0], lead_time=1, order_cost=1, holding_cost=1)
    with pytest.raises(InvalidRequest):
        safety_stock(1.2, 1.0, 1.0)
    with pytest.raises(InvalidRequest):
        eoq(10.0, 5.0, 0.0)
