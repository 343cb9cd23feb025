"""A three-zone continuous heat-treatment furnace that follows its temperature schedule.

The zones track setpoints that follow a schedule: each product has its recipe (the second
product of a line runs ``recipe_step_c`` hotter, the third as much cooler), and when no shift
is planned the furnace sets back by ``standby_drop_c`` to save energy, then heats up again
before work resumes. It keeps heating through breaks and short stops; it cools towards the
air only when it fails. Power follows the heat demand (holding losses, the load, and the
deficit to setpoint); the energy counter integrates it. Now and then a zone overshoots
(``spike_every_h``: a sticking contactor or a controller glitch) and relaxes back.

>>> from andon.sim.chance import Draws
>>> furnace = Furnace({}, 5.0, Draws(4, 0), air_c=24.0)
>>> values = [furnace.sample(Condition(product=1)) for _ in range(3600)][-1]
>>> values["setpoint_c"], 915.0 < values["zone2_temp_c"] < 935.0
(925.0, True)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from andon.sim.catalog import TagSpec
from andon.sim.chance import Draws
from andon.sim.physics import Condition, Kind, lag

__all__ = ["Furnace"]

_RECIPE = (0.0, 1.0, -1.0)  # recipe offsets of a line's products, in units of recipe_step_c


class Furnace(Kind):
    """A three-zone continuous heat-treatment furnace."""

    TAGS: ClassVar[tuple[TagSpec, ...]] = (
        TagSpec("zone1_temp_c", -20.0, 1300.0),
        TagSpec("zone2_temp_c", -20.0, 1300.0),
        TagSpec("zone3_temp_c", -20.0, 1300.0),
        TagSpec("setpoint_c", 0.0, 1300.0),
        TagSpec("power_kw", 0.0, 1000.0),
        TagSpec("energy_kwh", 0.0, 100_000_000.0),
    )
    DEFAULTS: ClassVar[Mapping[str, float]] = {
        "zone1_c": 850.0,
        "zone2_c": 900.0,
        "zone3_c": 875.0,
        "holding_kw": 60.0,
        "max_kw": 250.0,
        "energy_kwh": 125_000.0,  # the energy counter's reading at the start
        "recipe_step_c": 25.0,
        "standby_drop_c": 150.0,
        "spike_every_h": 8.0,  # mean running hours between temperature overshoots
    }
    RELIABILITY: ClassVar[Mapping[str, float]] = {"mtbf_h": 4.0, "wear_life_h": 80.0}
    FAILURES: ClassVar[tuple[tuple[str, bool], ...]] = (
        ("heating_element_failure", True),
        ("thermocouple_fault", False),
        ("conveyor_drive_fault", False),
    )
    MICRO_STOPS: ClassVar[tuple[str, ...]] = ("tray_misaligned", "door_sensor", "conveyor_slip")

    def __init__(
        self, params: Mapping[str, float], cycle_s: float, draws: Draws, air_c: float
    ) -> None:
        super().__init__(params, cycle_s, draws, air_c)
        p = self.p
        self._setpoints = (p["zone1_c"], p["zone2_c"], p["zone3_c"])
        self._zones = list(self._setpoints)
        self._energy = p["energy_kwh"]
        self._spike_chance = 1.0 / (3600.0 * p["spike_every_h"]) if p["spike_every_h"] > 0 else 0
        self._heat, self._cool = lag(600.0), lag(3600.0)

    def _offset(self, c: Condition) -> float:
        """The schedule: the product's recipe, minus the setback when no shift is planned."""
        offset = _RECIPE[c.product % 3] * self.p["recipe_step_c"]
        return offset - (self.p["standby_drop_c"] if c.state == "no_shift" else 0.0)

    def sample(self, c: Condition) -> dict[str, float]:
        n, uniform = self.n, self.draws.uniform
        heating = c.state != "equipment_failure"
        offset = self._offset(c)
        zones, deficit = self._zones, 0.0
        if heating and uniform() < self._spike_chance:
            zones[int(uniform() * 3)] += self.draws.between(20.0, 60.0)
        for i, base in enumerate(self._setpoints):
            setpoint = base + offset
            target, alpha = (setpoint, self._heat) if heating else (c.air_c, self._cool)
            zones[i] += (target - zones[i]) * alpha + 0.1 * n()
            deficit += max(setpoint - zones[i], 0.0)
        power = 3.0 + 0.2 * n()  # circulation fans only
        if heating:
            load = 25.0 if c.running else 0.0
            holding = self.p["holding_kw"] * (1 + 0.25 * c.wear) * (1 + offset / 2000.0)
            power = min(self.p["max_kw"], holding + load + 2.0 * deficit) + 1.5 * n()
        self._energy += power / 3600.0
        return {
            "zone1_temp_c": round(zones[0] + 0.3 * n(), 1),
            "zone2_temp_c": round(zones[1] + 0.3 * n(), 1),
            "zone3_temp_c": round(zones[2] + 0.3 * n(), 1),
            "setpoint_c": round(self._setpoints[1] + offset, 1),
            "power_kw": round(power, 2),
            "energy_kwh": round(self._energy, 3),
        }
