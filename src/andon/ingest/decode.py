"""Validation of unified-namespace messages into records (DESIGN.md section 3).

Each channel has one decoder, chosen by a table. A decoder either returns a record or raises
:class:`~andon.errors.PayloadRejected` with a reason a person can act on.

>>> decoder = Decoder()
>>> decoder.decode("andon/v1/acme/p1/mach/l1/cnc1/metrics",
...                b'{"ts": 1763700000000, "seq": 7, "values": {"torque_nm": 40.5}}')
Metrics(asset='acme/p1/mach/l1/cnc1', ts_ms=1763700000000, values={'torque_nm': 40.5}, seq=7)
>>> decoder.decode("andon/v1/acme/p1/mach/l1/cnc1/state", b'{"ts": 1763700000000}')
Traceback (most recent call last):
...
andon.errors.PayloadRejected: state: needs "code" or a known "state" name
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from andon.errors import InvalidRequest, PayloadRejected
from andon.namespace import parse_topic
from andon.signals import STATE_CODES, CountUpdate, Event, Metrics, Record, StateChange, parse_ts

__all__ = ["MAX_PAYLOAD_BYTES", "Decoder"]

MAX_PAYLOAD_BYTES = 256 * 1024
_RESERVED_EVENT_KEYS = frozenset({"ts", "seq", "kind"})
_INT_MAX = 2**63 - 1  # larger integers are not measurements; they would overflow the store
_INT_MIN = -(2**63)
_TS_MIN, _TS_MAX = 946_684_800_000, 4_102_444_800_000  # parse_ts's range: 2000..2100

_ChannelDecoder = Callable[[str, dict[str, Any]], Record]


class Decoder:
    """Turns (topic, payload) into a record; remembers parsed topics (a plant has few)."""

    def __init__(self) -> None:
        self._topics: dict[str, tuple[str, _ChannelDecoder]] = {}

    def decode(self, topic: str, payload: bytes) -> Record:
        asset, decode_channel = self._route(topic)
        if len(payload) > MAX_PAYLOAD_BYTES:
            raise PayloadRejected(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}")
        try:
            body = orjson.loads(payload)
        except orjson.JSONDecodeError as exc:
            raise PayloadRejected(f"not valid JSON: {exc}") from exc
        if not isinstance(body, dict):
            raise PayloadRejected("payload must be a JSON object")
        return decode_channel(asset, body)

    def _route(self, topic: str) -> tuple[str, _ChannelDecoder]:
        route = self._topics.get(topic)
        if route is None:
            try:
                asset, channel = parse_topic(topic)
            except InvalidRequest as exc:
                raise PayloadRejected(str(exc)) from exc
            if len(self._topics) > 100_000:  # bound memory against topic floods
                self._topics.clear()
            route = self._topics[topic] = (asset, _CHANNELS[channel])
        return route


def _ts(body: dict[str, Any]) -> int:
    ts = body.get("ts")
    if type(ts) is int and _TS_MIN <= ts < _TS_MAX:  # the common case, without a call
        return ts
    if ts is None:
        raise PayloadRejected('missing "ts" (epoch ms or ISO-8601)')
    try:
        return parse_ts(ts)
    except ValueError as exc:
        raise PayloadRejected(f'"ts": {exc}') from exc


def _seq(body: dict[str, Any]) -> int | None:
    seq = body.get("seq")
    if seq is None:
        return None
    if type(seq) is not int or seq < 0:
        raise PayloadRejected(f'"seq" must be a non-negative integer, got {seq!r}')
    return seq


def _metrics(asset: str, body: dict[str, Any]) -> Metrics:
    values = body.get("values")
    if not isinstance(values, dict) or not values:
        raise PayloadRejected('metrics: "values" must be a non-empty object of numbers')
    for value in values.values():
        kind = type(value)  # orjson never yields NaN/inf floats; bools are not numbers here
        if kind is not float and (kind is not int or not _INT_MIN <= value <= _INT_MAX):
            raise PayloadRejected(_not_a_number(values))
    return Metrics(asset, _ts(body), values, _seq(body))


def _not_a_number(values: dict[str, Any]) -> str:
    for name, value in values.items():
        if type(value) is not float and (
            type(value) is not int or not _INT_MIN <= value <= _INT_MAX
        ):
            return f"metrics: value of {name!r} is not a finite number: {value!r}"
    return "metrics: a value is not a finite number"


def _state(asset: str, body: dict[str, Any]) -> StateChange:
    code = body.get("code")
    if code is None:
        name = body.get("state")
        code = STATE_CODES.get(name) if isinstance(name, str) else None
    if type(code) is not int or code < 0:
        raise PayloadRejected('state: needs "code" or a known "state" name')
    reason = body.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise PayloadRejected('state: "reason" must be a string or null')
    return StateChange(asset, _ts(body), code, reason, _seq(body))


def _count(asset: str, body: dict[str, Any]) -> CountUpdate:
    good, scrap = body.get("good"), body.get("scrap", 0)
    total = body.get("total")
    if total is None and type(good) is int and type(scrap) is int:
        total = good + scrap
    for name, value in (("total", total), ("good", good), ("scrap", scrap)):
        if type(value) is not int or value < 0:
            raise PayloadRejected(f'count: "{name}" must be a non-negative integer')
    return CountUpdate(asset, _ts(body), total, good, scrap, _seq(body))  # type: ignore[arg-type]


def _event(asset: str, body: dict[str, Any]) -> Event:
    kind = body.get("kind")
    if not isinstance(kind, str) or not kind:
        raise PayloadRejected('event: "kind" must be a non-empty string')
    data = {k: v for k, v in body.items() if k not in _RESERVED_EVENT_KEYS}
    return Event(asset, _ts(body), kind, data, _seq(body))


_CHANNELS: dict[str, _ChannelDecoder] = {
    "metrics": _metrics,
    "state": _state,
    "count": _count,
    "event": _event,
}
