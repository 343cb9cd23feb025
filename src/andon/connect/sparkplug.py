"""Sparkplug B host application: births, aliases, sequence numbers, deaths.

:class:`SparkplugSession` holds what a host must remember (no I/O, so it is tested message
by message): each edge node's birth/death sequence (``bdSeq``), its message sequence number
(0-255, one counter per node), and the metric aliases its births declared. It turns each
message into records, or a reason to dead-letter it, and says when to ask a node for a
rebirth (a sequence gap, data before any birth, an unknown alias). A node's death (NDEATH
with the matching ``bdSeq``, or its MQTT will) marks all its tags stale with an ``Event``.

:class:`SparkplugSource` runs the session on a supervised MQTT connection: it announces the
host with a retained ``STATE`` message (and a will saying it went offline) and publishes
the ``Node Control/Rebirth`` commands the session asks for.

Assets: ``<asset_root>/<group>/<edge node>/<device>`` (lowercased, other characters -> ``_``)
unless a tag mapping names the metric; tags are metric names the same way (``/`` -> ``.``).
"""

from __future__ import annotations

import logging
import math
import re
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from google.protobuf.message import DecodeError  # type: ignore[import-untyped]  # no stubs here

from andon.connect.mqtt import MqttSource, MqttSubscription
from andon.connect.source import RecordSink
from andon.connect.tagmap import Deadband, SparkplugConnect, SparkplugTag
from andon.errors import InvalidRequest
from andon.namespace import validate_path
from andon.signals import Event, Metrics, Record, parse_ts
from andon.sparkplug_b import DataType, Payload

__all__ = ["NAMESPACE", "SparkplugResult", "SparkplugSession", "SparkplugSource", "rebirth_payload"]

_logger = logging.getLogger(__name__)
NAMESPACE = "spBv1.0"
_CONTROL = ("Node Control/", "Device Control/", "Properties/")
_REBIRTH_EVERY_S = 5.0
_NUMERIC = {
    "int_value": float,
    "long_value": float,
    "float_value": float,
    "double_value": float,
    "boolean_value": float,
}
# Signed integers travel as two's complement in uint32 (Int8..Int32) or uint64 (Int64).
_SIGNED = {DataType.Int8: 32, DataType.Int16: 32, DataType.Int32: 32, DataType.Int64: 64}
_UNSAFE = re.compile(r"[^a-z0-9_-]+")
_UNSAFE_TAG = re.compile(r"[^a-z0-9_.-]+")


@dataclass
class SparkplugResult:
    """What one message means: records to write, a reason to reject it, a node to rebirth."""

    records: list[Record] = field(default_factory=list)
    rejected: str | None = None
    rebirth: tuple[str, str] | None = None  # (group, edge node)
    historical: int = 0


@dataclass
class _Node:
    bd_seq: int | None = None
    seq: int | None = None
    online: bool = False
    aliases: dict[tuple[str | None, int], tuple[str, int]] = field(default_factory=dict)
    tags: dict[str | None, set[tuple[str, str]]] = field(default_factory=dict)  # device -> tags
    rebirth_asked: float = 0.0


