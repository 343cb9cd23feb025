from __future__ import annotations

import threading
from collections.abc import Iterator

import orjson
import pytest

from andon.config import IngestSettings
from andon.errors import HistorianUnavailable
from andon.historian import DuckDBHistorian, WriteBatch
from andon.ingest import Pipeline
from andon.signals import Record, StateChange

TOPIC = "andon/v1/acme/p1/mach/l1/m1/"
TS = 1_763_700_000_000


def metrics(seq: int, **values: float) -> bytes:
    return orjson.dumps({"ts": TS + seq * 1000, "seq": seq, "values": values})


@pytest.fixture
def historian() -> Iterator[DuckDBHistorian]:
    h = DuckDBHistorian(":memory:")
    yield h
    h.close()


def test_messages_reach_the_historian_once(historian: DuckDBHistorian) -> None:
    with Pipeline(historian, IngestSettings(batch_size=7)) as pipeline:
        for seq in range(50):
            pipeline.submit(TOPIC + "metrics", metrics(seq, a=seq, b=1.0))
        for seq in range(0, 50, 5):  # redelivered by QoS 1
            pipeline.submit(TOPIC + "metrics", metrics(seq, a=seq, b=1.0))
        pipeline.flush()
        assert pipeline.stats.samples_written == 100
        assert pipeline.stats.duplicates == 10
    tag = next(t for t in historian.tags() if t.name == "a")
    assert [v for _, v in historian.series(tag.id, TS, TS + 60_000)] == [
        float(s) for s in range(50)
    ]


def test_invalid_messages_go_to_dead_letters_with_raw_bytes(historian: DuckDBHistorian) -> None:
    with Pipeline(historian) as pipeline:
        pipeline.submit(TOPIC + "metrics", b"\x00garbage", source="test")
        pipeline.submit(TOPIC + "metrics", metrics(1, a=1.0))
    (letter,) = historian.dead_letters()
    assert (letter.source, letter.topic, letter.payload) == (
        "test",
        TOPIC + "metrics",
        b"\x00garbage",
    )
    assert "not valid JSON" in letter.error
    assert len(historian.tags()) == 1


def test_partial_batches_are_written_after_the_delay(historian: DuckDBHistorian) -> None:
    with Pipeline(historian, IngestSettings(max_delay_s=0.05)) as pipeline:
        pipeline.submit(TOPIC + "state", orjson.dumps({"ts": TS, "code": 10000}))
        for _ in range(100):
            if historian.state_timeline("acme/p1/mach/l1/m1", TS, TS + 1):
                break
            threading.Event().wait(0.02)
        assert historian.state_timeline("acme/p1/mach/l1/m1", TS, TS + 1)


class FlakyHistorian:
    """Fails the first writes as a database that is down would, then recovers."""

    def __init__(self, inner: DuckDBHistorian, failures: int) -> None:
        self.inner = inner
        self.failures = failures

    def write(self, batch: WriteBatch) -> int:
        if self.failures:
            self.failures -= 1
            raise HistorianUnavailable("database is restarting")
        return self.inner.write(batch)

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


def test_a_historian_outage_delays_but_loses_nothing(historian: DuckDBHistorian) -> None:
    flaky = FlakyHistorian(historian, failures=3)
    with Pipeline(flaky, IngestSettings(batch_size=10)) as pipeline:  # type: ignore[arg-type]
        for seq in range(30):
            pipeline.submit(TOPIC + "metrics", metrics(seq, a=1.0))
        pipeline.flush()
        assert pipeline.stats.write_retries == 3
        assert pipeline.stats.samples_written == 30


def test_live_streams_receive_written_records(historian: DuckDBHistorian) -> None:
    received: list[Record] = []

    class Collector:
        def publish(self, records: list[Record]) -> None:
            received.extend(records)

    with Pipeline(historian, streams=[Collector()]) as pipeline:
        pipeline.submit(TOPIC + "state", orjson.dumps({"ts": TS, "code": 180000}))
    assert received == [StateChange("acme/p1/mach/l1/m1", TS, 180000)]
