"""What the virtual plant publishes: every asset with its tags, units and ranges.

Protocol servers need the address space before the first value arrives: an OPC UA server
builds its folders, a Modbus server lays out its registers, a Sparkplug node announces its
births. The catalog lists each asset (machines, and the plant's ambient station) with the
tags its kind measures; a tag's unit is the one its name's suffix declares
(:func:`andon.namespace.unit_of`) and its range is the span a healthy or failing machine can
show (for OPC UA's ``EURange`` and Modbus scaling).

>>> tag = TagSpec("spindle_speed_rpm", 0.0, 3000.0)
>>> tag.unit, tag.scale
('rpm', 10)
>>> TagSpec("energy_kwh", 0.0, 10_000_000.0).scale
1
"""

from __future__ import annotations

from dataclasses import dataclass

from andon.namespace import unit_of

__all__ = ["AMBIENT_TAGS", "COUNTERS", "PlantAsset", "TagSpec"]

_INT16_MAX = 32767


@dataclass(frozen=True, slots=True)
class TagSpec:
    """One measured tag: its name (ending in its unit) and the range of its values."""

    name: str
    low: float
    high: float

    @property
    def unit(self) -> str | None:
        """The engineering unit the name's suffix declares (``None``: dimensionless)."""
        return unit_of(self.name)

    @property
    def scale(self) -> int:
        """The largest of 100, 10 and 1 that fits the whole range into a signed 16-bit int."""
        bound = max(abs(self.low), abs(self.high))
        for scale in (100, 10):
            if bound * scale <= _INT16_MAX:
                return scale
        return 1


AMBIENT_TAGS: tuple[TagSpec, ...] = (
    TagSpec("humidity_pct", 0.0, 100.0),
    TagSpec("air_temp_c", -20.0, 60.0),
)
"""What the plant's ambient station measures."""

COUNTERS: tuple[str, ...] = ("total", "good", "scrap")
"""A machine's non-resetting part totals (the ``count`` channel)."""


@dataclass(frozen=True, slots=True)
class PlantAsset:
    """An asset that publishes: a machine (``kind`` as in the scenario) or ``"ambient"``."""

    path: str
    kind: str
    tags: tuple[TagSpec, ...]

    @property
    def is_machine(self) -> bool:
        """Machines also publish states, part totals and events; the ambient station does not."""
        return self.kind != "ambient"
