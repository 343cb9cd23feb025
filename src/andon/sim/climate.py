"""The plant's ambient climate: air temperature and (hidden) relative humidity.

Both follow a daily sinusoid in local time plus a slow random drift. Air temperature shows
up in the machines' temperature signals; humidity is not published by any machine but
raises scrap, so root-cause analysis has a real, hidden factor to find.

>>> from andon.sim.chance import Draws
>>> from andon.sim.scenario import AmbientSpec
>>> climate = Ambient(AmbientSpec(humidity_pct=(55.0, 12.0), air_temp_c=(24.0, 3.0)), Draws(1, 9))
>>> climate.update(15 * 3_600_000)  # 15:00, the warm and dry time of day
>>> 25.0 < climate.air_c < 29.0, 35.0 < climate.humidity_pct < 55.0
(True, True)
"""

from __future__ import annotations

import math

from andon.sim.chance import Draws
from andon.sim.scenario import AmbientSpec

__all__ = ["Ambient"]

_DAY_MS = 86_400_000
_HOUR_MS = 3_600_000
_WARMEST_H = 15.0
_MOISTEST_H = 5.0


class Ambient:
    """Plant-level ambient conditions, advanced once per simulated second."""

    __slots__ = ("_draws", "_drift", "_offset_ms", "_spec", "air_c", "humidity_pct")

    def __init__(self, spec: AmbientSpec, draws: Draws, utc_offset_ms: int = 0) -> None:
        self._spec = spec
        self._draws = draws
        self._offset_ms = utc_offset_ms
        self._drift = 0.0
        self.air_c = spec.air_temp_c[0]
        self.humidity_pct = spec.humidity_pct[0]

    def update(self, ts_ms: int) -> None:
        """Advance the climate to ``ts_ms`` (one simulated second after the last update)."""
        hour = ((ts_ms + self._offset_ms) % _DAY_MS) / _HOUR_MS
        # An AR(1) drift with a ~1 h memory and a few percent of spread.
        self._drift = 0.9997 * self._drift + 0.06 * self._draws.normal()
        temp_mean, temp_amp = self._spec.air_temp_c
        hum_mean, hum_amp = self._spec.humidity_pct
        self.air_c = temp_mean + temp_amp * math.cos((hour - _WARMEST_H) * math.pi / 12.0)
        humidity = hum_mean + hum_amp * math.cos((hour - _MOISTEST_H) * math.pi / 12.0)
        self.humidity_pct = min(100.0, max(5.0, humidity + self._drift))
