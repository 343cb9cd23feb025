"""Energy-aware scheduling: optimum by enumeration, forecast and grid limit, infeasibility."""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from andon.plan.energy import EnergyProblem, schedule_energy
from andon.plan.tariff import Band, Tariff

PRICES = [0.30, 0.30, 0.25, 0.10, 0.08, 0.08, 0.12, 0.30, 0.30, 0.20]


def _problem(**extra: object) -> EnergyProblem:
    body: dict[str, object] = {
        "tariff": {"prices_per_period": PRICES},
        "jobs": [
            {"name": "melt-1", "duration": 3, "energy_kwh": 300, "due": 8},
            {"name": "melt-2", "duration": 2, "profile_kwh": [200, 50], "release": 1},
            {"name": "anneal", "duration": 2, "energy_kwh": 80, "resource": "oven"},
        ],
    }
    body.update(extra)
    return EnergyProblem.model_validate(body)


def _brute_force(problem: EnergyProblem) -> float:
    """Cheapest feasible combination of starts, by trying them all."""
    horizon = problem.horizon or 0
    prices = np.asarray(problem.prices())
    base = np.asarray(problem.base_load())
    options = []
    for job in problem.jobs:
        end = horizon if job.due is None else job.due
        options.append([(job, s) for s in range(job.release, end - job.duration + 1)])
    best = np.inf
    for combo in itertools.product(*options):
        load, busy = base.copy(), {}
        for job, start in combo:
            load[start : start + job.duration] += job.profile()
            use = busy.setdefault(job.resource, np.zeros(horizon))
            use[start : start + job.duration] += 1
        if any((use > problem.capacity(r)).any() for r, use in busy.items()):
            continue
        if problem.grid_limit_kwh is not None and (load > problem.grid_limit_kwh + 1e-9).any():
            continue
        cost = float(prices @ (load - base)) + problem.demand_charge * float(load.max())
        best = min(best, cost)
    return best


def test_optimum_equals_enumeration_and_beats_the_naive_schedule() -> None:
    problem = _problem()
    result = schedule_energy(problem)
    assert result.status == "optimal"
    assert result.cost == pytest.approx(_brute_force(problem))
    starts = {run.name: run.start_period for run in result.jobs}
    assert starts["anneal"] == 4  # the two cheapest consecutive periods
    assert result.naive.jobs[0].start_period == 0  # earliest start
    assert result.saving == pytest.approx(result.naive.cost - result.cost)
    assert result.saving > 0
    assert result.naive.feasible


def test_grid_limit_with_the_forecast_moves_jobs() -> None:
    forecast = [50.0, 50, 50, 80, 190, 190, 60, 50, 50, 50]  # the plant is busy in 4-5
    problem = _problem(forecast_kwh=forecast, grid_limit_kwh=260.0)
    result = schedule_energy(problem)
    assert result.status == "optimal"
    assert result.cost == pytest.approx(_brute_force(problem))
    assert max(result.load_kwh) <= 260.0 + 1e-6
    assert result.base_cost == pytest.approx(float(np.dot(PRICES, forecast)))


def test_demand_charge_flattens_the_peak() -> None:
    cheap = schedule_energy(_problem())
    charged_problem = _problem(forecast_kwh=[20.0] * 10, demand_charge=5.0)
    charged = schedule_energy(charged_problem)
    assert charged.cost == pytest.approx(_brute_force(charged_problem))
    assert charged.peak_kwh is not None
    assert cheap.peak_kwh is not None
    assert charged.peak_kwh <= cheap.peak_kwh + 20.0


def test_too_many_jobs_for_one_furnace_are_explained() -> None:
    jobs = [{"name": f"melt-{k}", "duration": 4, "energy_kwh": 100, "due": 8} for k in range(3)]
    result = schedule_energy(
        EnergyProblem.model_validate({"tariff": {"prices_per_period": PRICES}, "jobs": jobs})
    )
    assert result.status == "infeasible"
    assert result.jobs == []
    assert any("furnace would need 2 jobs at once" in reason for reason in result.shortfalls)
    assert not result.naive.feasible  # earliest start cannot fit the third run either
    assert result.naive.problems == ["melt-2 does not fit on furnace before the horizon ends"]


