"""The contract of a machine kind's physics, and what it is told every second.

A kind model keeps the slow physical states of one machine (temperatures, spindle speed,
an energy counter, a bearing's degradation) and turns the machine's :class:`Condition` into
one metrics message per second. Values follow the state: speed and power fall to about zero
when a machine stops, temperatures relax with first-order lags, wear shows in torque, force
and vibration.

A kind may also decide, when a part starts, that the process conditions of this part meet
one of its failure modes (:meth:`Kind.begin_part` returns a :class:`Trip`): that is how a CNC
mill fails by the rules of the AI4I 2020 data, and a bearing at the end of its life fails.
The machine (``machines.py``) owns time, states and counts; the kind owns the physics.

>>> from andon.sim.chance import Draws
>>> from andon.sim.kinds import KIND_MODELS
>>> press = KIND_MODELS["press"]({}, 6.0, Draws(1, 0), air_c=24.0)
>>> sorted(press.sample(Condition(running=True, speed=0.9, air_c=24.0)))
['force_kn', 'oil_temp_c', 'power_kw', 'stroke_rate_spm']
>>> press.sample(Condition(running=False, state="equipment_failure"))["stroke_rate_spm"]
0.0
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from andon.sim.catalog import TagSpec
from andon.sim.chance import Draws

__all__ = ["Condition", "Kind", "Trip", "lag"]


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
    parts: int = 0  # parts completed so far (good and scrap)
    last_scrap: bool = False  # the last completed part was scrap


@dataclass(frozen=True, slots=True)
class Trip:
    """A stop that the part just started will cause, and when.

    ``at`` is the fraction of the part's work done when it strikes; ``renew`` says the repair
    replaces the worn tool or component; ``minutes`` overrides the machine's repair times.
    """

    reason: str
    at: float
    renew: bool = False
    state: str = "equipment_failure"
    minutes: tuple[float, float] | None = None


def lag(tau_s: float) -> float:
    """Per-second weight of a first-order lag with time constant ``tau_s``."""
    return 1.0 - math.exp(-1.0 / tau_s)


class Kind:
    """Base of every kind model: the defaults and the hooks a simple machine leaves alone.

    ``params`` are the scenario's machine parameters over :attr:`DEFAULTS`; ``cycle_s`` the
    ideal cycle time; ``draws`` the machine's own random stream; ``air_c`` the air
    temperature at the start.
    """

    TAGS: ClassVar[tuple[TagSpec, ...]] = ()
    DEFAULTS: ClassVar[Mapping[str, float]] = {}
    RELIABILITY: ClassVar[Mapping[str, float]] = {}
    FAILURES: ClassVar[tuple[tuple[str, bool], ...]] = (("unknown_fault", False),)
    MICRO_STOPS: ClassVar[tuple[str, ...]] = ("unknown",)
    TOOL: ClassVar[bool] = False  # wear is a cutting tool, replaced with a tool_change event

    def __init__(
        self, params: Mapping[str, float], cycle_s: float, draws: Draws, air_c: float
    ) -> None:
        self.p: dict[str, float] = {**self.DEFAULTS, **params}
        self.cycle_s = cycle_s
        self.draws = draws
        self.n = draws.normal

    def sample(self, c: Condition) -> dict[str, float]:
        """The metrics values of this second."""
        raise NotImplementedError

    def begin_part(self, c: Condition, fresh: bool) -> Trip | None:
        """A part starts (``fresh``) or resumes after a trip: the stop it will cause, if any."""
        return None

    def worn_out(self, c: Condition) -> bool:
        """After a part: must the tool be changed now (a planned tool change)?"""
        return self.TOOL and c.wear >= 1.0

    def renew(self) -> None:
        """The worn tool or component was replaced (wear restarts from zero)."""
