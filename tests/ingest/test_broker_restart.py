"""The broker dies and comes back mid-stream: ingestion resumes and nothing doubles."""

from __future__ import annotations

import time
from collections.abc import Callable

import orjson
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from andon.broker import EmbeddedBroker
from andon.connect import MqttSource, MqttSubscription
from andon.historian import DuckDBHistorian
from andon.ingest import Pipeline

pytestmark = pytest.mark.integration
TOPIC = "andon/v1/acme/p1/mach/l1/m1/metrics"
T0 = 1_763_700_000_000


def wait_for(condition: Callable[[], bool], timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def publish(port: int, seqs: range) -> None:
    client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    client.connect("127.0.0.1", port)
    client.loop_start()
    for seq in seqs:
        body = {"ts": T0 + seq * 1000, "seq": seq, "values": {"v": float(seq)}}
        client.publish(TOPIC, orjson.dumps(body), qos=1).wait_for_publish(5)
    client.disconnect()
    client.loop_stop()


def test_ingestion_resumes_after_the_broker_restarts() -> None:
    historian = DuckDBHistorian(":memory:")
    broker = EmbeddedBroker(kind="mosquitto")
    broker.start()
    try:
        with Pipeline(historian) as pipeline:
            sub = MqttSubscription(broker.host, broker.port, client_id="t-broker-restart")
            with MqttSource(sub, pipeline.submit) as source:
                publish(broker.port, range(0, 50))
                wait_for(lambda: source.messages == 50)
                broker.stop()  # killed: the source loses its connection
                wait_for(lambda: not source.connected)
                broker.start()  # same port; paho reconnects with back-off and resubscribes
                wait_for(lambda: source.connected)
                publish(broker.port, range(40, 100))  # overlaps: a publisher resending
                wait_for(lambda: source.messages == 110)
                pipeline.flush()
        assert pipeline.stats.duplicates == 10
        tag = historian.tags()[0].id
        assert [v for _, v in historian.series(tag, T0, T0 + 10**6)] == [
            float(s) for s in range(100)
        ]
    finally:
        broker.stop()
        historian.close()
