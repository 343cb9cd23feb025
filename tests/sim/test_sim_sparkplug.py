"""Sparkplug B: the schema round-trips, and the edge node's session follows the specification.

The session test runs against the system Mosquitto on 127.0.0.1:1883 and decodes every
payload with protobuf, as any Sparkplug host would.
"""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from andon.namespace import parse_topic
from andon.sim import Factory, SparkplugPublisher, load_scenario
from andon.sim.messages import Message
from andon.sim.sparkplug import REBIRTH, device_id
from andon.sparkplug_b import PACKAGE, DataType, Payload

BROKER = ("127.0.0.1", 1883)
SCENARIO = """
enterprise: {group}
site: s1
lines:
  - area: a1
    name: l1
    buffer_capacity: 3
    order_size: [5, 10]
    products: [p1, p2]
    machines:
      - {{name: press1, kind: press, ideal_cycle_time_s: 2}}
      - {{name: cnc1, kind: cnc, ideal_cycle_time_s: 3}}
"""


def test_the_schema_is_sparkplug_b_and_round_trips_every_value_type() -> None:
    assert Payload.DESCRIPTOR.full_name == f"{PACKAGE}.Payload"
    payload = Payload(timestamp=1, seq=255, uuid="u")
    values = {
        "int_value": 7,
        "long_value": 2**40,
        "float_value": 1.5,
        "double_value": 2.25,
        "boolean_value": True,
        "string_value": "text",
        "bytes_value": b"\x00\x01",
    }
    for i, (field, value) in enumerate(values.items()):
        metric = payload.metrics.add(name=field, alias=i, datatype=DataType.Unknown)
        setattr(metric, field, value)
    metric = payload.metrics.add(name="rows", datatype=DataType.DataSet)
    metric.dataset_value.columns.extend(["a", "b"])
    metric.dataset_value.rows.add().elements.add(double_value=3.5)
    metric.properties.keys.append("engUnit")
    metric.properties.values.add(type=DataType.String, string_value="°C")
    decoded = Payload.FromString(payload.SerializeToString())
    assert decoded == payload
    for metric, (field, value) in zip(decoded.metrics, values.items(), strict=False):
        assert metric.WhichOneof("value") == field
        assert getattr(metric, field) == value
    # Field numbers are the wire contract: check a few against sparkplug_b.proto.
    numbers = {f.name: f.number for f in Payload.Metric.DESCRIPTOR.fields}
    assert (numbers["alias"], numbers["timestamp"], numbers["double_value"]) == (2, 3, 13)
    assert {f.name: f.number for f in Payload.DESCRIPTOR.fields}["seq"] == 3