def test_a_window_too_short_is_explained() -> None:
    job = {"name": "melt", "duration": 3, "energy_kwh": 10, "release": 8}
    result = schedule_energy(
        EnergyProblem.model_validate({"tariff": {"prices_per_period": PRICES}, "jobs": [job]})
    )
    assert result.status == "infeasible"
    assert result.shortfalls == ["melt needs 3 periods between release 8 and due 10"]


def test_grid_limit_below_the_forecast_is_explained() -> None:
    problem = _problem(forecast_kwh=[300.0] * 10, grid_limit_kwh=250.0)
    result = schedule_energy(problem)
    assert result.status == "infeasible"
    assert any("over the grid limit 250" in reason for reason in result.shortfalls)


def test_time_of_use_bands_follow_the_local_clock_on_a_dst_day() -> None:
    tariff = Tariff(
        default_price=0.1,
        bands=[
            Band(start="07:00", end="20:00", price=0.3, days="weekdays"),
            Band(start="22:00", end="06:00", price=0.05),
        ],
    )
    # 2025-03-30, Europe/Berlin: clocks jump from 02:00 to 03:00 (a Sunday, 23 hours)
    prices = tariff.prices("2025-03-30T00:00", 24, 60, "Europe/Berlin")
    assert prices[:5] == [0.05, 0.05, 0.05, 0.05, 0.05]  # 00, 01, 03, 04, 05 local
    assert prices[5] == 0.1  # 06:00
    assert prices[22] == 0.05  # 00:00 Monday
    weekday = tariff.prices("2025-03-31T00:00", 24, 60, "Europe/Berlin")
    assert weekday[7:20] == [0.3] * 13


def test_bad_problems_are_rejected() -> None:
    with pytest.raises(ValidationError, match="energy_kwh or profile_kwh"):
        _problem(jobs=[{"name": "x", "duration": 2}])
    with pytest.raises(ValidationError, match="periods"):
        EnergyProblem.model_validate(
            {
                "tariff": {"default_price": 0.1},
                "jobs": [{"name": "x", "duration": 1, "energy_kwh": 1}],
            }
        )


def test_a_day_of_real_plant_load_as_the_forecast(shared_datasets: Path) -> None:
    """The steel plant's measured 15-minute usage of two days stands in for the forecast;
    four heats released at 09:00 (when a plant without a plan would start them) must be done
    within the two days."""
    path = shared_datasets / "steel_energy" / "Steel_industry_data.csv"
    with path.open(encoding="utf-8-sig") as handle:
        rows = list(itertools.islice(csv.DictReader(handle), 96 * 3))
    forecast = [float(r["Usage_kWh"]) for r in rows[96:]]  # 2018-01-02 and 03, Tue and Wed
    jobs = [
        {"name": f"heat-{k}", "duration": 8, "energy_kwh": 240, "release": 36} for k in range(4)
    ]
    problem = EnergyProblem.model_validate(
        {
            "start": "2018-01-02T00:00",
            "period_minutes": 15,
            "timezone": "Asia/Seoul",
            "tariff": {
                "default_price": 0.09,
                "bands": [
                    {"start": "09:00", "end": "12:00", "price": 0.19, "days": "weekdays"},
                    {"start": "13:00", "end": "17:00", "price": 0.19, "days": "weekdays"},
                    {"start": "23:00", "end": "09:00", "price": 0.06},
                ],
            },
            "forecast_kwh": forecast,
            "grid_limit_kwh": max(forecast) + 35.0,
            "resources": {"furnace": 2},
            "jobs": jobs,
        }
    )
    result = schedule_energy(problem, time_limit_s=30)
    assert result.status == "optimal"
    assert max(result.load_kwh) <= max(forecast) + 35.0 + 1e-6
    assert result.cost == pytest.approx(4 * 240 * 0.06)  # all in the night tariff
    assert result.naive.jobs[0].start_period == 36
    assert result.saving == pytest.approx(result.naive.cost - result.cost)
    assert result.saving_ratio is not None
    assert result.saving_ratio > 0.3
    assert result.jobs[0].start is not None