class SparkplugSession:
    """The host's memory of every edge node, fed one message at a time."""

    def __init__(self, config: SparkplugConnect | None = None) -> None:
        self.config = config or SparkplugConnect()
        self._nodes: dict[tuple[str, str], _Node] = {}
        self._mapped: dict[str, SparkplugTag] = {t.metric: t for t in self.config.tags}
        self._deadband = Deadband()

    def stale(self) -> list[tuple[str, str]]:
        """(asset, tag) of every tag whose node or device is dead right now."""
        return sorted(
            tag
            for node in self._nodes.values()
            if not node.online
            for tags in node.tags.values()
            for tag in tags
        )

    def handle(self, topic: str, payload: bytes, now_ms: int | None = None) -> SparkplugResult:
        """Interpret one message of the ``spBv1.0`` namespace."""
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        parts = topic.split("/")
        if len(parts) < 4 or parts[0] != NAMESPACE or parts[1] == "STATE":
            return SparkplugResult(rejected=None if parts[1:2] == ["STATE"] else "not spBv1.0")
        group, kind, edge, device = parts[1], parts[2], parts[3], "/".join(parts[4:]) or None
        if kind in {"NCMD", "DCMD"}:
            return SparkplugResult()  # commands from hosts to nodes: not data
        handler = _HANDLERS.get(kind)
        if handler is None:
            return SparkplugResult(rejected=f"unknown Sparkplug message type {kind!r}")
        try:
            message = Payload.FromString(payload)
        except (DecodeError, RuntimeWarning) as exc:
            return SparkplugResult(rejected=f"not a Sparkplug B payload: {exc}")
        node = self._nodes.setdefault((group, edge), _Node())
        try:
            return handler(self, node, (group, edge, device), message, now_ms)
        except Exception as exc:  # a bug here must cost one message, never the host
            _logger.exception("Sparkplug message on %s could not be handled", topic)
            return SparkplugResult(rejected=f"Sparkplug host failed: {exc!r}")

    # -- message types ----------------------------------------------------------------------

    def _nbirth(self, node: _Node, where: _Where, message: Any, now_ms: int) -> SparkplugResult:
        node.aliases.clear()
        node.online = True
        node.bd_seq = _bd_seq(message)
        node.seq = message.seq if message.HasField("seq") else 0
        return self._data(node, where, message, now_ms, birth=True)

    def _dbirth(self, node: _Node, where: _Where, message: Any, now_ms: int) -> SparkplugResult:
        gap = self._sequence(node, where, message, now_ms)
        if gap is not None:
            return gap
        device = where[2]
        for key in [k for k in node.aliases if k[0] == device]:
            del node.aliases[key]
        return self._data(node, where, message, now_ms, birth=True)

    def _ndata(self, node: _Node, where: _Where, message: Any, now_ms: int) -> SparkplugResult:
        gap = self._sequence(node, where, message, now_ms)
        return gap if gap is not None else self._data(node, where, message, now_ms, birth=False)

    def _ndeath(self, node: _Node, where: _Where, message: Any, now_ms: int) -> SparkplugResult:
        bd_seq = _bd_seq(message)
        if node.bd_seq is not None and bd_seq is not None and bd_seq != node.bd_seq:
            return SparkplugResult()  # the will of an older session: the node is alive
        node.online = False
        node.seq = None
        return SparkplugResult(self._stale_events(node, None, "NDEATH", now_ms))

    def _ddeath(self, node: _Node, where: _Where, message: Any, now_ms: int) -> SparkplugResult:
        gap = self._sequence(node, where, message, now_ms)
        if gap is not None:
            return gap
        return SparkplugResult(self._stale_events(node, where[2], "DDEATH", now_ms))

    # -- shared steps -----------------------------------------------------------------------

    def _sequence(
        self, node: _Node, where: _Where, message: Any, now_ms: int
    ) -> SparkplugResult | None:
        """None when ``seq`` follows the last one; else a result asking for a rebirth."""
        seq = message.seq if message.HasField("seq") else None
        if node.seq is None or seq is None:
            reason = "data before the node's birth" if node.seq is None else "no seq"
        elif seq != (node.seq + 1) % 256:
            reason = f"sequence gap: expected {(node.seq + 1) % 256}, got {seq}"
        else:
            node.seq = seq
            return None
        node.seq = seq
        return SparkplugResult(rejected=reason, rebirth=self._ask_rebirth(node, where, now_ms))

    def _ask_rebirth(self, node: _Node, where: _Where, now_ms: int) -> tuple[str, str] | None:
        if now_ms / 1000 - node.rebirth_asked < _REBIRTH_EVERY_S:
            return None  # asked a moment ago: the birth is on its way
        node.rebirth_asked = now_ms / 1000
        return where[0], where[1]

    def _data(
        self, node: _Node, where: _Where, message: Any, now_ms: int, *, birth: bool
    ) -> SparkplugResult:
        device = where[2]
        default_ts = message.timestamp if message.HasField("timestamp") else now_ms
        values: dict[tuple[str, int], dict[str, float]] = {}
        result = SparkplugResult()
        for metric in message.metrics:
            named = self._name(node, device, metric, birth)
            if named is None:
                result.rejected = f"unknown alias {metric.alias}"
                result.rebirth = self._ask_rebirth(node, where, now_ms)
                return result
            name, datatype = named
            if name == "bdSeq" or name.startswith(_CONTROL):
                continue
            try:
                reading = self._reading(where, name, datatype, metric, default_ts)
            except ValueError as exc:
                return SparkplugResult(rejected=f"metric {name!r}: {exc}")
            if reading is None:
                continue
            asset, tag, ts, value = reading
            node.tags.setdefault(device, set()).add((asset, tag))
            result.historical += bool(metric.is_historical)
            values.setdefault((asset, ts), {})[tag] = value
        seq = message.seq if message.HasField("seq") else None
        result.records = [Metrics(a, ts, v, seq) for (a, ts), v in values.items()]
        return result

    def _name(
        self, node: _Node, device: str | None, metric: Any, birth: bool
    ) -> tuple[str, int] | None:
        key = (device, metric.alias)
        if metric.HasField("name"):
            if birth and metric.HasField("alias"):
                node.aliases[key] = (metric.name, metric.datatype)
            known = node.aliases.get(key) if metric.HasField("alias") else None
            return metric.name, metric.datatype or (known[1] if known else 0)
        return node.aliases.get(key) if metric.HasField("alias") else None

    def _reading(
        self, where: _Where, name: str, datatype: int, metric: Any, default_ts: int
    ) -> tuple[str, str, int, float] | None:
        kind = metric.WhichOneof("value")
        if metric.is_null or kind not in _NUMERIC:
            return None  # strings, bytes, data sets, templates: not samples
        raw = float(getattr(metric, kind))
        bits = _SIGNED.get(datatype)  # type: ignore[call-overload]  # IntEnum keys match ints
        if bits and raw >= 2 ** (bits - 1):
            raw -= 2**bits
        if not math.isfinite(raw):
            raise ValueError(f"value {raw} is not finite")
        ts = parse_ts(metric.timestamp if metric.HasField("timestamp") else default_ts)
        asset, tag, mapping = self._target(where, name)
        value = raw if mapping is None else mapping.value(raw)
        if mapping is not None and not self._deadband.keep(
            f"{asset}/{tag}", value, mapping.deadband
        ):
            return None
        return asset, tag, ts, value

    def _target(self, where: _Where, name: str) -> tuple[str, str, SparkplugTag | None]:
        group, edge, device = where
        address = f"{group}/{edge}{'' if device is None else '/' + device}:{name}"
        mapped = self._mapped.get(address)
        if mapped is not None:
            return mapped.asset, mapped.label, mapped
        levels = [group, edge] if device is None else [group, edge, device]
        root = [self.config.asset_root] if self.config.asset_root else []
        asset = "/".join(
            root + [_UNSAFE.sub("_", level.lower()).strip("_") or "_" for level in levels]
        )
        try:
            validate_path(asset)
        except InvalidRequest as exc:
            raise ValueError(f"no valid asset path for {address}: {exc}") from exc
        tag = _UNSAFE_TAG.sub("_", name.lower().replace("/", ".")).strip("_") or "_"
        return asset, tag, None

    def _stale_events(
        self, node: _Node, device: str | None, reason: str, now_ms: int
    ) -> list[Record]:
        groups = node.tags if device is None else {device: node.tags.get(device, set())}
        by_asset: dict[str, list[str]] = {}
        for tags in groups.values():
            for asset, tag in tags:
                by_asset.setdefault(asset, []).append(tag)
        return [
            Event(asset, now_ms, "stale", {"reason": reason, "tags": sorted(tags)})
            for asset, tags in sorted(by_asset.items())
        ]