class Host:
    """A minimal Sparkplug host: records and decodes everything of one group."""

    def __init__(self, group: str) -> None:
        self.group = group
        self.received: list[tuple[str, Any]] = []
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"host-{group}")
        self._client.on_connect = lambda c, *_: c.subscribe(f"spBv1.0/{group}/#", qos=1)
        self._client.on_subscribe = lambda *_: self._ready.set()
        self._client.on_message = self._on_message

    def __enter__(self) -> Host:
        self._client.connect(*BROKER)
        self._client.loop_start()
        assert self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def _on_message(self, client: paho.Client, userdata: object, msg: paho.MQTTMessage) -> None:
        with self._lock:
            self.received.append((msg.topic, Payload.FromString(msg.payload)))

    def kinds(self) -> list[str]:
        with self._lock:
            return [topic.split("/")[2] for topic, _ in self.received]

    def wait_for(self, kind: str, count: int, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while self.kinds().count(kind) < count:
            assert time.monotonic() < deadline, f"{count} {kind} not seen: {self.kinds()}"
            time.sleep(0.05)

    def rebirth(self, node: str) -> None:
        command = Payload(timestamp=int(time.time() * 1000))
        command.metrics.add(name=REBIRTH, datatype=DataType.Boolean).boolean_value = True
        topic = f"spBv1.0/{self.group}/NCMD/{node}"
        self._client.publish(topic, command.SerializeToString(), qos=1).wait_for_publish(5)


def _metric_value(metric: Any) -> object:
    return None if metric.is_null else getattr(metric, metric.WhichOneof("value"))


@pytest.mark.integration
def test_a_session_births_aliases_data_rebirth_and_death(tmp_path: Path) -> None:
    group = f"g{uuid.uuid4().hex[:10]}"
    path = tmp_path / "plant.yaml"
    path.write_text(SCENARIO.format(group=group), encoding="utf-8")
    factory = Factory(load_scenario(str(path)), seed=5, start_ms=1_763_700_000_000)
    sent: list[Message] = []
    with Host(group) as host:
        with SparkplugPublisher(factory.catalog, *BROKER) as node:
            host.wait_for("DBIRTH", 3)
            for _ in range(20):
                step = factory.step()
                sent.extend(step)
                node.send(step)
            host.rebirth("s1")
            host.wait_for("NBIRTH", 2)
            node.drop_connection()  # the broker publishes the will, paho reconnects
            host.wait_for("NBIRTH", 3)
            for _ in range(5):
                node.send(factory.step())
        host.wait_for("NDEATH", 2)
    _check_session(host.received, group, sent)


def _check_session(received: list[tuple[str, Any]], group: str, sent: list[Message]) -> None:
    kinds = [topic.split("/")[2] for topic, _ in received]
    assert kinds[0] == "NBIRTH"
    assert kinds.count("NDEATH") == 2  # the will after the drop, the clean one at the end
    _check_births(received)
    _check_sequence(received)
    _check_bd_seq(received)
    _check_data_matches_json(received, sent)


def _check_births(received: list[tuple[str, Any]]) -> None:
    births = [p for topic, p in received if "/DBIRTH/" in topic]
    devices = {topic.split("/")[-1] for topic, _ in received if "/DBIRTH/" in topic}
    assert devices == {"a1.l1.press1", "a1.l1.cnc1", "utilities.ambient.station1"}
    first = births[:3]
    aliases = [m.alias for p in first for m in p.metrics]
    assert len(aliases) == len(set(aliases))  # unique in the whole node
    assert not {0, 1} & set(aliases)  # the node's own bdSeq and rebirth metrics
    for payload in first:
        for metric in payload.metrics:
            assert metric.name
            assert metric.HasField("datatype")
    cnc = next(p for p in first if any(m.name == "spindle_speed_rpm" for m in p.metrics))
    rpm = next(m for m in cnc.metrics if m.name == "spindle_speed_rpm")
    properties = dict(zip(rpm.properties.keys, rpm.properties.values, strict=True))
    assert properties["engUnit"].string_value == "rpm"
    assert (properties["engLow"].double_value, properties["engHigh"].double_value) == (0, 3000)
    names = {m.name: m.datatype for m in cnc.metrics}
    assert names["state_code"] == DataType.Int32
    assert names["count/total"] == DataType.UInt64


def _check_sequence(received: list[tuple[str, Any]]) -> None:
    """seq: 0 on every NBIRTH, then +1 per message (mod 256); NDEATH has none."""
    expected = None
    for topic, payload in received:
        kind = topic.split("/")[2]
        if kind == "NCMD":  # the host's own command
            continue
        if kind == "NDEATH":
            assert not payload.HasField("seq")
            continue
        if kind == "NBIRTH":
            expected = 0
        assert payload.seq == expected, topic
        expected = (payload.seq + 1) % 256


def _check_bd_seq(received: list[tuple[str, Any]]) -> None:
    def bd_seq(payload: Any) -> int:
        return int(next(m.long_value for m in payload.metrics if m.name == "bdSeq"))

    sessions = [(t.split("/")[2], bd_seq(p)) for t, p in received if "/N" in t and "NCMD" not in t]
    assert sessions == [
        ("NBIRTH", 0),
        ("NBIRTH", 0),  # the rebirth asked by the host: same session
        ("NDEATH", 0),  # the will of session 0, sent by the broker
        ("NBIRTH", 1),
        ("NDEATH", 1),  # the clean shutdown
    ]


def _check_data_matches_json(received: list[tuple[str, Any]], sent: list[Message]) -> None:
    births = {}
    for topic, payload in received:
        if "/DBIRTH/" in topic:
            births.update({m.alias: (topic.split("/")[-1], m.name) for m in payload.metrics})
    decoded = {}
    for topic, payload in received:
        if "/DDATA/" in topic:
            for metric in payload.metrics:
                assert not metric.name  # aliases only after the birth
                device, name = births[metric.alias]
                decoded[(device, name, metric.timestamp)] = _metric_value(metric)
    expected: dict[tuple[str, str, int], object] = {}
    for topic, raw in sent:
        asset, channel = parse_topic(topic)
        doc = orjson.loads(raw)
        values = {"metrics": doc.get("values", {}), "count": {"count/total": doc.get("total")}}
        values["state"] = {"state_code": doc.get("code"), "reason": doc.get("reason")}
        for name, value in values.get(channel, {}).items():
            expected[(device_id(asset), name, doc["ts"])] = value
    assert len(expected) > 200
    assert {key: decoded[key] for key in expected} == expected
