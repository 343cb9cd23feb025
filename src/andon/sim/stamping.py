"""A press line's machines: coil feed, hydraulic press (blanking, forming, trimming), inspection.

The coil feed uncoils and straightens strip into the press; a coil lasts ``coil_parts``
parts, then the line waits for material while the next coil is threaded (state
``material``, reason ``coil_change``). Presses wear their dies (force and power rise).
The inspection station measures every part: burr height and flatness as a percentage of
their tolerance (scrap parts measure above 100 %), and keeps a rolling reject rate.

>>> from andon.sim.chance import Draws
>>> feed = CoilFeed({"coil_parts": 3}, 3.0, Draws(1, 0), air_c=24.0)
>>> trips = [feed.begin_part(Condition(), fresh=True) for _ in range(12)]
>>> [i for i, trip in enumerate(trips) if trip]  # a new coil after every three parts
[2, 6, 10]
>>> trips[2].state, trips[2].reason
('material', 'coil_change')
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import ClassVar

from andon.sim.catalog import TagSpec
from andon.sim.chance import Draws
from andon.sim.physics import Condition, Kind, Trip, lag

__all__ = ["CoilFeed", "Inspection", "Press"]

_REJECT_WINDOW = 100


class CoilFeed(Kind):
    """A decoiler, straightener and servo feed that supplies strip to a press."""

    TAGS: ClassVar[tuple[TagSpec, ...]] = (
        TagSpec("feed_rate_spm", 0.0, 300.0),
        TagSpec("coil_remaining_pct", 0.0, 100.0),
        TagSpec("straightener_torque_nm", 0.0, 600.0),
        TagSpec("loop_height_pct", 0.0, 100.0),
        TagSpec("motor_current_a", 0.0, 100.0),
        TagSpec("power_kw", 0.0, 50.0),
    )
    DEFAULTS: ClassVar[Mapping[str, float]] = {
        "coil_parts": 1500.0,  # parts stamped from one coil
        "coil_change_min_low": 6.0,
        "coil_change_min_high": 12.0,
        "straightener_nm": 180.0,
        "rated_kw": 7.5,
    }
    RELIABILITY: ClassVar[Mapping[str, float]] = {"mtbf_h": 8.0, "wear_life_h": 60.0}
    FAILURES: ClassVar[tuple[tuple[str, bool], ...]] = (
        ("straightener_roll_wear", True),
        ("servo_fault", False),
        ("coil_car_fault", False),
    )
    MICRO_STOPS: ClassVar[tuple[str, ...]] = ("loop_sensor", "strip_edge_detect", "pilot_miss")

    def __init__(
        self, params: Mapping[str, float], cycle_s: float, draws: Draws, air_c: float
    ) -> None:
        super().__init__(params, cycle_s, draws, air_c)
        self._coil = max(1, round(self.p["coil_parts"]))
        self._left = int(self.draws.between(0.1, 1.0) * self._coil)
        self._hardness = self.n()  # this coil's deviation from the nominal strip hardness
        self._loop = 50.0
        self._spm = 60.0 / cycle_s

    def begin_part(self, c: Condition, fresh: bool) -> Trip | None:
        """Feed one blank; an empty coil stops the line for a coil change first."""
        if not fresh:
            return None
        if self._left <= 0:
            self._left, self._hardness = self._coil, self.n()
            minutes = (self.p["coil_change_min_low"], self.p["coil_change_min_high"])
            return Trip("coil_change", 0.0, state="material", minutes=minutes)
        self._left -= 1
        return None

    def sample(self, c: Condition) -> dict[str, float]:
        n = self.n
        spm = torque = 0.0
        power = 0.4
        if c.running:
            spm = self._spm * c.speed + 0.1 * n()
            torque = self.p["straightener_nm"] * (1 + 0.1 * c.wear) + 8.0 * self._hardness + 3 * n()
            power = self.p["rated_kw"] * (0.5 + 0.5 * c.speed) * (1 + 0.1 * c.wear) + 0.1 * n()
        self._loop += ((70.0 if c.running else 35.0) - self._loop) * 0.2 + 1.5 * n()
        return {
            "feed_rate_spm": round(max(spm, 0.0), 2),
            "coil_remaining_pct": round(100.0 * self._left / self._coil, 2),
            "straightener_torque_nm": round(max(torque, 0.0), 1),
            "loop_height_pct": round(min(max(self._loop, 0.0), 100.0), 1),
            "motor_current_a": round(max(power, 0.0) * 1.9 + 0.2 * n(), 2),
            "power_kw": round(max(power, 0.0), 3),
        }


class Press(Kind):
    """A hydraulic stamping press (blanking, forming or trimming, by its parameters)."""

    TAGS: ClassVar[tuple[TagSpec, ...]] = (
        TagSpec("stroke_rate_spm", 0.0, 300.0),
        TagSpec("force_kn", 0.0, 5000.0),
        TagSpec("oil_temp_c", -20.0, 120.0),
        TagSpec("power_kw", 0.0, 500.0),
    )
    DEFAULTS: ClassVar[Mapping[str, float]] = {"force_kn": 800.0, "rated_kw": 30.0}
    RELIABILITY: ClassVar[Mapping[str, float]] = {"mtbf_h": 3.5, "wear_life_h": 40.0}
    FAILURES: ClassVar[tuple[tuple[str, bool], ...]] = (
        ("die_crack", True),
        ("hydraulic_leak", True),
        ("clutch_fault", False),
        ("feeder_fault", False),
    )
    MICRO_STOPS: ClassVar[tuple[str, ...]] = ("misfeed", "double_blank", "light_curtain")

    def __init__(
        self, params: Mapping[str, float], cycle_s: float, draws: Draws, air_c: float
    ) -> None:
        super().__init__(params, cycle_s, draws, air_c)
        self._force, self._kw = self.p["force_kn"], self.p["rated_kw"]
        self._spm = 60.0 / cycle_s
        self._oil = air_c + 20.0
        self._alpha = lag(1200.0)

    def sample(self, c: Condition) -> dict[str, float]:
        n = self.n
        self._oil += (c.air_c + (22.0 if c.running else 8.0) - self._oil) * self._alpha
        spm = force = 0.0
        power = 4.0 if c.state == "micro_stop" else 0.3  # the pump idles through short stops
        if c.running:
            spm = self._spm * c.speed + 0.1 * n()
            force = self._force * (1 + 0.12 * c.wear) * (0.95 + 0.05 * (c.product % 3)) + 6 * n()
            power = self._kw * (0.6 + 0.4 * c.speed) * (1 + 0.1 * c.wear) + 0.5 * n()
        return {
            "stroke_rate_spm": round(spm, 2),
            "force_kn": round(force, 1),
            "oil_temp_c": round(self._oil + 0.1 * n(), 2),
            "power_kw": round(power, 3),
        }


class Inspection(Kind):
    """A vision inspection station that measures every part and rejects the bad ones."""

    TAGS: ClassVar[tuple[TagSpec, ...]] = (
        TagSpec("burr_height_pct", 0.0, 300.0),
        TagSpec("flatness_pct", 0.0, 300.0),
        TagSpec("reject_rate_pct", 0.0, 100.0),
        TagSpec("camera_temp_c", -20.0, 80.0),
        TagSpec("power_kw", 0.0, 20.0),
    )
    DEFAULTS: ClassVar[Mapping[str, float]] = {"rated_kw": 2.0, "burr_pct": 45.0}
    RELIABILITY: ClassVar[Mapping[str, float]] = {
        "mtbf_h": 12.0,
        "wear_life_h": 200.0,
        "scrap_rate": 0.02,
    }
    FAILURES: ClassVar[tuple[tuple[str, bool], ...]] = (
        ("lighting_failure", True),
        ("camera_fault", False),
        ("reject_gate_jam", False),
    )
    MICRO_STOPS: ClassVar[tuple[str, ...]] = ("retest", "part_misplaced", "code_unreadable")

    def __init__(
        self, params: Mapping[str, float], cycle_s: float, draws: Draws, air_c: float
    ) -> None:
        super().__init__(params, cycle_s, draws, air_c)
        self._seen = -1
        self._burr, self._flat = self.p["burr_pct"], 40.0
        self._outcomes: deque[bool] = deque(maxlen=_REJECT_WINDOW)
        self._camera = air_c + 12.0
        self._alpha = lag(600.0)

    def _measure(self, c: Condition) -> None:
        """Measure the part that just left: a scrap part is out of tolerance (over 100 %)."""
        self._seen = c.parts
        self._outcomes.append(c.last_scrap)
        if c.last_scrap:
            self._burr, self._flat = self.draws.between(105, 180), self.draws.between(60, 150)
            return
        self._burr = min(max(self.p["burr_pct"] + 20 * c.wear + 10 * self.n(), 3.0), 98.0)
        self._flat = min(max(40.0 + 12.0 * self.n(), 3.0), 98.0)

    def sample(self, c: Condition) -> dict[str, float]:
        if c.parts != self._seen and c.parts > 0:
            self._measure(c)
        self._camera += (c.air_c + (14.0 if c.running else 9.0) - self._camera) * self._alpha
        rejects = 100.0 * sum(self._outcomes) / len(self._outcomes) if self._outcomes else 0.0
        power = self.p["rated_kw"] * (1.0 if c.running else 0.6) + 0.05 * self.n()
        return {
            "burr_height_pct": round(self._burr, 1),
            "flatness_pct": round(self._flat, 1),
            "reject_rate_pct": round(rejects, 2),
            "camera_temp_c": round(self._camera + 0.1 * self.n(), 2),
            "power_kw": round(power, 3),
        }
