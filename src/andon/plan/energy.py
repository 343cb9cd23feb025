"""Energy-aware scheduling: flexible energy-intensive jobs placed by price and forecast.

Jobs (furnace runs, charging, batch heating) each run a number of consecutive periods on a
resource with a parallel capacity (one furnace: one job at a time), between a release
period and a due period (the run must end by it). Each has an energy profile: kWh per
period of its run. The site's other consumption is the **energy forecast** (kWh per
period, from ``andon ml`` forecasting or any file), which matters twice: a grid limit caps
the site's total per period, and a demand charge prices the peak period's total.

The MILP (HiGHS) chooses each job's start ``s[j, t]`` in {0, 1} to minimise
``sum price[t] x job energy[t] + demand_charge x peak``. The **naive schedule** starts every
job as early as its release and its resource allow (in release, then due order), as a
plant does without a plan; the report gives both costs and the saving. Infeasible input
(a window too short, too many jobs for a resource before their due periods, a grid limit
below the forecast) is explained by an elastic model, not crashed on.

>>> problem = EnergyProblem.model_validate({
...     "tariff": {"prices_per_period": [0.3, 0.3, 0.1, 0.1]},
...     "jobs": [{"name": "melt", "duration": 2, "energy_kwh": 100}]})
>>> result = schedule_energy(problem)
>>> result.jobs[0].start_period, result.cost, result.naive.cost, result.saving
(2, 10.0, 30.0, 20.0)
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, PositiveInt, model_validator

from andon.errors import InvalidRequest
from andon.plan.energy_model import EnergySchedule, schedule
from andon.plan.tariff import Tariff

__all__ = ["EnergyJob", "EnergyProblem", "EnergySchedule", "schedule_energy"]

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class EnergyJob(BaseModel):
    """A run of ``duration`` periods using ``energy_kwh`` (spread evenly) or a profile."""

    model_config = _FROZEN
    name: str = Field(min_length=1)
    duration: PositiveInt
    energy_kwh: NonNegativeFloat | None = None
    profile_kwh: list[NonNegativeFloat] | None = None
    release: int = Field(0, ge=0, description="first period the job may start")
    due: int | None = Field(None, ge=1, description="period by which it must end (exclusive)")
    resource: str = "furnace"

    @model_validator(mode="after")
    def _energy(self) -> EnergyJob:
        if (self.energy_kwh is None) == (self.profile_kwh is None):
            raise ValueError(f"{self.name}: give energy_kwh or profile_kwh (one of them)")
        if self.profile_kwh is not None and len(self.profile_kwh) != self.duration:
            raise ValueError(f"{self.name}: the profile must have {self.duration} values")
        return self

    def profile(self) -> list[float]:
        if self.profile_kwh is not None:
            return list(self.profile_kwh)
        assert self.energy_kwh is not None
        return [self.energy_kwh / self.duration] * self.duration


class EnergyProblem(BaseModel):
    """The horizon, tariff, forecast, limits, resources and jobs to place."""

    model_config = _FROZEN
    start: str | None = Field(None, description="ISO-8601 start of period 0 (for bands)")
    period_minutes: PositiveInt = 60
    periods: PositiveInt | None = Field(None, description="default: forecast or price count")
    timezone: str = "UTC"
    tariff: Tariff
    forecast_kwh: list[NonNegativeFloat] | None = None
    grid_limit_kwh: NonNegativeFloat | None = None
    demand_charge: NonNegativeFloat = Field(0.0, description="price per kWh of the peak period")
    resources: dict[str, PositiveInt] = Field(default_factory=dict)
    jobs: list[EnergyJob] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> EnergyProblem:
        names = [j.name for j in self.jobs]
        if len(set(names)) != len(names):
            raise ValueError("job names must be unique")
        if self.horizon is None:
            raise ValueError("give periods, a forecast, or one price per period")
        if self.forecast_kwh is not None and len(self.forecast_kwh) < self.horizon:
            raise ValueError(f"the forecast has {len(self.forecast_kwh)} of {self.horizon} periods")
        return self

    @property
    def horizon(self) -> int | None:
        if self.periods is not None:
            return self.periods
        if self.forecast_kwh is not None:
            return len(self.forecast_kwh)
        prices = self.tariff.prices_per_period
        return None if prices is None else len(prices)

    def base_load(self) -> list[float]:
        horizon = self.horizon or 0
        return list(self.forecast_kwh[:horizon]) if self.forecast_kwh else [0.0] * horizon

    def prices(self) -> list[float]:
        return self.tariff.prices(self.start, self.horizon or 0, self.period_minutes, self.timezone)

    def capacity(self, resource: str) -> int:
        return self.resources.get(resource, 1)


def schedule_energy(
    problem: EnergyProblem, *, time_limit_s: float = 60.0, mip_gap: float = 1e-4
) -> EnergySchedule:
    """The cheapest schedule against the naive one, or why no schedule exists."""
    if problem.horizon is None:  # the validator makes this impossible; mypy cannot know
        raise InvalidRequest("the horizon is unknown")
    return schedule(problem, time_limit_s=time_limit_s, mip_gap=mip_gap)
