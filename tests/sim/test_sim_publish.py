"""Publishing the factory to a real MQTT broker (the system Mosquitto on 127.0.0.1:1883)."""

from __future__ import annotations

import socket
import threading
import uuid
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from andon.errors import BrokerError
from andon.sim import Factory, MqttPublisher, load_scenario, run
from andon.sim.messages import Message

BROKER = ("127.0.0.1", 1883)
SECONDS = 300
SCENARIO = """
enterprise: {enterprise}
site: s1
shifts: [{{start: "00:00", hours: 24, breaks: [{{start: "00:01", minutes: 1}}]}}]
lines:
  - area: a1
    name: l1
    buffer_capacity: 3
    order_size: [5, 10]
    products: [p1, p2]
    machines:
      - {{name: press1, kind: press, ideal_cycle_time_s: 2, params: {{mtbf_h: 0.05}}}}
      - {{name: cnc1, kind: cnc, ideal_cycle_time_s: 3}}
"""


class Subscriber:
    """A separate paho client that records everything under one enterprise."""

    def __init__(self, enterprise: str) -> None:
        self.received: list[Message] = []
        self.expected = -1
        self.done = threading.Event()
        self._ready = threading.Event()
        self._client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=f"sub-{enterprise}", protocol=paho.MQTTv5
        )
        self._client.on_connect = lambda c, *_: c.subscribe(f"andon/v1/{enterprise}/#", qos=1)
        self._client.on_subscribe = lambda *_: self._ready.set()
        self._client.on_message = self._on_message

    def __enter__(self) -> Subscriber:
        self._client.connect(*BROKER)
        self._client.loop_start()
        assert self._ready.wait(10), "subscription not acknowledged"
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def _on_message(self, client: paho.Client, userdata: object, msg: paho.MQTTMessage) -> None:
        self.received.append((msg.topic, bytes(msg.payload)))
        if len(self.received) == self.expected:
            self.done.set()


@pytest.mark.integration
def test_every_message_reaches_a_subscriber(tmp_path: Path) -> None:
    enterprise = f"t{uuid.uuid4().hex[:10]}"
    path = tmp_path / "tiny.yaml"
    path.write_text(SCENARIO.format(enterprise=enterprise), encoding="utf-8")
    start = 1_763_700_000_000
    factory = Factory(load_scenario(str(path)), seed=11, start_ms=start)
    sent: list[Message] = []
    replay = Factory(load_scenario(str(path)), seed=11, start_ms=start)
    for _ in range(SECONDS):
        sent.extend(replay.step())
    # Mosquitto drops QoS 1 messages for a subscriber more than max_queued_messages (default
    # 1000) behind; stay below it so that a slow test subscriber cannot lose any.
    assert 400 < len(sent) < 1000
    with Subscriber(enterprise) as subscriber:
        subscriber.expected = len(sent)
        with MqttPublisher(*BROKER, client_id=f"pub-{enterprise}", max_pending=50) as publisher:
            run(factory, publisher, until_ms=start + SECONDS * 1000)
        assert publisher.sent == len(sent)
        assert subscriber.done.wait(15), f"{len(subscriber.received)} of {len(sent)} arrived"
    assert sorted(subscriber.received) == sorted(sent)
    for topic in {topic for topic, _ in sent}:  # MQTT keeps each topic's order
        assert [m for m in subscriber.received if m[0] == topic] == [
            m for m in sent if m[0] == topic
        ]
    channels = {topic.rsplit("/", 1)[1] for topic, _ in sent}
    assert channels == {"metrics", "state", "count", "event"}


def test_an_unreachable_broker_is_a_clear_broker_error() -> None:
    with socket.socket() as probe:  # a loopback port that nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(BrokerError, match=f"127.0.0.1:{port}"), MqttPublisher("127.0.0.1", port):
        pass
