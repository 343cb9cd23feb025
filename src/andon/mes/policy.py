"""The OEE policy: which state codes are planned, producing, stops, and which loss they are.

Every choice ISO 22400-2 leaves to the plant is a field here, with a documented default:

- ``planned`` (break, no shift, no order, planned maintenance) is planned downtime: it is
  taken out of the planned busy time (PBT).
- ``producing`` (running, reduced speed) is actual production time (APT).
- Everything else is a **stop**, unknown codes included. Stops are availability losses,
  except micro-stops: the explicit micro-stop code (category 50000) and every stop that ended
  within ``micro_stop_threshold_s`` (default 120 s). Micro-stops are a performance loss by
  default (``micro_stop_is_performance_loss``): their time stays in APT.
- ``unknown_backfill_s`` (default 900 s): an unknown stop (category 30000) that lasted at most
  this long and is followed directly by another stop takes that stop's code and reason: the
  operator or machine gave the reason a little late.
- Loss categories of the six-big-losses waterfall: ``breakdown`` (equipment failure) and
  ``setup`` (changeover, cleaning); every other availability loss is "other stops".

The plant sets them in ``andon.yaml`` (``oee:``, :class:`~andon.config.OeeSettings`, turned
into a policy by :func:`policy_from_settings`); the defaults of both are the same.

Codes in these sets may be categories (``180000``) or exact sub-codes (``180012``); a listed
sub-code wins over its category.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from andon.config import OeeSettings
from andon.errors import ConfigError
from andon.signals import state_category, state_code

__all__ = [
    "DEFAULT_BREAKDOWN",
    "DEFAULT_PLANNED",
    "DEFAULT_POLICY",
    "DEFAULT_PRODUCING",
    "DEFAULT_SETUP",
    "MICRO_STOP",
    "UNKNOWN_STOP",
    "Loss",
    "OeePolicy",
    "StateClass",
    "policy_from_settings",
]

StateClass = Literal["planned", "producing", "downtime"]
Loss = Literal["breakdown", "setup", "other"]

DEFAULT_PLANNED: frozenset[int] = frozenset(
    state_code(name) for name in ("break", "no_shift", "no_order", "planned_maintenance")
)
DEFAULT_PRODUCING: frozenset[int] = frozenset(
    state_code(name) for name in ("running", "reduced_speed")
)
DEFAULT_BREAKDOWN: frozenset[int] = frozenset({state_code("equipment_failure")})
DEFAULT_SETUP: frozenset[int] = frozenset(state_code(n) for n in ("changeover", "cleaning"))
MICRO_STOP: int = state_code("micro_stop")
UNKNOWN_STOP: int = state_code("unknown_stop")


def _member(code: int, codes: frozenset[int]) -> bool:
    return code in codes or state_category(code) in codes


@dataclass(frozen=True, slots=True)
class OeePolicy:
    """Which state codes are planned downtime, production time or availability loss.

    >>> policy = OeePolicy()
    >>> policy.classify(150000), policy.classify(20007), policy.classify(180012)
    ('planned', 'producing', 'downtime')
    >>> policy.classify(50000), OeePolicy(micro_stop_is_performance_loss=False).classify(50000)
    ('producing', 'downtime')
    >>> policy.loss(180012), policy.loss(100000), policy.loss(60000)
    ('breakdown', 'setup', 'other')
    >>> policy.lookaround_ms
    900000
    """

    planned: frozenset[int] = DEFAULT_PLANNED
    producing: frozenset[int] = DEFAULT_PRODUCING
    micro_stop_is_performance_loss: bool = True
    micro_stop_threshold_s: float = 120.0
    unknown_backfill_s: float = 900.0
    breakdown: frozenset[int] = DEFAULT_BREAKDOWN
    setup: frozenset[int] = DEFAULT_SETUP

    def __post_init__(self) -> None:
        both = self.planned & self.producing
        if both:
            raise ConfigError(f"state codes {sorted(both)} are both planned and producing")
        micro = {c for c in self.planned | self.producing if state_category(c) == MICRO_STOP}
        if micro:
            raise ConfigError(
                f"micro-stop codes {sorted(micro)} are set by micro_stop_is_performance_loss"
            )
        for name in ("micro_stop_threshold_s", "unknown_backfill_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0 <= value <= 86_400):
                raise ConfigError(f"{name} must be within 0..86400 s, got {value}")
        overlap = (self.breakdown & self.setup) | ((self.breakdown | self.setup) & self.planned)
        if overlap:
            raise ConfigError(f"loss codes {sorted(overlap)} are listed twice")

    def classify(self, code: int) -> StateClass:
        """The class of a state code: ``"planned"``, ``"producing"`` or ``"downtime"``."""
        for key in (code, state_category(code)):
            if key in self.planned:
                return "planned"
            if key in self.producing:
                return "producing"
        if state_category(code) == MICRO_STOP and self.micro_stop_is_performance_loss:
            return "producing"
        return "downtime"

    def is_stop(self, code: int) -> bool:
        """True for codes that stop the machine unplanned (micro-stops included)."""
        return state_category(code) == MICRO_STOP or self.classify(code) == "downtime"

    def loss(self, code: int) -> Loss:
        """The availability-loss category of a stop code for the loss waterfall."""
        if _member(code, self.breakdown):
            return "breakdown"
        if _member(code, self.setup):
            return "setup"
        return "other"

    @property
    def micro_ms(self) -> int:
        return round(self.micro_stop_threshold_s * 1000)

    @property
    def backfill_ms(self) -> int:
        return round(self.unknown_backfill_s * 1000)

    @property
    def lookaround_ms(self) -> int:
        """How far beyond a window the timeline must be known to classify its stops exactly."""
        return max(self.micro_ms, self.backfill_ms)


DEFAULT_POLICY = OeePolicy()


def policy_from_settings(settings: OeeSettings) -> OeePolicy:
    """The policy the ``oee:`` section of ``andon.yaml`` describes.

    Raises :class:`~andon.errors.ConfigError` for contradictory sets (a state both planned
    and producing, a loss code also planned).

    >>> policy_from_settings(OeeSettings()) == DEFAULT_POLICY
    True
    >>> custom = policy_from_settings(OeeSettings(planned=["break", 130000]))
    >>> custom.classify(130000), custom.classify(160000)
    ('planned', 'downtime')
    """
    return OeePolicy(
        planned=settings.codes("planned"),
        producing=settings.codes("producing"),
        micro_stop_is_performance_loss=settings.micro_stops_in_performance,
        micro_stop_threshold_s=settings.micro_stop_threshold_s,
        unknown_backfill_s=settings.unknown_backfill_s,
        breakdown=settings.codes("breakdown"),
        setup=settings.codes("setup"),
    )
