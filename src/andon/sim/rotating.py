"""Rotating equipment (pump, washer drum, fan) that degrades to failure like a C-MAPSS engine.

The component (a bearing) degrades with running time. Its health indicator stays flat for
most of its life, then rises ever faster, the run-to-failure shape of NASA's C-MAPSS turbofan
histories: ``d(e) = (exp(b e) - 1) / (exp(b) - 1)`` for the life fraction ``e`` (0 new,
1 end of life), so ``d`` is about 0.12 at mid-life and 1 at the end. Each bearing's life
varies (log-normal, ``life_sd``); when it is used up, the bearing fails while a part is in
work (``bearing_failure``), and the repair, or a planned maintenance before it
(``maintenance_at`` in the scenario), replaces it and resets the degradation.

Degradation shows in the vibration spectrum first: the high-frequency band (``band_hf_mm_s``,
where rolling-element defects ring) rises early, then the bearing-defect band
(``band_bearing_mm_s``), the overall RMS velocity and the bearing temperature; the running
speed band (``band_1x_mm_s``, imbalance) barely moves.

>>> degradation(0.5, 4.0) < 0.15 < 0.9 < degradation(0.98, 4.0)
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import ClassVar

from andon.sim.catalog import TagSpec
from andon.sim.chance import Draws
from andon.sim.physics import Condition, Kind, Trip, lag

__all__ = ["Rotating", "degradation"]

_STEEP, _EARLY = 4.0, 2.0  # curvature of the late (most signals) and early (HF band) indicators


def degradation(life_used: float, steepness: float) -> float:
    """Health indicator for the fraction of life used: 0 new, 1 at the end of life."""
    used = min(max(life_used, 0.0), 1.3)
    return (math.exp(steepness * used) - 1.0) / (math.exp(steepness) - 1.0)


class Rotating(Kind):
    """A motor-driven rotating machine with a degrading bearing."""

    TAGS: ClassVar[tuple[TagSpec, ...]] = (
        TagSpec("vibration_rms_mm_s", 0.0, 50.0),
        TagSpec("band_1x_mm_s", 0.0, 30.0),
        TagSpec("band_bearing_mm_s", 0.0, 30.0),
        TagSpec("band_hf_mm_s", 0.0, 30.0),
        TagSpec("bearing_temp_c", -20.0, 150.0),
        TagSpec("speed_rpm", 0.0, 4000.0),
        TagSpec("power_kw", 0.0, 200.0),
    )
    DEFAULTS: ClassVar[Mapping[str, float]] = {
        "rated_rpm": 2950.0,
        "rated_kw": 15.0,
        "vibration_mm_s": 1.8,  # RMS velocity of a healthy machine
        "life_sd": 0.15,  # log-normal spread of bearing lives around wear_life_h
    }
    RELIABILITY: ClassVar[Mapping[str, float]] = {"mtbf_h": 20.0, "wear_life_h": 50.0}
    FAILURES: ClassVar[tuple[tuple[str, bool], ...]] = (
        ("seal_leak", False),
        ("motor_overload", False),
        ("coupling_failure", False),
    )
    MICRO_STOPS: ClassVar[tuple[str, ...]] = ("dry_run_trip", "filter_clog", "level_switch")

    def __init__(
        self, params: Mapping[str, float], cycle_s: float, draws: Draws, air_c: float
    ) -> None:
        super().__init__(params, cycle_s, draws, air_c)
        self._rated, self._kw = self.p["rated_rpm"], self.p["rated_kw"]
        self._vib = self.p["vibration_mm_s"]
        self._rpm = self._rated
        self._bearing = air_c + 25.0
        self._alpha = lag(900.0)
        self._life = 1.0
        self.renew()

    def renew(self) -> None:
        """A new bearing, with its own life (a fraction of the nominal wear life)."""
        self._life = math.exp(self.p["life_sd"] * self.n())

    def begin_part(self, c: Condition, fresh: bool) -> Trip | None:
        """The bearing fails during this part when its life is used up."""
        if c.wear < self._life:
            return None
        return Trip("bearing_failure", self.draws.between(0.1, 0.9), renew=True)

    def sample(self, c: Condition) -> dict[str, float]:
        n = self.n
        if c.running:  # spins up within a few seconds, coasts down when stopped
            self._rpm += (self._rated * (1.0 + 0.002 * n()) - self._rpm) * 0.7
        else:
            self._rpm *= 0.35
        ratio = self._rpm / self._rated
        used = c.wear / self._life
        late, early = degradation(used, _STEEP), degradation(used, _EARLY)
        self._bearing += (c.air_c + (25.0 + 15.0 * late) * ratio - self._bearing) * self._alpha
        vibration = (self._vib + 6.0 * late + 0.15 * n()) * ratio
        power = self._kw * ratio**3 * (1.0 + 0.15 * late) + 0.1 * n() * ratio
        return {
            "vibration_rms_mm_s": round(max(vibration, 0.02), 3),
            "band_1x_mm_s": round(max((0.7 * self._vib + 0.3 * late + 0.05 * n()) * ratio, 0.0), 3),
            "band_bearing_mm_s": round(max((0.2 + 4.0 * late + 0.05 * n()) * ratio, 0.0), 3),
            "band_hf_mm_s": round(max((0.3 + 3.0 * early + 0.05 * n()) * ratio, 0.0), 3),
            "bearing_temp_c": round(self._bearing + 0.2 * n(), 2),
            "speed_rpm": round(self._rpm, 1),
            "power_kw": round(max(power, 0.0), 3),
        }
