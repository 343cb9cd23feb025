"""The energy scheduling MILP, the naive earliest-start schedule, and what is reported.

See :mod:`andon.plan.energy` for the problem and the model's meaning.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from andon.plan.milp import FloatArray, ModelBuilder
from andon.plan.tariff import period_starts

if TYPE_CHECKING:  # energy.py imports this module at run time
    from andon.plan.energy import EnergyJob, EnergyProblem

__all__ = ["EnergySchedule", "JobRun", "Placement", "schedule"]

_TOLERANCE = 1e-6


@dataclass(frozen=True, slots=True)
class JobRun:
    """Where one job runs: periods ``[start_period, end_period)``."""

    name: str
    resource: str
    start_period: int
    end_period: int
    start: str | None
    energy_kwh: float
    cost: float


@dataclass(frozen=True, slots=True)
class Placement:
    """A schedule's runs and costs; ``problems`` lists what it breaks (due dates, grid)."""

    jobs: list[JobRun]
    energy_cost: float
    peak_kwh: float
    demand_cost: float
    cost: float
    feasible: bool
    problems: list[str] = field(default_factory=list)
    load_kwh: list[float] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class EnergySchedule:
    """The optimised schedule against the naive one; ``shortfalls`` when none exists."""

    status: str
    message: str
    jobs: list[JobRun]
    cost: float | None
    energy_cost: float | None
    demand_cost: float | None
    peak_kwh: float | None
    base_cost: float
    gap: float | None
    solve_s: float
    naive: Placement
    saving: float | None
    saving_ratio: float | None
    prices: list[float]
    load_kwh: list[float]
    shortfalls: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class _Context:
    problem: EnergyProblem
    horizon: int
    prices: FloatArray
    base: FloatArray
    labels: list[str | None]


def _context(problem: EnergyProblem) -> _Context:
    horizon = problem.horizon or 0
    labels: list[str | None] = [None] * horizon
    if problem.start is not None:
        starts = period_starts(problem.start, horizon, problem.period_minutes, problem.timezone)
        labels = [moment.isoformat() for moment in starts]
    prices = np.asarray(problem.prices(), dtype=np.float64)
    return _Context(problem, horizon, prices, np.asarray(problem.base_load()), labels)


def _window(job: EnergyJob, horizon: int) -> range:
    """The periods the job may start in."""
    end = horizon if job.due is None else min(job.due, horizon)
    return range(job.release, end - job.duration + 1)


def _placement(ctx: _Context, starts: dict[str, int], problems: list[str]) -> Placement:
    """Costs of jobs started at ``starts``, checked against due dates and the grid limit."""
    load = ctx.base.copy()
    runs: list[JobRun] = []
    for job in ctx.problem.jobs:
        if job.name not in starts:
            continue
        first = starts[job.name]
        profile = np.asarray(job.profile())
        load[first : first + job.duration] += profile
        cost = float(profile @ ctx.prices[first : first + job.duration])
        runs.append(
            JobRun(
                job.name,
                job.resource,
                first,
                first + job.duration,
                ctx.labels[first],
                float(profile.sum()),
                cost,
            )
        )
        if job.due is not None and first + job.duration > job.due:
            problems.append(f"{job.name} ends in period {first + job.duration}, due {job.due}")
    limit = ctx.problem.grid_limit_kwh
    if limit is not None:
        over = np.flatnonzero(load > limit + _TOLERANCE)
        problems += [f"period {t}: {load[t]:.4g} kWh above the grid limit {limit:g}" for t in over]
    energy = sum(run.cost for run in runs)
    peak = float(load.max(initial=0.0))
    demand = ctx.problem.demand_charge * peak
    total = energy + demand
    return Placement(runs, energy, peak, demand, total, not problems, problems, load.tolist())


