"""Several ingest workers on one MQTT v5 shared subscription split the stream."""

from __future__ import annotations

import threading
import time

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from andon.broker import EmbeddedBroker
from andon.connect import MqttSource, MqttSubscription
from andon.errors import BrokerError

pytestmark = pytest.mark.integration


def test_two_workers_share_the_messages_and_miss_none() -> None:
    got: dict[str, list[bytes]] = {"w1": [], "w2": []}
    lock = threading.Lock()

    def handler(worker: str):  # type: ignore[no-untyped-def]
        def handle(_topic: str, payload: bytes) -> None:
            with lock:
                got[worker].append(payload)

        return handle

    with EmbeddedBroker(kind="mosquitto") as broker:
        workers = [
            MqttSource(
                MqttSubscription(broker.host, broker.port, client_id=name, shared_group="andon"),
                handler(name),
            )
            for name in ("w1", "w2")
        ]
        for worker in workers:
            worker.start()
        publisher = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
        publisher.connect(broker.host, broker.port)
        publisher.loop_start()
        infos = [
            publisher.publish(f"andon/v1/a/m{i % 7}/metrics", b"%d" % i, qos=1) for i in range(400)
        ]
        for info in infos:
            info.wait_for_publish(5)
        deadline = time.monotonic() + 10
        while len(got["w1"]) + len(got["w2"]) < 400 and time.monotonic() < deadline:
            time.sleep(0.02)
        publisher.disconnect()
        publisher.loop_stop()
        for worker in workers:
            worker.stop()
    assert sorted(got["w1"] + got["w2"], key=int) == [b"%d" % i for i in range(400)]
    assert got["w1"]
    assert got["w2"]  # both worked


def test_shared_subscriptions_need_mqtt5() -> None:
    with pytest.raises(BrokerError, match="MQTT v5"):
        MqttSubscription("h", 1883, shared_group="g", mqtt5=False).filters()
