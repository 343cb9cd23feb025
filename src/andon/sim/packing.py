"""A flow-wrap packing machine with a heated sealing jaw.

>>> from andon.sim.chance import Draws
>>> packer = Packer({}, 4.5, Draws(1, 0), air_c=24.0)
>>> packer.sample(Condition(running=True))["speed_ppm"] > 10
True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from andon.sim.catalog import TagSpec
from andon.sim.chance import Draws
from andon.sim.physics import Condition, Kind, lag

__all__ = ["Packer"]


class Packer(Kind):
    """A flow-wrap packing machine with a heated sealing jaw."""

    TAGS: ClassVar[tuple[TagSpec, ...]] = (
        TagSpec("speed_ppm", 0.0, 300.0),
        TagSpec("seal_temp_c", -20.0, 250.0),
        TagSpec("film_tension_n", 0.0, 200.0),
        TagSpec("power_kw", 0.0, 50.0),
    )
    DEFAULTS: ClassVar[Mapping[str, float]] = {"seal_c": 160.0, "tension_n": 45.0, "rated_kw": 4.5}
    RELIABILITY: ClassVar[Mapping[str, float]] = {"mtbf_h": 3.5, "micro_stop_every_min": 8.0}
    FAILURES: ClassVar[tuple[tuple[str, bool], ...]] = (
        ("sealing_jaw_wear", True),
        ("film_break", False),
        ("servo_fault", False),
    )
    MICRO_STOPS: ClassVar[tuple[str, ...]] = ("film_splice", "carton_jam", "photo_eye")

    def __init__(
        self, params: Mapping[str, float], cycle_s: float, draws: Draws, air_c: float
    ) -> None:
        super().__init__(params, cycle_s, draws, air_c)
        p = self.p
        self._seal_set, self._tension, self._kw = p["seal_c"], p["tension_n"], p["rated_kw"]
        self._ppm = 60.0 / cycle_s
        self._seal = self._seal_set
        self._heat, self._cool = lag(120.0), lag(900.0)

    def sample(self, c: Condition) -> dict[str, float]:
        n = self.n
        heater = c.state != "equipment_failure"
        target, alpha = (
            (self._seal_set - 5 * c.wear, self._heat) if heater else (c.air_c, self._cool)
        )
        self._seal += (target - self._seal) * alpha
        ppm, tension = 0.0, 4.0 + 0.2 * n()
        power = 1.2 if heater else 0.1
        if c.running:
            ppm = self._ppm * c.speed + 0.05 * n()
            tension = self._tension * (1 - 0.1 * c.wear) + 0.8 * n()
            power = self._kw * (0.7 + 0.3 * c.speed) + 0.1 * n()
        return {
            "speed_ppm": round(ppm, 2),
            "seal_temp_c": round(self._seal + 0.3 * n(), 2),
            "film_tension_n": round(tension, 2),
            "power_kw": round(power, 3),
        }