def naive_schedule(ctx: _Context) -> Placement:
    """Every job as early as its release and resource allow, in (release, due) order."""
    busy: dict[str, FloatArray] = {}
    starts: dict[str, int] = {}
    problems: list[str] = []
    order = sorted(ctx.problem.jobs, key=lambda j: (j.release, j.due or ctx.horizon))
    for job in order:
        used = busy.setdefault(job.resource, np.zeros(ctx.horizon))
        capacity = ctx.problem.capacity(job.resource)
        first = job.release
        while first + job.duration <= ctx.horizon and np.any(
            used[first : first + job.duration] >= capacity
        ):
            first += 1
        if first + job.duration > ctx.horizon:
            problems.append(f"{job.name} does not fit on {job.resource} before the horizon ends")
            continue
        used[first : first + job.duration] += 1
        starts[job.name] = first
    return _placement(ctx, starts, problems)


@dataclass(frozen=True, slots=True)
class _Columns:
    starts: list[tuple[EnergyJob, list[int], list[int]]]  # job, start periods, columns
    peak: int | None
    extra_units: dict[tuple[str, int], int]
    excess_kwh: dict[int, int]


def _build(ctx: _Context, *, elastic: bool) -> tuple[ModelBuilder, _Columns]:
    m = ModelBuilder()
    price = 0.0 if elastic else 1.0
    starts = []
    for job in ctx.problem.jobs:
        periods = list(_window(job, ctx.horizon))
        profile = np.asarray(job.profile())
        costs = [price * float(profile @ ctx.prices[t : t + job.duration]) for t in periods]
        cols = m.variables(len(periods), cost=costs, upper=1.0, integer=True).tolist()
        m.row(cols, [1.0] * len(cols), lower=1.0, upper=1.0)
        starts.append((job, periods, cols))
    charge = ctx.problem.demand_charge
    peak = int(m.variables(1, cost=price * charge)[0]) if charge > 0 and not elastic else None
    columns = _Columns(starts, peak, {}, {})
    _resource_rows(m, ctx, columns, elastic)
    _energy_rows(m, ctx, columns, elastic)
    return m, columns


def _running(columns: _Columns, t: int) -> list[tuple[EnergyJob, int, int]]:
    """(job, column, offset into its run) of every start that has the job running at t."""
    found = []
    for job, periods, cols in columns.starts:
        for first, col in zip(periods, cols, strict=True):
            if first <= t < first + job.duration:
                found.append((job, col, t - first))
    return found


def _resource_rows(m: ModelBuilder, ctx: _Context, columns: _Columns, elastic: bool) -> None:
    for resource in sorted({job.resource for job in ctx.problem.jobs}):
        for t in range(ctx.horizon):
            cols = [col for job, col, _ in _running(columns, t) if job.resource == resource]
            if not cols:
                continue
            coefs = [1.0] * len(cols)
            if elastic:
                extra = int(m.variables(1, cost=1.0)[0])
                columns.extra_units[(resource, t)] = extra
                cols, coefs = [*cols, extra], [*coefs, -1.0]
            m.row(cols, coefs, upper=float(ctx.problem.capacity(resource)))


def _energy_rows(m: ModelBuilder, ctx: _Context, columns: _Columns, elastic: bool) -> None:
    limit = ctx.problem.grid_limit_kwh
    for t in range(ctx.horizon):
        running = _running(columns, t)
        cols = [col for _, col, _ in running]
        coefs = [job.profile()[offset] for job, _, offset in running]
        if limit is not None:
            row_cols, row_coefs = list(cols), list(coefs)
            if elastic:
                excess = int(m.variables(1, cost=1.0)[0])
                columns.excess_kwh[t] = excess
                row_cols, row_coefs = [*row_cols, excess], [*row_coefs, -1.0]
            m.row(row_cols, row_coefs, upper=float(limit - ctx.base[t]))
        if columns.peak is not None:
            m.row([*cols, columns.peak], [*coefs, -1.0], upper=-float(ctx.base[t]))


