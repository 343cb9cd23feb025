"""What each kind of machine measures, second by second.

A kind model keeps the slow physical states of one machine (temperatures, spindle speed,
an energy counter) and turns the machine's :class:`Condition` into one metrics message.
Values follow the state: speed and power fall to about zero when a machine stops,
temperatures relax with first-order lags, wear shows in torque, force and vibration.

>>> from andon.sim.chance import Draws
>>> press = Press(Press.DEFAULTS, 6.0, Draws(1, 0), air_c=24.0)
>>> sorted(press.sample(Condition(running=True, speed=0.9, air_c=24.0)))
['force_kn', 'oil_temp_c', 'power_kw', 'stroke_rate_spm']
>>> press.sample(Condition(running=False, state="equipment_failure"))["stroke_rate_spm"]
0.0
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Protocol

from andon.sim.chance import Draws

__all__ = ["KIND_MODELS", "Cnc", "Condition", "Furnace", "KindModel", "Packer", "Press", "Rotating"]


@dataclass(slots=True)
class Condition:
    """What a machine is doing at the sampled instant (updated in place every second)."""

    running: bool = True
    state: str = "running"
    speed: float = 1.0  # fraction of ideal speed of the part in work
    wear: float = 0.0  # 0 new .. 1 end of nominal life
    wear_min: float = 0.0  # running minutes since the tool / component was renewed
    product: int = 0  # index of the product in the line's product list
    air_c: float = 24.0


class KindModel(Protocol):
    """The physics of one kind of machine."""

    DEFAULTS: ClassVar[Mapping[str, float]]
    RELIABILITY: ClassVar[Mapping[str, float]]
    FAILURES: ClassVar[tuple[tuple[str, bool], ...]]  # (reason, caused by wear)
    MICRO_STOPS: ClassVar[tuple[str, ...]]
    TOOL: ClassVar[bool]  # wear is a cutting tool, replaced with a tool_change event

    def sample(self, c: Condition) -> dict[str, float]:
        """The metrics values of this second."""
        ...


def _lag(tau_s: float) -> float:
    """Per-second weight of a first-order lag with time constant ``tau_s``."""
    return 1.0 - math.exp(-1.0 / tau_s)


class Cnc:
    """A CNC milling machine (signals after the AI4I 2020 predictive-maintenance data)."""

    DEFAULTS: ClassVar[Mapping[str, float]] = {"spindle_rpm": 1500.0, "torque_nm": 40.0}
    RELIABILITY: ClassVar[Mapping[str, float]] = {"mtbf_h": 4.0, "wear_life_h": 4.0}
    FAILURES: ClassVar[tuple[tuple[str, bool], ...]] = (
        ("tool_wear_failure", True),
        ("overstrain_failure", True),
        ("heat_dissipation_failure", False),
        ("power_failure", False),
    )
    MICRO_STOPS: ClassVar[tuple[str, ...]] = ("chip_jam", "probe_retry", "door_open", "coolant_low")
    TOOL: ClassVar[bool] = True

    def __init__(self, params: Mapping[str, float], cycle_s: float, draws: Draws, air_c: float):
        self._n = draws.normal
        self._rpm = params.get("spindle_rpm", self.DEFAULTS["spindle_rpm"])
        self._torque = params.get("torque_nm", self.DEFAULTS["torque_nm"])
        self._process = air_c + 8.0
        self._alpha = _lag(300.0)

    def sample(self, c: Condition) -> dict[str, float]:
        n = self._n
        air = c.air_c + 0.2 * n()
        self._process += (air + (10.0 if c.running else 2.0) - self._process) * self._alpha
        rpm = torque = 0.0
        if c.running:
            rpm = self._rpm * (0.9 + 0.1 * (c.product % 3)) * (1.0 + 0.01 * n())
            torque = self._torque * (self._rpm / rpm) * (1.0 + 0.15 * c.wear) + 1.5 * n()
        power = torque * rpm * (2.0 * math.pi / 60_000.0) + (1.2 if c.running else 0.3)
        return {
            "air_temp_c": round(air, 2),
            "process_temp_c": round(self._process + 0.1 * n(), 2),
            "spindle_speed_rpm": round(rpm, 1),
            "torque_nm": round(max(torque, 0.0), 2),
            "tool_wear_min": round(c.wear_min, 1),
            "power_kw": round(power + 0.05 * n(), 3),
        }


class Rotating:
    """A motor-driven rotating machine (pump, washer drum, grinder spindle)."""

    DEFAULTS: ClassVar[Mapping[str, float]] = {
        "rated_rpm": 2950.0,
        "rated_kw": 15.0,
        "vibration_mm_s": 1.8,
    }
    RELIABILITY: ClassVar[Mapping[str, float]] = {"mtbf_h": 3.5, "wear_life_h": 50.0}
    FAILURES: ClassVar[tuple[tuple[str, bool], ...]] = (
        ("bearing_failure", True),
        ("seal_leak", True),
        ("motor_overload", False),
        ("coupling_failure", False),
    )
    MICRO_STOPS: ClassVar[tuple[str, ...]] = ("dry_run_trip", "filter_clog", "level_switch")
    TOOL: ClassVar[bool] = False

    def __init__(self, params: Mapping[str, float], cycle_s: float, draws: Draws, air_c: float):
        self._n = draws.normal
        self._rated = params.get("rated_rpm", self.DEFAULTS["rated_rpm"])
        self._kw = params.get("rated_kw", self.DEFAULTS["rated_kw"])
        self._vib = params.get("vibration_mm_s", self.DEFAULTS["vibration_mm_s"])
        self._rpm = self._rated
        self._bearing = air_c + 25.0
        self._alpha = _lag(900.0)

    def sample(self, c: Condition) -> dict[str, float]:
        n = self._n
        if c.running:  # spins up within a few seconds, coasts down when stopped
            self._rpm += (self._rated * (1.0 + 0.002 * n()) - self._rpm) * 0.7
        else:
            self._rpm *= 0.35
        ratio = self._rpm / self._rated
        self._bearing += (c.air_c + (25.0 + 15.0 * c.wear) * ratio - self._bearing) * self._alpha
        vibration = (self._vib + 6.0 * c.wear**2 + 0.15 * n()) * ratio
        power = self._kw * ratio**3 * (1.0 + 0.15 * c.wear) + 0.1 * n() * ratio
        return {
            "vibration_rms_mm_s": round(max(vibration, 0.02), 3),
            "bearing_temp_c": round(self._bearing + 0.2 * n(), 2),
            "speed_rpm": round(self._rpm, 1),
            "power_kw": round(max(power, 0.0), 3),
        }


class Furnace:
    """A three-zone continuous heat-treatment furnace; it keeps heating through short stops."""

    DEFAULTS: ClassVar[Mapping[str, float]] = {
        "zone1_c": 850.0,
        "zone2_c": 900.0,
        "zone3_c": 875.0,
        "holding_kw": 60.0,
        "max_kw": 250.0,
        "energy_kwh": 125_000.0,
    }
    RELIABILITY: ClassVar[Mapping[str, float]] = {"mtbf_h": 4.0, "wear_life_h": 80.0}
    FAILURES: ClassVar[tuple[tuple[str, bool], ...]] = (
        ("heating_element_failure", True),
        ("thermocouple_fault", False),
        ("conveyor_drive_fault", False),
    )
    MICRO_STOPS: ClassVar[tuple[str, ...]] = ("tray_misaligned", "door_sensor", "conveyor_slip")
    TOOL: ClassVar[bool] = False

    def __init__(self, params: Mapping[str, float], cycle_s: float, draws: Draws, air_c: float):
        self._n = draws.normal
        p = {**self.DEFAULTS, **params}
        self._setpoints = (p["zone1_c"], p["zone2_c"], p["zone3_c"])
        self._zones = list(self._setpoints)
        self._holding, self._max_kw = p["holding_kw"], p["max_kw"]
        self._energy = p["energy_kwh"]
        self._heat, self._cool = _lag(600.0), _lag(3600.0)

    def sample(self, c: Condition) -> dict[str, float]:
        n = self._n
        heating = c.state != "equipment_failure"
        zones, deficit = self._zones, 0.0
        for i, setpoint in enumerate(self._setpoints):
            target, alpha = (setpoint, self._heat) if heating else (c.air_c, self._cool)
            zones[i] += (target - zones[i]) * alpha + 0.3 * n()
            deficit += max(setpoint - zones[i], 0.0)
        power = 3.0 + 0.2 * n()  # circulation fans only
        if heating:
            load = 25.0 if c.running else 0.0
            power = min(self._max_kw, self._holding * (1 + 0.25 * c.wear) + load + 2.0 * deficit)
            power += 1.5 * n()
        self._energy += power / 3600.0
        return {
            "zone1_temp_c": round(zones[0], 1),
            "zone2_temp_c": round(zones[1], 1),
            "zone3_temp_c": round(zones[2], 1),
            "power_kw": round(power, 2),
            "energy_kwh": round(self._energy, 3),
        }


class Press:
    """A hydraulic stamping press."""

    DEFAULTS: ClassVar[Mapping[str, float]] = {"force_kn": 800.0, "rated_kw": 30.0}
    RELIABILITY: ClassVar[Mapping[str, float]] = {"mtbf_h": 3.5, "wear_life_h": 40.0}
    FAILURES: ClassVar[tuple[tuple[str, bool], ...]] = (
        ("die_crack", True),
        ("hydraulic_leak", True),
        ("clutch_fault", False),
        ("feeder_fault", False),
    )
    MICRO_STOPS: ClassVar[tuple[str, ...]] = ("misfeed", "double_blank", "light_curtain")
    TOOL: ClassVar[bool] = False

    def __init__(self, params: Mapping[str, float], cycle_s: float, draws: Draws, air_c: float):
        self._n = draws.normal
        self._force = params.get("force_kn", self.DEFAULTS["force_kn"])
        self._kw = params.get("rated_kw", self.DEFAULTS["rated_kw"])
        self._spm = 60.0 / cycle_s
        self._oil = air_c + 20.0
        self._alpha = _lag(1200.0)

    def sample(self, c: Condition) -> dict[str, float]:
        n = self._n
        self._oil += (c.air_c + (22.0 if c.running else 8.0) - self._oil) * self._alpha
        spm = force = 0.0
        power = 4.0 if c.state == "micro_stop" else 0.3  # pump idles through short stops
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


class Packer:
    """A flow-wrap packing machine with a heated sealing jaw."""

    DEFAULTS: ClassVar[Mapping[str, float]] = {"seal_c": 160.0, "tension_n": 45.0, "rated_kw": 4.5}
    RELIABILITY: ClassVar[Mapping[str, float]] = {"mtbf_h": 3.5, "micro_stop_every_min": 8.0}
    FAILURES: ClassVar[tuple[tuple[str, bool], ...]] = (
        ("sealing_jaw_wear", True),
        ("film_break", False),
        ("servo_fault", False),
    )
    MICRO_STOPS: ClassVar[tuple[str, ...]] = ("film_splice", "carton_jam", "photo_eye")
    TOOL: ClassVar[bool] = False

    def __init__(self, params: Mapping[str, float], cycle_s: float, draws: Draws, air_c: float):
        self._n = draws.normal
        p = {**self.DEFAULTS, **params}
        self._seal_set, self._tension, self._kw = p["seal_c"], p["tension_n"], p["rated_kw"]
        self._ppm = 60.0 / cycle_s
        self._seal = self._seal_set
        self._heat, self._cool = _lag(120.0), _lag(900.0)

    def sample(self, c: Condition) -> dict[str, float]:
        n = self._n
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


KIND_MODELS: dict[str, type[Cnc | Rotating | Furnace | Press | Packer]] = {
    "cnc": Cnc,
    "rotating": Rotating,
    "furnace": Furnace,
    "press": Press,
    "packer": Packer,
}
