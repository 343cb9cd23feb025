"""The shared vocabulary of andon: records that flow from connectors to consumers.

No I/O here. Timestamps are epoch milliseconds UTC (``ts_ms``); asset paths are ISA-95 paths
such as ``acme/plant1/machining/line1/cnc1`` (see :mod:`andon.namespace`).

State codes follow a two-level taxonomy (category = ``code // 10000``):

>>> STATE_NAMES[180000]
'equipment_failure'
>>> state_code("micro_stop")
50000
>>> state_category(180123)
180000
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

__all__ = [
    "STATE_CODES",
    "STATE_NAMES",
    "CountUpdate",
    "Event",
    "Metrics",
    "Record",
    "RecordStream",
    "Rejected",
    "Sample",
    "StateChange",
    "parse_ts",
    "state_category",
    "state_code",
]

STATE_CODES: dict[str, int] = {
    "running": 10000,
    "reduced_speed": 20000,
    "unknown_stop": 30000,
    "idle": 40000,
    "micro_stop": 50000,
    "starved": 60000,
    "blocked": 70000,
    "material": 90000,
    "changeover": 100000,
    "cleaning": 110000,
    "no_operator": 140000,
    "break": 150000,
    "no_shift": 160000,
    "no_order": 170000,
    "equipment_failure": 180000,
    "external_failure": 190000,
    "planned_maintenance": 210000,
}
STATE_NAMES: dict[int, str] = {code: name for name, code in STATE_CODES.items()}


def state_code(name: str) -> int:
    """The category code of a state name; raises ``KeyError`` for unknown names."""
    return STATE_CODES[name]


def state_category(code: int) -> int:
    """The first-level category of a (possibly sub-coded) state code."""
    return code // 10000 * 10000


_MIN_TS_MS = 946_684_800_000  # 2000-01-01: older stamps are clock faults, not data
_MAX_TS_MS = 4_102_444_800_000  # 2100-01-01


def parse_ts(value: object) -> int:
    """Epoch milliseconds UTC from epoch ms (int/float) or an ISO-8601 string.

    Naive ISO strings are taken as UTC. Raises ``ValueError`` with a readable reason.

    >>> parse_ts(1763700000123)
    1763700000123
    >>> parse_ts("2025-11-21T04:40:00.123Z")
    1763700000123
    >>> parse_ts("2025-11-21T05:40:00.123+01:00")
    1763700000123
    """
    if isinstance(value, bool):
        raise ValueError("timestamp must be epoch milliseconds or ISO-8601, not a boolean")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError("timestamp is not finite")
        ms = int(value)
    elif isinstance(value, str):
        ms = _parse_iso(value)
    else:
        raise ValueError(f"timestamp must be epoch ms or ISO-8601, not {type(value).__name__}")
    if not _MIN_TS_MS <= ms < _MAX_TS_MS:
        raise ValueError(f"timestamp {value!r} is outside 2000..2100 (epoch ms expected)")
    return ms


def _parse_iso(text: str) -> int:
    stripped = text.strip()
    if stripped.lstrip("-").isdigit():
        return int(stripped)
    try:
        moment = datetime.fromisoformat(stripped)
    except ValueError as exc:
        raise ValueError(f"timestamp {text!r} is not ISO-8601") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return round(moment.timestamp() * 1000)


@dataclass(frozen=True, slots=True)
class Sample:
    """One value of one tag at one instant."""

    asset: str
    tag: str
    ts_ms: int
    value: float
    seq: int | None = None


@dataclass(frozen=True, slots=True)
class Metrics:
    """Several tag values of one asset sampled at the same instant (one metrics message)."""

    asset: str
    ts_ms: int
    values: dict[str, float]
    seq: int | None = None


@dataclass(frozen=True, slots=True)
class StateChange:
    """The asset entered state ``code`` at ``ts_ms``; it holds until the next change."""

    asset: str
    ts_ms: int
    code: int
    reason: str | None = None
    seq: int | None = None


@dataclass(frozen=True, slots=True)
class CountUpdate:
    """Non-resetting machine totals (PackML AccCount style) read at ``ts_ms``."""

    asset: str
    ts_ms: int
    total: int
    good: int
    scrap: int
    seq: int | None = None


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened at an asset (tool change, order start, ...)."""

    asset: str
    ts_ms: int
    kind: str
    data: dict[str, Any] = field(default_factory=dict)
    seq: int | None = None


@dataclass(frozen=True, slots=True)
class Rejected:
    """A message that could not be accepted, kept with its raw bytes and the reason."""

    received_ms: int
    source: str
    topic: str
    payload: bytes
    error: str


Record = Metrics | Sample | StateChange | CountUpdate | Event


class RecordStream(Protocol):
    """A live consumer of accepted records (wired by the app; mes/ml never import ingest)."""

    def publish(self, records: list[Record]) -> None:
        """Receive a batch of records just written to the historian."""
