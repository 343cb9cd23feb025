"""How machines wear, fail, stop briefly, change over and make scrap.

Every machine carries a hidden wear level (0 when new; 1 at the end of its nominal life:
tool life for a CNC mill, bearing or die life elsewhere). Wear raises the failure hazard,
slows the machine a little and raises scrap; ambient humidity raises scrap too. A machine
with ``maintenance_at`` set gets planned maintenance (state ``planned_maintenance``) once its
wear reaches that level, which renews the worn part before it fails. The
parameters below are the defaults; a machine kind overrides some, and a scenario's
``params:`` override any of them per machine.

>>> rel = Reliability.from_params(RELIABILITY_DEFAULTS)
>>> round(1 / rel.hazard(0.0) / 3_600_000, 2)  # mean running hours between failures when new
10.0
>>> round(rel.hazard(1.0) / rel.hazard(0.0), 1)  # a worn machine fails 9 times as often
9.0
>>> rel.hazard(0.5) == 1 / rel.mtbf_ms
True
>>> rel.scrap_probability(0.0, 55.0) < rel.scrap_probability(0.0, 75.0)
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from andon.errors import ConfigError

__all__ = ["RELIABILITY_DEFAULTS", "Reliability"]

RELIABILITY_DEFAULTS: dict[str, float] = {
    "mtbf_h": 5.0,  # mean running hours between failures at half wear
    "repair_min_low": 5.0,
    "repair_min_high": 30.0,
    "micro_stop_every_min": 12.0,  # mean running minutes between micro-stops
    "micro_stop_s_low": 10.0,
    "micro_stop_s_high": 90.0,
    "changeover_min_low": 10.0,
    "changeover_min_high": 20.0,
    "tool_change_min_low": 3.0,
    "tool_change_min_high": 6.0,
    "tool_change_at": 0.5,  # wear above which a tool is replaced during a changeover
    "speed_low": 0.85,  # fraction of ideal speed, per part
    "speed_high": 0.97,
    "scrap_rate": 0.015,  # at 55 % relative humidity and no wear
    "wear_life_h": 40.0,  # running hours to reach wear 1
    "wait_grace_cycles": 2.0,  # shorter waits for a neighbour are reported as running
    "maintenance_at": 0.0,  # wear at which planned maintenance renews it (0: run to failure)
    "maintenance_min_low": 30.0,
    "maintenance_min_high": 60.0,
}

_MS_PER = {"h": 3_600_000.0, "min": 60_000.0, "s": 1000.0}
_HUMIDITY_REF = 55.0
_HUMIDITY_SCALE = 15.0


@dataclass(frozen=True, slots=True)
class Reliability:
    """A machine's loss behaviour, durations in milliseconds."""

    mtbf_ms: float
    repair_ms: tuple[float, float]
    micro_every_ms: float
    micro_ms: tuple[float, float]
    changeover_ms: tuple[float, float]
    tool_change_ms: tuple[float, float]
    tool_change_at: float
    speed: tuple[float, float]
    scrap_rate: float
    life_ms: float
    wait_grace_cycles: float
    maintenance_at: float
    maintenance_ms: tuple[float, float]

    @classmethod
    def from_params(cls, params: Mapping[str, float]) -> Reliability:
        """Build from scenario parameters; raises :class:`ConfigError` on impossible values."""
        p = {**RELIABILITY_DEFAULTS, **params}
        for key in ("mtbf_h", "micro_stop_every_min", "wear_life_h", "speed_low"):
            if p[key] <= 0:
                raise ConfigError(f"{key} must be positive, got {p[key]}")
        if p["maintenance_at"] < 0:
            raise ConfigError(f"maintenance_at must not be negative, got {p['maintenance_at']}")
        if not 0 <= p["scrap_rate"] < 1:
            raise ConfigError(f"scrap_rate must be in [0, 1), got {p['scrap_rate']}")
        return cls(
            mtbf_ms=p["mtbf_h"] * _MS_PER["h"],
            repair_ms=_span(p, "repair", "min"),
            micro_every_ms=p["micro_stop_every_min"] * _MS_PER["min"],
            micro_ms=_span(p, "micro_stop", "s"),
            changeover_ms=_span(p, "changeover", "min"),
            tool_change_ms=_span(p, "tool_change", "min"),
            tool_change_at=p["tool_change_at"],
            speed=(p["speed_low"], p["speed_high"]),
            scrap_rate=p["scrap_rate"],
            life_ms=p["wear_life_h"] * _MS_PER["h"],
            wait_grace_cycles=p["wait_grace_cycles"],
            maintenance_at=p["maintenance_at"],
            maintenance_ms=_span(p, "maintenance", "min"),
        )

    def hazard(self, wear: float) -> float:
        """Failure rate per running millisecond at ``wear`` (rises steeply past wear 1)."""
        wear = min(wear, 3.0)
        return (0.5 + 4.0 * wear**3) / self.mtbf_ms

    def scrap_probability(self, wear: float, humidity_pct: float) -> float:
        """Chance that a completed part is scrap."""
        humid = math.exp((humidity_pct - _HUMIDITY_REF) / _HUMIDITY_SCALE)
        return min(0.5, self.scrap_rate * humid * (1.0 + 2.0 * min(wear, 2.0) ** 2))

    def slowdown(self, wear: float) -> float:
        """Speed factor lost to wear (a worn tool or die runs a little slower)."""
        return 1.0 - 0.04 * min(wear, 1.5)


def _span(params: Mapping[str, float], name: str, unit: str) -> tuple[float, float]:
    low, high = params[f"{name}_{unit}_low"], params[f"{name}_{unit}_high"]
    if not 0 <= low <= high:
        raise ConfigError(f"{name}_{unit}_low/high must satisfy 0 <= low <= high")
    return low * _MS_PER[unit], high * _MS_PER[unit]
