"""The virtual plant as a Sparkplug B edge node (spBv1.0) on an MQTT broker.

Topic namespace: the group is the enterprise, the edge node the site, and every asset below
the site is a device whose id is the rest of its path with dots (``acme/plant1/machining/
line1/cnc1`` -> ``spBv1.0/acme/DDATA/plant1/machining.line1.cnc1``). Asset levels never hold
a dot, so the mapping is reversible.

Session, as the Sparkplug 3.0 specification asks:

- the MQTT will is an NDEATH carrying ``bdSeq``; ``bdSeq`` starts at 0 and grows by one
  (modulo 256) with every new MQTT session, and the NBIRTH of a session carries the same
  value as its will;
- NBIRTH (``seq`` 0, node metrics ``bdSeq`` and ``Node Control/Rebirth``) then one DBIRTH
  per device announce every metric with its name, an alias unique in the node, its datatype,
  its current value and, for measured tags, the properties ``engUnit``, ``engLow``,
  ``engHigh``; NDATA/DDATA then carry aliases only; ``seq`` counts every message but NDEATH,
  0..255 and around;
- an NCMD setting ``Node Control/Rebirth`` to true makes the node publish its births again.

Device metrics: each measured tag (Double); ``state`` (String), ``state_code`` (Int32) and
``reason`` (String, null when none); ``count/total``, ``count/good``, ``count/scrap``
(UInt64, non-resetting); ``event/kind`` and ``event/detail`` (String, the event as JSON).
Each metric carries the simulated timestamp of its value. The ambient station is a device
with its tags only.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.client import ConnectFlags, DisconnectFlags
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from andon.errors import BrokerError
from andon.namespace import TOPIC_PREFIX
from andon.sim.catalog import COUNTERS, PlantAsset
from andon.sim.messages import Message
from andon.sim.mqttlink import MqttLink
from andon.sim.publish import drop_socket
from andon.sparkplug_b import DataType, Payload

__all__ = ["REBIRTH", "SparkplugPublisher", "device_id"]

_logger = logging.getLogger(__name__)

NAMESPACE = "spBv1.0"
REBIRTH = "Node Control/Rebirth"
_STATE = ("state", "state_code", "reason")
_EVENT = ("event/kind", "event/detail")
_TYPES: dict[str, DataType] = {
    "state": DataType.String,
    "state_code": DataType.Int32,
    "reason": DataType.String,
    **{f"count/{key}": DataType.UInt64 for key in COUNTERS},
    "event/kind": DataType.String,
    "event/detail": DataType.String,
}
_FIELD = {
    DataType.Double: "double_value",
    DataType.String: "string_value",
    DataType.Int32: "int_value",
    DataType.Int64: "long_value",
    DataType.UInt64: "long_value",
    DataType.Boolean: "boolean_value",
}


def device_id(path: str) -> str:
    """The Sparkplug device id of an asset: its path below the site, joined by dots.

    >>> device_id("acme/plant1/machining/line1/cnc1")
    'machining.line1.cnc1'
    """
    return ".".join(path.split("/")[2:])


def _metrics_of(doc: dict[str, Any]) -> dict[str, object]:
    return dict(doc["values"])


def _state_of(doc: dict[str, Any]) -> dict[str, object]:
    return {"state": doc["state"], "state_code": doc["code"], "reason": doc.get("reason")}


def _count_of(doc: dict[str, Any]) -> dict[str, object]:
    return {f"count/{key}": doc[key] for key in COUNTERS}


def _event_of(doc: dict[str, Any]) -> dict[str, object]:
    detail = {k: v for k, v in doc.items() if k not in {"ts", "seq", "kind"}}
    return {"event/kind": doc["kind"], "event/detail": orjson.dumps(detail).decode()}


_CHANNELS: dict[str, Callable[[dict[str, Any]], dict[str, object]]] = {
    "metrics": _metrics_of,
    "state": _state_of,
    "count": _count_of,
    "event": _event_of,
}


class _Device:
    """One device: its topic suffix and its metrics (name -> alias, datatype)."""

    def __init__(self, asset: PlantAsset, first_alias: int) -> None:
        self.asset = asset
        self.id = device_id(asset.path)
        names = [tag.name for tag in asset.tags]
        if asset.is_machine:
            names += [*_STATE, *(f"count/{key}" for key in COUNTERS), *_EVENT]
        self.aliases = {name: first_alias + i for i, name in enumerate(names)}
        self.types = {name: _TYPES.get(name, DataType.Double) for name in names}
        self.last: dict[str, tuple[int, object]] = {}  # name -> (ts, value) for births


class SparkplugPublisher:
    """A :class:`~andon.sim.pacing.Sink` publishing the plant as one Sparkplug B edge node."""

    def __init__(
        self,
        catalog: Iterable[PlantAsset],
        host: str,
        port: int,
        *,
        client_id: str | None = None,
        connect_timeout_s: float = 10.0,
    ) -> None:
        assets = list(catalog)
        self.group, self.node = assets[0].path.split("/")[:2]
        self.host, self.port = host, port
        self._devices: dict[str, _Device] = {}
        alias = 2  # 0 and 1: the node's bdSeq and rebirth metrics
        for asset in assets:
            if asset.path.split("/")[:2] != [self.group, self.node]:
                raise BrokerError(f"{asset.path} is not in {self.group}/{self.node}")
            self._devices[asset.path] = device = _Device(asset, alias)
            alias += len(device.aliases)
        self._connect_timeout_s = connect_timeout_s
        self._born = threading.Event()
        self._refused: str | None = None
        self.bd_seq = 0
        self._seq = 0
        self.births = 0
        self.sent = 0
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or f"andon-sparkplug-{self.group}-{self.node}",
            protocol=MQTTProtocolVersion.MQTTv311,
        )
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._link = MqttLink(self._client, host, port)
        self._lock = self._link.lock  # one lock for the session state and the client
        self._set_will()

    # -- topics and payloads ----------------------------------------------------------

    def topic(self, kind: str, device: str | None = None) -> str:
        """The topic of a message type (``NBIRTH``, ``DDATA``...) of this node or a device."""
        base = f"{NAMESPACE}/{self.group}/{kind}/{self.node}"
        return base if device is None else f"{base}/{device}"

    def _next_seq(self) -> int:
        seq, self._seq = self._seq, (self._seq + 1) % 256
        return seq

    def _set_will(self) -> None:
        self._client.will_set(self.topic("NDEATH"), self._death(), qos=1)

    def _death(self) -> bytes:
        """An NDEATH payload: the session's ``bdSeq`` (and no ``seq``)."""
        death = Payload(timestamp=int(time.time() * 1000))
        metric = death.metrics.add(name="bdSeq", timestamp=death.timestamp, datatype=DataType.Int64)
        metric.long_value = self.bd_seq
        return bytes(death.SerializeToString())

    # -- the session --------------------------------------------------------------------

    def __enter__(self) -> SparkplugPublisher:
        self._link.open(self._born, self._connect_timeout_s)
        if not self._born.is_set() or self._refused:
            self._link.close()
            why = self._refused or f"no CONNACK within {self._connect_timeout_s} s"
            raise BrokerError(f"MQTT broker {self.host}:{self.port} refused the session: {why}")
        _logger.info("Sparkplug B node %s/%s on %s:%d", self.group, self.node, self.host, self.port)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # A clean shutdown announces the death itself: a DISCONNECT suppresses the will.
        with self._lock:
            info = self._client.publish(self.topic("NDEATH"), self._death(), qos=1)
        deadline = time.monotonic() + 5.0
        while info.rc == mqtt.MQTT_ERR_SUCCESS and not info.is_published():
            if time.monotonic() > deadline:
                break
            self._link.pump(0.01)
        self._link.close()

    def drop_connection(self) -> None:
        """Break the TCP connection: the broker publishes the NDEATH will; the link reconnects."""
        with self._lock:
            drop_socket(self._client)

    def skip_seq(self, count: int = 1) -> None:
        """Leave a gap in ``seq`` (a lost message), as a host must detect."""
        with self._lock:
            self._seq = (self._seq + count) % 256

    def rebirth(self) -> None:
        """Publish NBIRTH and every DBIRTH again (what an NCMD rebirth request asks)."""
        with self._lock:
            self._seq = 0
            now = int(time.time() * 1000)
            node = Payload(timestamp=now, seq=self._next_seq())
            bd_seq = node.metrics.add(name="bdSeq", alias=0, timestamp=now)
            bd_seq.datatype, bd_seq.long_value = DataType.Int64, self.bd_seq
            rebirth = node.metrics.add(name=REBIRTH, alias=1, timestamp=now)
            rebirth.datatype, rebirth.boolean_value = DataType.Boolean, False
            self._publish(self.topic("NBIRTH"), node)
            for device in self._devices.values():
                self._publish(self.topic("DBIRTH", device.id), self._birth(device, now))
            self.births += 1
            self._born.set()

    def _birth(self, device: _Device, now: int) -> Any:
        payload = Payload(timestamp=now, seq=self._next_seq())
        units = {tag.name: tag for tag in device.asset.tags}
        for name, alias in device.aliases.items():
            datatype = device.types[name]
            ts, value = device.last.get(name, (now, None))
            metric = payload.metrics.add(name=name, alias=alias, timestamp=ts, datatype=datatype)
            _set_value(metric, datatype, value)
            tag = units.get(name)
            if tag is not None:
                _properties(metric, tag.unit, tag.low, tag.high)
        return payload

    # -- the sink -----------------------------------------------------------------------

    def send(self, messages: list[Message]) -> None:
        """Publish one step: one DDATA per device that changed, each metric with its time."""
        changes: dict[str, list[tuple[int, str, object]]] = {}
        for topic, payload in messages:
            asset, _, channel = topic[len(TOPIC_PREFIX) :].rpartition("/")
            convert = _CHANNELS.get(channel)
            if asset not in self._devices or convert is None:
                continue
            try:
                doc = orjson.loads(payload)
                values = convert(doc)
                ts = int(doc["ts"])
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                _logger.debug("Sparkplug node skips a malformed message on %s", topic)
                continue
            changes.setdefault(asset, []).extend((ts, name, v) for name, v in values.items())
        with self._lock:
            for asset, changed in changes.items():
                self._data(self._devices[asset], changed)
            self._link.pump()

    def _data(self, device: _Device, values: list[tuple[int, str, object]]) -> None:
        payload = Payload(timestamp=max(ts for ts, _, _ in values))
        for ts, name, value in values:
            alias = device.aliases.get(name)
            if alias is None:
                continue
            device.last[name] = (ts, value)
            _set_value(payload.metrics.add(alias=alias, timestamp=ts), device.types[name], value)
        if self._born.is_set():
            payload.seq = self._next_seq()
            self._publish(self.topic("DDATA", device.id), payload)

    def _publish(self, topic: str, payload: Any) -> None:
        self._client.publish(topic, payload.SerializeToString(), qos=0)
        self.sent += 1

    # -- paho callbacks (network thread) --------------------------------------------------

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: ConnectFlags,
        reason: ReasonCode,
        props: Properties | None,
    ) -> None:
        if reason.is_failure:
            self._refused = str(reason)
            self._born.set()
            return
        client.subscribe(self.topic("NCMD"), qos=1)
        self.rebirth()

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: DisconnectFlags,
        reason: ReasonCode,
        props: Properties | None,
    ) -> None:
        with self._lock:
            self._born.clear()
            self.bd_seq = (self.bd_seq + 1) % 256  # the next session's will and NBIRTH
            self._set_will()
        if reason.is_failure:
            _logger.warning("Sparkplug node lost the broker (%s)", reason)

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            command = Payload.FromString(msg.payload)
        except Exception:  # protobuf raises its DecodeError, not a documented subclass
            _logger.warning("ignoring an undecodable NCMD on %s", msg.topic)
            return
        if any(m.name == REBIRTH and m.boolean_value for m in command.metrics):
            _logger.info("rebirth requested by the host")
            self.rebirth()


def _set_value(metric: Any, datatype: DataType, value: object) -> None:
    if value is None:
        metric.is_null = True
        return
    if datatype == DataType.Double:
        metric.double_value = float(value)  # type: ignore[arg-type]  # JSON numbers
    elif datatype == DataType.String:
        metric.string_value = str(value)
    elif datatype == DataType.Int32:
        metric.int_value = int(value)  # type: ignore[call-overload]  # JSON integers
    else:
        setattr(metric, _FIELD[datatype], value)


def _properties(metric: Any, unit: str | None, low: float, high: float) -> None:
    props = metric.properties
    if unit is not None:
        props.keys.append("engUnit")
        props.values.add(type=DataType.String, string_value=unit)
    props.keys.extend(("engLow", "engHigh"))
    props.values.add(type=DataType.Double, double_value=low)
    props.values.add(type=DataType.Double, double_value=high)
