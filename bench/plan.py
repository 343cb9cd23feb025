"""Planning MILPs on these 2 cores: 50 products x 20 work centres x 13 weeks, and a day of
energy-aware furnace scheduling.

Production (capacitated lot sizing with setup times and overtime, see
:mod:`andon.plan.production`): a seeded synthetic plant, each product routed over 2-4 work
centres, gamma-distributed weekly demand, capacity set so that average load is
``--utilisation`` of it. Figures: model size, solve time, cost, best bound and optimality
gap at the time limit; baselines measured in the same run: the LP relaxation (its bound and
time) and the lot-for-lot plan (its cost, when the plant can make it at all).

Energy (:mod:`andon.plan.energy`): 96 quarter hours, ``--jobs`` furnace runs on 3 furnaces,
a time-of-use tariff, a base-load forecast and a demand charge; the saving against the
naive earliest-start schedule.

    .venv/bin/python bench/plan.py [--time-limit 60] [--utilisation 0.75] [--seed 0]

The last line is ``RESULT key=value ...``.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

from andon.plan.energy import EnergyProblem, schedule_energy
from andon.plan.production import ProductionProblem, plan_production
from andon.plan.production_model import build_model, lot_for_lot


def plant(
    products: int, centres: int, weeks: int, utilisation: float, seed: int
) -> ProductionProblem:
    rng = np.random.default_rng(seed)
    demand = rng.gamma(4.0, 25.0, size=(products, weeks)).round()
    hours = np.zeros((products, centres))
    items = []
    for p in range(products):
        routing = []
        for w in rng.choice(centres, size=int(rng.integers(2, 5)), replace=False):
            per_unit = round(float(rng.uniform(0.05, 0.3)), 3)
            hours[p, w] += per_unit
            routing.append(
                {
                    "work_centre": f"wc{w}",
                    "hours_per_unit": per_unit,
                    "setup_hours": round(float(rng.uniform(1.0, 4.0)), 1),
                }
            )
        items.append(
            {
                "name": f"p{p}",
                "demand": demand[p].tolist(),
                "initial_inventory": float(demand[p, 0]),
                "holding_cost": round(float(rng.uniform(0.5, 2.0)), 2),
                "setup_cost": round(float(rng.uniform(100.0, 600.0))),
                "routing": routing,
            }
        )
    load = (hours.T @ demand).mean(axis=1)
    work_centres = [
        {
            "name": f"wc{w}",
            "capacity": float(np.ceil(load[w] / utilisation + 10)),
            "overtime_hours": 8.0,
            "overtime_cost": 60.0,
        }
        for w in range(centres)
    ]
    weeks_named = [f"W{k + 1:02d}" for k in range(weeks)]
    return ProductionProblem.model_validate(
        {"periods": weeks_named, "products": items, "work_centres": work_centres}
    )


def furnaces(jobs: int, seed: int) -> EnergyProblem:
    rng = np.random.default_rng(seed)
    hour = np.arange(96) / 4
    base = 120 + 80 * ((hour >= 7) & (hour < 19)) + rng.normal(0, 8, 96)
    runs = [
        {
            "name": f"heat-{k}",
            "duration": int(rng.integers(4, 13)),
            "energy_kwh": float(rng.uniform(200, 600)),
            "release": int(rng.integers(0, 48)),
            "resource": "furnace",
        }
        for k in range(jobs)
    ]
    return EnergyProblem.model_validate(
        {
            "start": "2026-03-02T00:00",
            "period_minutes": 15,
            "timezone": "Europe/Berlin",
            "tariff": {
                "default_price": 0.14,
                "bands": [
                    {"start": "08:00", "end": "20:00", "price": 0.24, "days": "weekdays"},
                    {"start": "22:00", "end": "06:00", "price": 0.09},
                ],
            },
            "forecast_kwh": np.clip(base, 0, None).tolist(),
            "demand_charge": 2.0,
            "resources": {"furnace": 3},
            "jobs": runs,
        }
    )


def _num(value: float | None) -> str:
    return "none" if value is None else f"{value:.1f}"


def _pct(value: float | None) -> str:
    return "none" if value is None else f"{value:.2%}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--utilisation", type=float, default=0.75)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=16)
    args = parser.parse_args()

    problem = plant(50, 20, 13, args.utilisation, args.seed)
    model, _ = build_model(problem, elastic=False)
    integers = sum(model.integer)
    relaxed = model.solve(time_limit_s=args.time_limit, relax=True)
    started = time.perf_counter()
    plan = plan_production(problem, time_limit_s=args.time_limit, mip_gap=1e-4)
    total_s = time.perf_counter() - started
    naive = lot_for_lot(problem)
    print(f"production: {len(model.cost)} variables ({integers} binary), {model.num_rows} rows")
    print(f"baseline LP relaxation: bound {relaxed.objective:.1f} in {relaxed.seconds:.2f} s")
    print(
        f"andon MILP ({args.time_limit:.0f} s limit): {plan.status}, cost {_num(plan.cost)}, "
        f"bound {_num(plan.bound)}, gap {_pct(plan.gap)}, solve {plan.solve_s:.1f} s "
        f"(with shadow prices {total_s:.1f} s), {len(plan.binding)} binding constraints"
    )
    lfl = f"{naive.cost:.1f}" if naive.cost is not None else f"infeasible ({naive.reason})"
    print(f"baseline lot-for-lot: {lfl}")

    energy = schedule_energy(furnaces(args.jobs, args.seed), time_limit_s=args.time_limit)
    print(
        f"energy: {args.jobs} jobs x 96 periods on 3 furnaces: {energy.status} in "
        f"{energy.solve_s:.2f} s, gap {_pct(energy.gap)}, cost {_num(energy.cost)}; baseline "
        f"naive earliest start {energy.naive.cost:.1f} (within limits: {energy.naive.feasible}); "
        f"saving {_num(energy.saving)} ({(energy.saving_ratio or 0):.1%})"
    )
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {rss_mb:.0f} MB")
    lfl_cost = "none" if naive.cost is None else f"{naive.cost:.1f}"
    print(
        f"RESULT utilisation={args.utilisation} time_limit_s={args.time_limit:.0f} "
        f"status={plan.status} solve_s={plan.solve_s:.1f} cost={_num(plan.cost)} "
        f"bound={_num(plan.bound)} gap={plan.gap or 0:.4f} "
        f"lp_bound={relaxed.objective:.1f} lp_s={relaxed.seconds:.2f} "
        f"lot_for_lot={lfl_cost} energy_status={energy.status} energy_s={energy.solve_s:.2f} "
        f"energy_gap={energy.gap or 0:.4f} "
        f"energy_saving_ratio={(energy.saving_ratio or 0):.3f} peak_rss_mb={rss_mb:.0f}"
    )


if __name__ == "__main__":
    main()
