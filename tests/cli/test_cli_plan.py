"""``andon plan inventory|production|energy`` on files, as a planner runs them."""

from __future__ import annotations

import csv
import itertools
import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from andon.cli import app

runner = CliRunner()


def _run(args: list[str], code: int = 0) -> str:
    result = runner.invoke(app, ["plan", *args])
    assert result.exit_code == code, result.output
    return result.output


def test_inventory_from_a_demand_history(tmp_path: Path) -> None:
    path = tmp_path / "demand.csv"
    rows = ["period,material,quantity"]
    for week in range(1, 27):
        rows += [f"{week},steel,{100 + (week % 4) * 10}", f"{week},bolts,{500 + (week % 3) * 50}"]
    path.write_text("\n".join(rows) + "\n")
    body = json.loads(
        _run(
            [
                "inventory",
                "--demand",
                str(path),
                "--lead-time",
                "2",
                "--order-cost",
                "80",
                "--holding-cost",
                "0.2",
                "--json",
            ]
        )
    )
    assert [p["material"] for p in body] == ["bolts", "steel"]
    steel = body[1]
    assert steel["demand_mean"] == pytest.approx(sum(100 + (w % 4) * 10 for w in range(1, 27)) / 26)
    assert steel["reorder_point"] == pytest.approx(2 * steel["demand_mean"] + steel["safety_stock"])
    assert steel["replay_eoq"]["orders"] < steel["replay_jit"]["orders"]
    table = _run(
        [
            "inventory",
            "--demand",
            str(path),
            "--lead-time",
            "2",
            "--order-cost",
            "80",
            "--holding-cost",
            "0.2",
        ]
    )
    assert "inventory policies" in table


def test_inventory_from_production_through_the_bom(tmp_path: Path) -> None:
    (tmp_path / "bom.yaml").write_text("bike: {frame: 1, wheel: 2}\nwheel: {spoke: 32}\n")
    produced = tmp_path / "produced.csv"
    produced.write_text("period,product,quantity\n1,bike,10\n2,bike,12\n3,bike,8\n3,wheel,4\n")
    body = json.loads(
        _run(
            [
                "inventory",
                "--produced",
                str(produced),
                "--bom",
                str(tmp_path / "bom.yaml"),
                "--lead-time",
                "1",
                "--order-cost",
                "10",
                "--holding-cost",
                "1",
                "--json",
            ]
        )
    )
    spokes = next(p for p in body if p["material"] == "spoke")
    # wheels per period: 20, 24, 16 + 4 spare = 20; spokes 32 each
    assert spokes["demand_mean"] == pytest.approx(32 * (20 + 24 + 20) / 3)


PLAN = {
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


def test_production_plan_and_an_infeasible_one(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(PLAN))
    body = json.loads(_run(["production", "--input", str(path), "--json"]))
    assert body["status"] == "optimal"
    assert body["cost"] == pytest.approx(105.0)
    assert body["production"] == {"bracket": [15.0, 15.0]}
    assert any(b["kind"] == "capacity" for b in body["binding"])
    table = _run(["production", "--input", str(path)])
    assert "press uses all 15 h in period w2" in table
    tight = {**PLAN, "work_centres": [{"name": "press", "capacity": 12}]}
    path.write_text(yaml.safe_dump(tight))
    output = _run(["production", "--input", str(path)], code=2)
    assert "infeasible" in output
    assert "press needs" in output


def test_an_invalid_plan_file_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump({**PLAN, "work_centres": [{"name": "press"}]}))
    output = _run(["production", "--input", str(path)], code=1)
    assert "work_centres.0.capacity" in output


def _cheapest(prices: list[float], base: list[float]) -> float:
    """Both 12-period, 30 kWh-a-period runs tried at every start from 40 to 84."""
    best = float("inf")
    for a, b in itertools.product(range(40, 85), repeat=2):
        load = list(base)
        for start in (a, b):
            for t in range(start, start + 12):
                load[t] += 30.0
        energy = sum(p * (x - y) for p, x, y in zip(prices, load, base, strict=True))
        best = min(best, energy + 0.5 * max(load))
    return best


def test_energy_schedule_with_a_real_load_forecast(tmp_path: Path, shared_datasets: Path) -> None:
    source = shared_datasets / "steel_energy" / "Steel_industry_data.csv"
    with source.open(encoding="utf-8-sig") as handle:
        usage = [row["Usage_kWh"] for row in itertools.islice(csv.DictReader(handle), 96)]
    forecast = tmp_path / "forecast.csv"
    forecast.write_text("kwh\n" + "\n".join(usage) + "\n")
    jobs = {
        "start": "2018-01-01T00:00",
        "period_minutes": 15,
        "timezone": "Asia/Seoul",
        "tariff": {
            "default_price": 0.12,
            "bands": [{"start": "22:00", "end": "08:00", "price": 0.06}],
        },
        "demand_charge": 0.5,
        "jobs": [
            {"name": "furnace-a", "duration": 12, "energy_kwh": 360, "release": 40},
            {"name": "furnace-b", "duration": 12, "energy_kwh": 360, "release": 40},
        ],
    }
    spec = tmp_path / "jobs.yaml"
    spec.write_text(yaml.safe_dump(jobs))
    body = json.loads(_run(["energy", "--input", str(spec), "--forecast", str(forecast), "--json"]))
    assert body["status"] == "optimal"
    assert body["saving"] > 0
    assert body["naive"]["jobs"][0]["start_period"] == 40
    assert body["cost"] == pytest.approx(_cheapest(body["prices"], [float(u) for u in usage]))
    table = _run(["energy", "--input", str(spec), "--forecast", str(forecast)])
    assert "naive (earliest start) would cost" in table
