"""The six-big-losses time waterfall: where the planned operation time of a window went.

From the planned operation time (POT) down to the fully productive time, in seconds:

============================  ============  ====================================================
bar                           group         time
============================  ============  ====================================================
``planned_downtime``          planned       breaks, no shift, no order, planned maintenance
``no_data``                   no_data       before the machine's first known state
``breakdowns``                availability  equipment failure (policy ``breakdown``)
``setup_adjustments``         availability  changeover, cleaning (policy ``setup``)
``other_stops``               availability  every other stop: idle, starved, blocked, unknown...
``minor_stops``               performance   micro-stops (``availability`` when the policy says)
``speed_loss``                performance   APT - minor stops - ideal time of all parts made
``quality_loss``              quality       ideal time of the scrapped parts
``fully_productive``          value         ideal time of the good parts
============================  ============  ====================================================

The bars add up to the POT. Without an ideal cycle time the last three are ``None``: the
split of the remaining production time is unknown. ``speed_loss`` is negative when parts came
faster than the ideal cycle time allows, which says the ideal cycle time is wrong.

>>> bars = waterfall(3600.0, 600.0, 0.0, 300.0, 120.0, 60.0, 30.0, True, 2400.0, 2300.0)
>>> [(b.loss, b.seconds) for b in bars]  # doctest: +NORMALIZE_WHITESPACE
[('planned_downtime', 600.0), ('no_data', 0.0), ('breakdowns', 120.0),
 ('setup_adjustments', 60.0), ('other_stops', 120.0), ('minor_stops', 30.0),
 ('speed_loss', 270.0), ('quality_loss', 100.0), ('fully_productive', 2300.0)]
>>> math.fsum(b.seconds for b in bars)
3600.0
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["LossBar", "waterfall"]


@dataclass(frozen=True, slots=True)
class LossBar:
    """One bar of the waterfall: ``seconds`` of ``loss``, in a ``group`` of OEE."""

    loss: str
    group: str
    seconds: float | None

    def to_dict(self) -> dict[str, object]:
        return {"loss": self.loss, "group": self.group, "seconds": self.seconds}


def _ms(seconds: float) -> float:
    return round(seconds, 3)


def waterfall(
    pot_s: float,
    planned_s: float,
    no_data_s: float,
    downtime_s: float,
    breakdown_s: float,
    setup_s: float,
    micro_s: float,
    micro_in_apt: bool,
    ideal_s: float | None,
    ideal_good_s: float | None,
) -> tuple[LossBar, ...]:
    """The bars for one result's sums (see the module docstring)."""
    minor_group = "performance" if micro_in_apt else "availability"
    other_s = downtime_s - breakdown_s - setup_s - (0.0 if micro_in_apt else micro_s)
    apt_s = pot_s - planned_s - no_data_s - downtime_s
    net_s = apt_s - (micro_s if micro_in_apt else 0.0)
    speed = None if ideal_s is None else _ms(net_s - ideal_s)
    quality = None if ideal_s is None or ideal_good_s is None else _ms(ideal_s - ideal_good_s)
    return (
        LossBar("planned_downtime", "planned", planned_s),
        LossBar("no_data", "no_data", no_data_s),
        LossBar("breakdowns", "availability", breakdown_s),
        LossBar("setup_adjustments", "availability", setup_s),
        LossBar("other_stops", "availability", _ms(other_s)),
        LossBar("minor_stops", minor_group, micro_s),
        LossBar("speed_loss", "performance", speed),
        LossBar("quality_loss", "quality", quality),
        LossBar("fully_productive", "value", ideal_good_s),
    )


def total(bars: tuple[LossBar, ...]) -> float | None:
    """Sum of the bars, ``None`` when one is unknown."""
    seconds = [bar.seconds for bar in bars]
    if any(s is None for s in seconds):
        return None
    return math.fsum(s for s in seconds if s is not None)
