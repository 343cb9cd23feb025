"""The MQTT source against real brokers: the system Mosquitto and andon's embedded one."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from andon.broker import EmbeddedBroker
from andon.connect import MqttSource, MqttSubscription
from andon.errors import BrokerError

pytestmark = pytest.mark.integration


def publish(host: str, port: int, messages: list[tuple[str, bytes]], mqtt5: bool) -> None:
    client = paho.Client(
        CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5 if mqtt5 else paho.MQTTv311
    )
    client.connect(host, port)
    client.loop_start()
    infos = [client.publish(topic, payload, qos=1) for topic, payload in messages]
    for info in infos:
        info.wait_for_publish(timeout=10)
    client.disconnect()
    client.loop_stop()


def collect(
    source_sub: MqttSubscription, messages: list[tuple[str, bytes]]
) -> list[tuple[str, bytes]]:
    got: list[tuple[str, bytes]] = []
    done = threading.Event()

    def handler(topic: str, payload: bytes) -> None:
        got.append((topic, payload))
        if len(got) >= len(messages):
            done.set()

    with MqttSource(source_sub, handler):
        publish(source_sub.host, source_sub.port, messages, source_sub.mqtt5)
        done.wait(15)
    return got


def unique_messages(n: int) -> list[tuple[str, bytes]]:
    run = uuid.uuid4().hex[:8]
    return [(f"andon/v1/t{run}/cell/metrics", b'{"seq": %d}' % i) for i in range(n)]


def test_system_mosquitto_delivers_every_message() -> None:
    messages = unique_messages(500)
    topic = messages[0][0]
    sub = MqttSubscription(
        "127.0.0.1", 1883, topics=(topic,), client_id=f"t-{uuid.uuid4().hex}", persistent=False
    )
    assert collect(sub, messages) == messages


@pytest.fixture(params=["amqtt", "mosquitto"])
def embedded(request: pytest.FixtureRequest) -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker(kind=request.param) as broker:
        yield broker


def test_embedded_broker_delivers_every_message(embedded: EmbeddedBroker) -> None:
    messages = unique_messages(200)
    sub = MqttSubscription(
        embedded.host, embedded.port, client_id="t-embedded", mqtt5=embedded.kind == "mosquitto"
    )
    assert collect(sub, messages) == messages


def test_source_reconnects_and_resubscribes_after_a_broker_restart() -> None:
    broker = EmbeddedBroker(kind="mosquitto")
    broker.start()
    got: list[str] = []
    sub = MqttSubscription(broker.host, broker.port, client_id="t-restart")
    source = MqttSource(sub, lambda topic, _p: got.append(topic))
    source.start()
    try:
        broker.stop()
        time.sleep(0.5)
        assert not source.connected
        broker.start()  # same port
        deadline = time.monotonic() + 20
        while not source.connected and time.monotonic() < deadline:
            time.sleep(0.1)
        assert source.connected
        publish(broker.host, broker.port, [("andon/v1/a/cell/metrics", b"{}")], mqtt5=True)
        deadline = time.monotonic() + 5
        while not got and time.monotonic() < deadline:
            time.sleep(0.05)
        assert got == ["andon/v1/a/cell/metrics"]
    finally:
        source.stop()
        broker.stop()


def test_unreachable_broker_is_a_clear_error() -> None:
    from andon.broker import free_port

    with pytest.raises(BrokerError, match="cannot reach MQTT broker"):
        MqttSource(MqttSubscription("127.0.0.1", free_port()), lambda *_: None).start()


@pytest.fixture
def mosquitto() -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker(kind="mosquitto") as broker:
        yield broker


def test_messages_not_acknowledged_come_back_to_the_next_session(
    mosquitto: EmbeddedBroker,
) -> None:
    embedded = mosquitto
    client_id = f"andon-ack-{uuid.uuid4().hex[:8]}"
    sub = MqttSubscription("127.0.0.1", embedded.port, topics=("ack/#",), client_id=client_id)
    acks: list[object] = []
    got: list[bytes] = []

    def keep(_topic: str, payload: bytes, *, ack: object) -> None:
        got.append(payload)
        acks.append(ack)

    with MqttSource(sub, keep, manual_ack=True):
        publish("127.0.0.1", embedded.port, [("ack/t", b"%d" % i) for i in range(5)], True)
        deadline = time.monotonic() + 10
        while len(got) < 5 and time.monotonic() < deadline:
            time.sleep(0.02)
        for ack in acks[:2]:
            ack()  # type: ignore[operator]  # the first two are safe, the rest are not
        time.sleep(0.2)
    again: list[bytes] = []
    with MqttSource(sub, lambda _t, payload, *, ack: again.append(payload), manual_ack=True):
        deadline = time.monotonic() + 10
        while len(again) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)
    assert got == [b"0", b"1", b"2", b"3", b"4"]
    assert again == [b"2", b"3", b"4"]


def test_acknowledging_after_commit_needs_mqtt5() -> None:
    with pytest.raises(BrokerError, match="MQTT v5"):
        MqttSource(MqttSubscription("h", 1883, mqtt5=False), lambda *_: None, manual_ack=True)
