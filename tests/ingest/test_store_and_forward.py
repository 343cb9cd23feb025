"""Store-and-forward: nothing is lost while the historian is down, and order is kept."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from andon.broker import EmbeddedBroker
from andon.config import IngestSettings
from andon.connect import MqttSource, MqttSubscription
from andon.errors import HistorianError, HistorianUnavailable
from andon.historian import DuckDBHistorian, PostgresHistorian, WriteBatch
from andon.ingest import DiskBuffer, Pipeline

from .conftest import OwnDatabase

TOPIC = "andon/v1/acme/p1/mach/l1/m1/metrics"
TS = 1_763_700_000_000


def message(seq: int) -> bytes:
    return orjson.dumps({"ts": TS + seq * 1000, "seq": seq, "values": {"a": float(seq), "b": 1.0}})


class Switchable:
    """A real DuckDB historian whose writes fail while ``down`` (the outage itself is ours)."""

    def __init__(self, inner: DuckDBHistorian) -> None:
        self.inner = inner
        self.down = False
        self.refuse = False
        self.writes: list[int] = []

    def write(self, batch: WriteBatch) -> int:
        if self.down:
            raise HistorianUnavailable("database is restarting")
        if self.refuse:
            raise HistorianError("check constraint violated")
        self.writes.append(min(m.seq or 0 for m in batch.metrics) if batch.metrics else -1)
        return self.inner.write(batch)

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


@pytest.fixture
def switchable() -> Iterator[Switchable]:
    inner = DuckDBHistorian(":memory:")
    yield Switchable(inner)
    inner.close()


def values_of(historian: DuckDBHistorian | PostgresHistorian) -> list[float]:
    tag = next(t for t in historian.tags() if t.name == "a")
    return [v for _, v in historian.series(tag.id, TS, TS + 10**9)]


def test_batches_spill_while_down_and_drain_in_order(
    switchable: Switchable, tmp_path: Path
) -> None:
    settings = IngestSettings(batch_size=10, max_delay_s=0.05)
    with Pipeline(switchable, settings, buffer=DiskBuffer(tmp_path)) as pipeline:  # type: ignore[arg-type]
        for seq in range(30):
            pipeline.submit(TOPIC, message(seq))
        pipeline.flush()
        switchable.down = True
        for seq in range(30, 80):
            pipeline.submit(TOPIC, message(seq))
        pipeline.flush()  # returns: the batches are safe on disk
        assert pipeline.stats.spilled_batches >= 5
        assert pipeline.stats.historian_available is False
        assert pipeline.stats.buffered_records == 50
        switchable.down = False
        for seq in range(80, 100):  # new data queues behind the backlog
            pipeline.submit(TOPIC, message(seq))
        assert pipeline.drain(timeout_s=10)
    assert values_of(switchable.inner) == [float(s) for s in range(100)]
    assert switchable.writes == sorted(switchable.writes)  # drained oldest first
    assert pipeline.stats.historian_available is True
    assert pipeline.stats.source("mqtt").samples_written == 200


def test_a_backlog_survives_a_restart_of_andon(switchable: Switchable, tmp_path: Path) -> None:
    switchable.down = True
    with Pipeline(switchable, IngestSettings(batch_size=7), buffer=DiskBuffer(tmp_path)) as first:  # type: ignore[arg-type]
        for seq in range(20):
            first.submit(TOPIC, message(seq))
    assert first.stats.buffered_records == 20  # closed with the historian still down
    switchable.down = False
    with Pipeline(switchable, buffer=DiskBuffer(tmp_path)) as second:  # type: ignore[arg-type]
        assert second.drain(timeout_s=10)
        assert second.stats.drained_batches == 3
    assert values_of(switchable.inner) == [float(s) for s in range(20)]


def test_a_batch_refused_for_good_is_quarantined_not_dropped(
    switchable: Switchable, tmp_path: Path
) -> None:
    switchable.refuse = True
    with Pipeline(
        switchable, IngestSettings(batch_size=5), buffer=DiskBuffer(tmp_path)
    ) as pipeline:  # type: ignore[arg-type]
        for seq in range(5):
            pipeline.submit(TOPIC, message(seq))
        pipeline.flush()
    assert pipeline.stats.quarantined_batches == 1
    assert len(list((tmp_path / "quarantine").glob("*.batch"))) == 1


@pytest.mark.integration
def test_a_postgres_outage_mid_stream_loses_nothing_and_duplicates_nothing(
    own_database: OwnDatabase, tmp_path: Path
) -> None:
    """Mosquitto -> MQTT source -> pipeline -> PostgreSQL, which goes away and comes back."""
    historian = PostgresHistorian(own_database.url, connect_timeout_s=1)
    settings = IngestSettings(batch_size=50, max_delay_s=0.1)
    pipeline = Pipeline(historian, settings, buffer=DiskBuffer(tmp_path / "buffer"))
    with EmbeddedBroker(kind="mosquitto") as broker, pipeline:
        sub = MqttSubscription(broker.host, broker.port, client_id="t-outage")
        with MqttSource(sub, pipeline.submit) as source:
            publisher = _publisher(broker.port)
            _publish(publisher, range(0, 300))
            _wait(lambda: pipeline.stats.samples_written >= 600)
            own_database.block()  # the database refuses and cuts every connection
            _publish(publisher, range(300, 600))
            _wait(lambda: source.messages >= 600)
            pipeline.flush()
            assert pipeline.stats.spilled_batches > 0
            assert pipeline.stats.historian_available is False
            own_database.unblock()
            _publish(publisher, range(600, 700))
            _publish(publisher, range(250, 350))  # QoS 1 redeliveries across the outage
            _wait(lambda: source.messages >= 800)
            assert pipeline.drain(timeout_s=30)
            publisher.disconnect()
            publisher.loop_stop()
    count, distinct = own_database.query(
        "SELECT count(*), count(DISTINCT (tag_id, ts)) FROM samples"
    )[0]
    historian.close()
    assert (count, distinct) == (1400, 1400)
    assert pipeline.stats.duplicates == 100


def _publisher(port: int) -> paho.Client:
    client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def _publish(client: paho.Client, seqs: range) -> None:
    infos = [client.publish(TOPIC, message(seq), qos=1) for seq in seqs]
    for info in infos:
        info.wait_for_publish(timeout=10)


def _wait(condition: object, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        threading.Event().wait(0.02)