_Where = tuple[str, str, str | None]
_HANDLERS = {
    "NBIRTH": SparkplugSession._nbirth,
    "DBIRTH": SparkplugSession._dbirth,
    "NDATA": SparkplugSession._ndata,
    "DDATA": SparkplugSession._ndata,
    "NDEATH": SparkplugSession._ndeath,
    "DDEATH": SparkplugSession._ddeath,
}


def _bd_seq(message: Any) -> int | None:
    for metric in message.metrics:
        kind = metric.WhichOneof("value")
        if metric.name == "bdSeq" and kind in {"int_value", "long_value"}:
            return int(getattr(metric, kind))
    return None


def rebirth_payload(now_ms: int) -> bytes:
    """The NCMD payload asking an edge node to publish its births again."""
    payload = Payload(timestamp=now_ms)
    payload.metrics.add(name="Node Control/Rebirth", datatype=DataType.Boolean, boolean_value=True)
    return bytes(payload.SerializeToString())


class SparkplugSource:
    """A Sparkplug B host on an MQTT broker, feeding records to ``sink``.

    MQTT reconnects are paho's (back-off, resubscribe), as for :class:`MqttSource`; after
    each connect the host publishes its ``STATE`` so edge nodes know it is back.
    """

    name = "sparkplug"

    def __init__(
        self,
        host: str,
        port: int,
        sink: RecordSink,
        config: SparkplugConnect | None = None,
        *,
        mqtt5: bool = True,
    ) -> None:
        self.config = config or SparkplugConnect()
        self.session = SparkplugSession(self.config)
        self.rebirths_requested = 0
        self._sink = sink
        state_topic = f"{NAMESPACE}/STATE/{self.config.host_id}"
        self._state_topic = state_topic
        topics = tuple(f"{NAMESPACE}/{group}/#" for group in self.config.groups)
        subscription = MqttSubscription(
            host,
            port,
            topics=topics,
            client_id=f"andon-sparkplug-{self.config.host_id}",
            mqtt5=mqtt5,
            will=(state_topic, self._state(online=False), True),
        )
        self._mqtt = MqttSource(subscription, self._on_message, on_connect=self._announce)

    @property
    def connected(self) -> bool:
        return self._mqtt.connected

    def __enter__(self) -> SparkplugSource:
        self._mqtt.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._mqtt.publish(self._state_topic, self._state(online=False), retain=True)
        self._mqtt.stop()

    def _state(self, *, online: bool) -> bytes:
        return orjson.dumps({"online": online, "timestamp": int(time.time() * 1000)})

    def _announce(self) -> None:
        self._mqtt.publish(self._state_topic, self._state(online=True), retain=True)

    def _on_message(self, topic: str, payload: bytes) -> None:
        result = self.session.handle(topic, payload)
        if result.records:
            self._sink.submit_records(result.records, source=self.name)
        if result.rejected is not None:
            self._sink.reject(self.name, topic, payload, result.rejected)
        if result.rebirth is not None:
            group, edge = result.rebirth
            self.rebirths_requested += 1
            _logger.info("Sparkplug: asking %s/%s for a rebirth (%s)", group, edge, result.rejected)
            command = f"{NAMESPACE}/{group}/NCMD/{edge}"
            self._mqtt.publish(command, rebirth_payload(int(time.time() * 1000)))
