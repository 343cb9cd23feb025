"""Planning routes: inventory, production (feasible and not), energy against naive."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from andon.api import create_app
from andon.config import Settings
from andon.historian import DuckDBHistorian


@pytest.fixture
def client() -> Iterator[TestClient]:
    historian = DuckDBHistorian(":memory:")
    yield TestClient(create_app(Settings(db=":memory:"), historian=historian))
    historian.close()


PROBLEM = {
    "periods": ["w1", "w2"],
    "products": [
        {
            "name": "bracket",
            "demand": [10, 20],
            "holding_cost": 1,
            "setup_cost": 50,
            "routing": [{"work_centre": "press", "hours_per_unit": 1}],
        }
    ],
    "work_centres": [{"name": "press", "capacity": 15}],
}


def test_inventory_policies(client: TestClient) -> None:
    body = {
        "materials": [{"material": "steel", "demand": [100, 110, 90, 105, 95, 100]}],
        "lead_time": 2,
        "order_cost": 50,
        "holding_cost": 0.5,
    }
    response = client.post("/api/v1/plan/inventory", json=body)
    assert response.status_code == 200, response.text
    (steel,) = response.json()
    assert steel["eoq"] == pytest.approx((2 * 100 * 50 / 0.5) ** 0.5)
    assert steel["replay_jit"]["policy"] == "jit"
    assert (
        client.post("/api/v1/plan/inventory", json={**body, "holding_cost": 0}).status_code == 422
    )


def test_production_plan_with_binding_constraints(client: TestClient) -> None:
    response = client.post("/api/v1/plan/production", json=PROBLEM)
    assert response.status_code == 200, response.text
    plan = response.json()
    assert plan["status"] == "optimal"
    assert plan["cost"] == pytest.approx(105.0)
    priced = {b["period"]: b["shadow_price"] for b in plan["binding"] if b["kind"] == "capacity"}
    assert priced["w2"] == pytest.approx(-1.0)


def test_an_infeasible_plan_is_an_answer_with_reasons(client: TestClient) -> None:
    tight = {**PROBLEM, "work_centres": [{"name": "press", "capacity": 12}]}
    plan = client.post("/api/v1/plan/production", json=tight).json()
    assert plan["status"] == "infeasible"
    assert plan["cost"] is None
    assert sum(s["amount"] for s in plan["shortfalls"]) == pytest.approx(6.0)
    invalid = {**PROBLEM, "work_centres": [{"name": "lathe", "capacity": 12}]}
    response = client.post("/api/v1/plan/production", json=invalid)
    assert response.status_code == 422
    assert (
        client.post(
            "/api/v1/plan/production", params={"time_limit_s": 9999}, json=PROBLEM
        ).status_code
        == 422
    )


def test_energy_schedule_against_the_naive_one(client: TestClient) -> None:
    body = {
        "tariff": {"prices_per_period": [0.3, 0.3, 0.3, 0.1, 0.1, 0.1]},
        "forecast_kwh": [50, 50, 50, 60, 60, 60],
        "jobs": [{"name": "melt", "duration": 3, "energy_kwh": 300}],
    }
    response = client.post("/api/v1/plan/energy", json=body)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["jobs"][0]["start_period"] == 3
    assert result["cost"] == pytest.approx(30.0)
    assert result["naive"]["cost"] == pytest.approx(90.0)
    assert result["saving"] == pytest.approx(60.0)
    assert result["load_kwh"] == [50, 50, 50, 160, 160, 160]
