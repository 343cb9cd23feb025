"""A CNC milling machine whose parts fail by the rules of the AI4I 2020 dataset.

The AI4I 2020 predictive-maintenance data (Matzka 2020; ``shared/datasets/ai4i2020``) records
one row per machining process: air and process temperature, rotational speed, torque, tool
wear, and which failure mode struck. Its failure modes are rules on those values, and this
model applies the same rules to each simulated part when it starts:

==========================  ================================================================
``tool_wear_failure``       tool wear reaches the tool's life (drawn per tool in 200-240 min)
                            during the part: the tool fails (``twf_share`` of tools), or
                            the part completes and the tool is changed
``heat_dissipation_failure`` process - air temperature < 8.6 K and speed < 1380 rpm
``power_failure``           torque x angular speed < 3500 W or > 9000 W
``overstrain_failure``      tool wear x torque > 11000 / 12000 / 13000 min·N·m for the
                            L / M / H product variant (product index 0 / 1 / 2, modulo 3)
``random_failure``          0.1 % of parts (``random_failure_pct``), independent of the process
==========================  ================================================================

A failure strikes part-way through the part, so the seconds before it show the precursor
(low temperature difference at low speed, high torque on a worn tool...). Torque and power
are drawn per part; speed follows from them (speed = power / torque, as in AI4I, where the
two correlate at -0.88). Temperatures are published in °C (``air_temp_c``,
``process_temp_c``): AI4I's kelvin values are these plus 273.15; the temperature difference
is the same in both units. ``tool_wear_min`` is running minutes since the tool was changed.

>>> from andon.sim.chance import Draws
>>> cnc = Cnc({}, 40.0, Draws(1, 0), air_c=24.0)
>>> cnc.failure_mode(Condition(wear_min=210.0, product=0), torque=58.0, rpm=1300.0, dt=10.0)
'overstrain_failure'
>>> cnc.failure_mode(Condition(wear_min=10.0), torque=48.0, rpm=1300.0, dt=8.2)
'heat_dissipation_failure'
>>> cnc.failure_mode(Condition(wear_min=10.0), torque=40.0, rpm=1500.0, dt=10.0) is None
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import ClassVar

from andon.sim.catalog import TagSpec
from andon.sim.chance import Draws
from andon.sim.physics import Condition, Kind, Trip, lag

__all__ = ["HDF_MAX_DT_K", "HDF_MAX_RPM", "OSF_LIMITS", "PWF_RANGE_W", "Cnc"]

RAD_PER_S = 2.0 * math.pi / 60.0  # per rpm
HDF_MAX_DT_K = 8.6
HDF_MAX_RPM = 1380.0
PWF_RANGE_W = (3500.0, 9000.0)
OSF_LIMITS = (11_000.0, 12_000.0, 13_000.0)  # min·N·m for variants L, M, H
_PRODUCT_SPEED = (1.0, 1.04, 0.97)  # nominal speed factor of product variants L, M, H
_DT_RUNNING_K, _DT_STOPPED_K = 10.0, 9.0
_DEV_RHO = math.exp(-1.0 / 300.0)  # the coolant's temperature deviation, ~5 min memory


class Cnc(Kind):
    """A CNC milling machine (signals and failure modes after AI4I 2020)."""

    TAGS: ClassVar[tuple[TagSpec, ...]] = (
        TagSpec("air_temp_c", -20.0, 60.0),
        TagSpec("process_temp_c", -20.0, 80.0),
        TagSpec("spindle_speed_rpm", 0.0, 3000.0),
        TagSpec("torque_nm", 0.0, 100.0),
        TagSpec("tool_wear_min", 0.0, 300.0),
        TagSpec("power_kw", 0.0, 15.0),
    )
    DEFAULTS: ClassVar[Mapping[str, float]] = {
        "spindle_rpm": 1500.0,  # speed at nominal torque and power
        "torque_nm": 40.0,  # mean torque of a part with a new tool
        "torque_sd_nm": 6.0,  # part-to-part spread (AI4I: 10)
        "power_sd_w": 700.0,  # part-to-part spread of cutting power (AI4I: ~1070)
        "process_dt_sd_k": 0.45,  # spread of the process - air temperature difference
        "tool_life_min_low": 200.0,
        "tool_life_min_high": 240.0,
        "twf_share": 0.4,  # share of tools that fail at end of life instead of being changed
        "random_failure_pct": 0.1,
    }
    RELIABILITY: ClassVar[Mapping[str, float]] = {"mtbf_h": 500.0, "wear_life_h": 4.0}
    FAILURES: ClassVar[tuple[tuple[str, bool], ...]] = (
        ("spindle_drive_fault", False),
        ("coolant_pump_failure", False),
    )
    MICRO_STOPS: ClassVar[tuple[str, ...]] = ("chip_jam", "probe_retry", "door_open", "coolant_low")
    TOOL: ClassVar[bool] = True

    def __init__(
        self, params: Mapping[str, float], cycle_s: float, draws: Draws, air_c: float
    ) -> None:
        super().__init__(params, cycle_s, draws, air_c)
        self._torque, self._rpm = self.p["torque_nm"], self.p["spindle_rpm"]
        self._dt, self._dev = _DT_RUNNING_K, 0.0
        self._dev_kick = self.p["process_dt_sd_k"] * math.sqrt(1.0 - _DEV_RHO**2)
        self._running_lag, self._stopped_lag = lag(120.0), lag(2400.0)
        self._tool_life = 0.0
        self.renew()

    def renew(self) -> None:
        """A new tool: draw the wear at which it must be changed (or fails)."""
        low, high = self.p["tool_life_min_low"], self.p["tool_life_min_high"]
        self._tool_life = self.draws.between(low, high)

    def worn_out(self, c: Condition) -> bool:
        return c.wear_min >= self._tool_life

    def begin_part(self, c: Condition, fresh: bool) -> Trip | None:
        """Draw this part's torque and power; the failure its conditions cause, if any."""
        p, n = self.p, self.n
        variant = c.product % 3
        torque = p["torque_nm"] * (1.0 + 0.1 * min(c.wear, 1.5)) + p["torque_sd_nm"] * n()
        torque = max(torque, 5.0)
        nominal_w = p["torque_nm"] * p["spindle_rpm"] * _PRODUCT_SPEED[variant] * RAD_PER_S
        power_w = max(nominal_w + p["power_sd_w"] * n(), 300.0)
        self._torque, self._rpm = torque, power_w / (torque * RAD_PER_S)
        reason = self.failure_mode(c, self._torque, self._rpm, self._dt + self._dev)
        if reason is None:
            return None
        renew = reason in {"tool_wear_failure", "overstrain_failure"}
        return Trip(reason, self.draws.between(0.3, 0.9), renew=renew)

    def failure_mode(self, c: Condition, torque: float, rpm: float, dt: float) -> str | None:
        """The AI4I failure mode a part with these conditions meets (``None``: none)."""
        uniform = self.draws.uniform
        power_w = torque * rpm * RAD_PER_S
        reaches_life = c.wear_min + self.cycle_s / 60.0 >= self._tool_life  # during this part
        if reaches_life and uniform() < self.p["twf_share"]:
            return "tool_wear_failure"
        if dt < HDF_MAX_DT_K and rpm < HDF_MAX_RPM:
            return "heat_dissipation_failure"
        if not PWF_RANGE_W[0] <= power_w <= PWF_RANGE_W[1]:
            return "power_failure"
        if c.wear_min * torque > OSF_LIMITS[c.product % 3]:
            return "overstrain_failure"
        if uniform() * 100.0 < self.p["random_failure_pct"]:
            return "random_failure"
        return None

    def sample(self, c: Condition) -> dict[str, float]:
        n = self.n
        target, alpha = (
            (_DT_RUNNING_K, self._running_lag) if c.running else (_DT_STOPPED_K, self._stopped_lag)
        )
        self._dt += (target - self._dt) * alpha
        self._dev = _DEV_RHO * self._dev + self._dev_kick * n()
        rpm = torque = 0.0
        if c.running:
            rpm = self._rpm * (1.0 + 0.003 * n())
            torque = max(self._torque + 0.4 * n(), 0.0)
        power = torque * rpm * RAD_PER_S / 1000.0 + (1.2 if c.running else 0.3)
        return {
            "air_temp_c": round(c.air_c + 0.2 * n(), 2),
            "process_temp_c": round(c.air_c + self._dt + self._dev + 0.1 * n(), 2),
            "spindle_speed_rpm": round(rpm, 1),
            "torque_nm": round(torque, 2),
            "tool_wear_min": round(c.wear_min, 1),
            "power_kw": round(power + 0.05 * n(), 3),
        }