def _explain(ctx: _Context, time_limit_s: float) -> list[str]:
    """Windows too short, then the smallest resource and grid violations that would fit."""
    reasons = [
        f"{job.name} needs {job.duration} periods between release {job.release} and due "
        f"{job.due if job.due is not None else ctx.horizon}"
        for job in ctx.problem.jobs
        if not _window(job, ctx.horizon)
    ]
    if reasons:
        return reasons
    m, columns = _build(ctx, elastic=True)
    solution = m.solve(time_limit_s=min(time_limit_s, 10.0), mip_gap=1e-3)
    if not solution.feasible:
        return ["no explanation found within the time limit"]
    x = solution.x
    for (resource, t), col in sorted(columns.extra_units.items()):
        if x[col] > _TOLERANCE:
            need = ctx.problem.capacity(resource) + round(float(x[col]))
            reasons.append(
                f"{resource} would need {need} jobs at once in period {t} "
                f"(capacity {ctx.problem.capacity(resource)})"
            )
    for t, col in sorted(columns.excess_kwh.items()):
        if x[col] > _TOLERANCE:
            reasons.append(
                f"period {t}: {float(x[col]):.4g} kWh over the grid limit "
                f"{ctx.problem.grid_limit_kwh:g} (forecast {ctx.base[t]:.4g} kWh)"
            )
    return reasons


def schedule(problem: EnergyProblem, *, time_limit_s: float, mip_gap: float) -> EnergySchedule:
    """Solve, compare with the naive schedule, or explain infeasibility."""
    ctx = _context(problem)
    naive = naive_schedule(ctx)
    base_cost = float(ctx.prices @ ctx.base)
    if any(not _window(job, ctx.horizon) for job in problem.jobs):
        return _failed(ctx, naive, base_cost, "infeasible", _explain(ctx, time_limit_s), 0.0)
    m, columns = _build(ctx, elastic=False)
    solution = m.solve(time_limit_s=time_limit_s, mip_gap=mip_gap)
    if not solution.feasible:
        reasons = _explain(ctx, time_limit_s) if solution.status == "infeasible" else []
        return _failed(ctx, naive, base_cost, solution.status, reasons, solution.seconds)
    chosen = {
        job.name: periods[int(np.argmax(solution.x[cols]))] for job, periods, cols in columns.starts
    }
    best = _placement(ctx, chosen, [])
    # The naive schedule may break due dates or the grid limit (it says which in
    # ``naive.problems``); its cost still tells what planning saves, once every job is placed.
    placed = len(naive.jobs) == len(problem.jobs)
    saving = naive.cost - best.cost if placed else None
    status = "optimal" if solution.status == "optimal" else "feasible"
    message = f"{status} schedule, cost {best.cost:.6g}" + (
        f", saving {saving:.6g} against the naive schedule" if saving is not None else ""
    )
    return EnergySchedule(
        status=status,
        message=message,
        jobs=sorted(best.jobs, key=lambda r: (r.start_period, r.name)),
        cost=best.cost,
        energy_cost=best.energy_cost,
        demand_cost=best.demand_cost,
        peak_kwh=best.peak_kwh,
        base_cost=base_cost,
        gap=solution.gap,
        solve_s=solution.seconds,
        naive=naive,
        saving=saving,
        saving_ratio=saving / naive.cost if saving is not None and naive.cost > 0 else None,
        prices=ctx.prices.tolist(),
        load_kwh=best.load_kwh,
    )


def _failed(
    ctx: _Context, naive: Placement, base: float, status: str, reasons: list[str], seconds: float
) -> EnergySchedule:
    message = (
        f"no schedule meets every constraint: {'; '.join(reasons)}"
        if status == "infeasible"
        else f"no schedule found ({status}); allow more time"
    )
    return EnergySchedule(
        status,
        message,
        [],
        None,
        None,
        None,
        None,
        base,
        None,
        seconds,
        naive,
        None,
        None,
        ctx.prices.tolist(),
        ctx.base.tolist(),
        reasons,
    )
