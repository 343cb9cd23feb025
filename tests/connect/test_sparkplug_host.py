"""The Sparkplug B host against a real Mosquitto and a scripted edge node."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import orjson
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from andon.broker import EmbeddedBroker
from andon.connect import SparkplugSource, connect_config
from andon.historian import DuckDBHistorian
from andon.ingest import Pipeline
from andon.sparkplug_b import DataType, Payload

pytestmark = pytest.mark.integration
T0 = 1_763_700_000_000


def wait_for(condition: Callable[[], bool], timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


class EdgeNode:
    """A scripted Sparkplug edge node: births, data, commands received, and a will."""

    def __init__(self, port: int) -> None:
        self.commands: list[tuple[str, Payload]] = []
        self.sent = 0  # the edge's clock: one second per message
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id="edge1")
        death = Payload()
        death.metrics.add(name="bdSeq", datatype=DataType.Int64, long_value=0)
        self.client.will_set("spBv1.0/plant1/NDEATH/edge1", death.SerializeToString(), qos=1)
        self.client.on_message = lambda _c, _u, m: self.commands.append(
            (m.topic, Payload.FromString(m.payload))
        )
        self.client.connect("127.0.0.1", port)
        self.client.subscribe("spBv1.0/plant1/NCMD/edge1", qos=1)
        self.client.loop_start()

    def send(self, kind: str, seq: int, **metrics: float) -> None:
        message = Payload(timestamp=T0 + self.sent * 1000, seq=seq)
        self.sent += 1
        if kind == "NBIRTH":
            message.metrics.add(name="bdSeq", datatype=DataType.Int64, long_value=0)
        for alias, (name, value) in enumerate(metrics.items(), start=1):
            metric = message.metrics.add(alias=alias, datatype=DataType.Double, double_value=value)
            if kind == "NBIRTH":
                metric.name = name
        self.client.publish(
            f"spBv1.0/plant1/{kind}/edge1", message.SerializeToString(), qos=1
        ).wait_for_publish(5)

    def vanish(self) -> None:
        """Drop the TCP connection without DISCONNECT: the broker publishes the will."""
        self.client.loop_stop()
        sock = self.client.socket()
        assert sock is not None
        sock.close()


@pytest.fixture
def broker() -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker(kind="mosquitto") as running:
        yield running


def test_host_ingests_asks_for_rebirth_and_marks_dead_nodes_stale(broker: EmbeddedBroker) -> None:
    historian = DuckDBHistorian(":memory:")
    config = connect_config({"sparkplug": {"host_id": "scada", "asset_root": "acme"}}).sparkplug
    with (
        Pipeline(historian) as pipeline,
        SparkplugSource(broker.host, broker.port, pipeline, config) as host,
    ):
        state = _retained(broker.port, "spBv1.0/STATE/scada")
        assert orjson.loads(state)["online"] is True
        edge = EdgeNode(broker.port)
        edge.send("NBIRTH", 0, speed=1.0, temp=20.0)
        edge.send("NDATA", 1, speed=2.0)
        edge.send("NDATA", 5, speed=9.0)  # seq 2..4 lost: the host must ask for a rebirth
        wait_for(lambda: len(edge.commands) == 1)
        topic, command = edge.commands[0]
        assert topic == "spBv1.0/plant1/NCMD/edge1"
        assert (command.metrics[0].name, command.metrics[0].boolean_value) == (
            "Node Control/Rebirth",
            True,
        )
        edge.send("NBIRTH", 0, speed=3.0, temp=21.0)  # the rebirth
        edge.send("NDATA", 1, speed=4.0)
        edge.vanish()
        wait_for(lambda: host.session.stale() != [])
        pipeline.flush()
        assert host.rebirths_requested == 1
    assert historian.latest("acme/plant1/edge1") == {
        "acme/plant1/edge1/speed": (T0 + 4000, 4.0),
        "acme/plant1/edge1/temp": (T0 + 3000, 21.0),
    }
    tag = next(t for t in historian.tags() if t.name == "speed")
    assert [v for _, v in historian.series(tag.id, T0, T0 + 10_000)] == [1.0, 2.0, 3.0, 4.0]
    (letter,) = historian.dead_letters()
    assert letter.error == "sequence gap: expected 2, got 5"
    stale = historian.sql("SELECT kind, data FROM events")
    assert [(kind, orjson.loads(data)["tags"]) for kind, data in stale] == [
        ("stale", ["speed", "temp"])
    ]
    historian.close()


def _retained(port: int, topic: str) -> bytes:
    got: list[bytes] = []
    done = threading.Event()
    client = paho.Client(CallbackAPIVersion.VERSION2)

    def on_message(_c: object, _u: object, message: paho.MQTTMessage) -> None:
        got.append(message.payload)
        done.set()

    client.on_message = on_message
    client.connect("127.0.0.1", port)
    client.subscribe(topic)
    client.loop_start()
    done.wait(5)
    client.disconnect()
    client.loop_stop()
    return got[0]
