"""Records from connectors, dead letters and their replay, per-source counters."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest

from andon.config import IngestSettings
from andon.historian import DuckDBHistorian
from andon.ingest import Pipeline, prometheus_text
from andon.signals import Event, Metrics, Sample

T0 = 1_763_700_000_000
M1 = "acme/p1/mach/l1/m1"
TOPIC = f"andon/v1/{M1}/metrics"


@pytest.fixture
def historian() -> Iterator[DuckDBHistorian]:
    h = DuckDBHistorian(":memory:")
    yield h
    h.close()


def test_connector_records_are_deduplicated_on_seq_and_time(historian: DuckDBHistorian) -> None:
    with Pipeline(historian) as pipeline:
        records = [Metrics(M1, T0 + i, {"v": float(i)}, seq=i % 256) for i in range(300)]
        pipeline.submit_records(records, source="sparkplug")
        pipeline.submit_records(records[-5:], source="sparkplug")  # a redelivered message
        pipeline.submit_records([Sample(M1, "w", T0, 1.0)] * 2, source="opcua")  # no seq
        pipeline.flush()
    stats = pipeline.stats
    assert (stats.source("sparkplug").duplicates, stats.source("opcua").duplicates) == (5, 0)
    assert stats.source("sparkplug").samples_written == 300
    assert stats.source("opcua").samples_written == 2  # accepted (no seq: not a known copy)
    assert stats.samples_written == 301  # the historian stores one sample per tag and time


def test_rejections_are_counted_per_source_and_kept(historian: DuckDBHistorian) -> None:
    with Pipeline(historian) as pipeline:
        pipeline.reject("opcua", "opc.tcp://h|ns=2;s=X", b"'text'", "not a number")
        assert pipeline.submit(TOPIC, b"[]", source="mqtt") is False
        assert pipeline.submit(TOPIC, b'{"ts": 1763700000000, "values": {"v": 1}}') is True
    stats = pipeline.stats
    assert (stats.rejected, stats.source("opcua").rejected, stats.source("mqtt").rejected) == (
        2,
        1,
        1,
    )
    assert {letter.source for letter in historian.dead_letters()} == {"opcua", "mqtt"}


def test_replay_accepts_what_now_passes_and_keeps_the_rest(historian: DuckDBHistorian) -> None:
    good = orjson.dumps({"ts": T0, "values": {"v": 2.5}})
    with Pipeline(historian) as pipeline:
        pipeline.reject("backfill", TOPIC, good, "mapping was missing then")
        pipeline.submit(TOPIC, b"{broken")
        pipeline.flush()
        letters = historian.dead_letters()
        result = pipeline.replay(letters)
    assert [letter.payload for letter in result.accepted] == [good]
    assert [letter.payload for letter in result.still_rejected] == [b"{broken"]
    assert "not valid JSON" in result.still_rejected[0].error
    assert [letter.payload for letter in historian.dead_letters()] == [b"{broken"]
    assert historian.latest() == {f"{M1}/v": (T0, 2.5)}


def test_streams_see_connector_records(historian: DuckDBHistorian) -> None:
    seen: list[object] = []

    class Collector:
        def publish(self, records: list[object]) -> None:
            seen.extend(records)

    event = Event(M1, T0, "quality", {"tag": "v", "status": "BadSensorFailure", "good": False})
    with Pipeline(historian, IngestSettings(batch_size=1), streams=[Collector()]) as pipeline:  # type: ignore[list-item]
        pipeline.submit_records([event], source="opcua")
        pipeline.flush()
    assert seen == [event]


def test_prometheus_exposition_names_sources_and_totals(historian: DuckDBHistorian) -> None:
    with Pipeline(historian) as pipeline:
        pipeline.submit(TOPIC, orjson.dumps({"ts": T0, "values": {"v": 1.0, "w": 2.0}}))
        pipeline.reject('we"ird', "t", b"", "r")
        pipeline.flush()
    text = prometheus_text(pipeline.stats)
    assert 'andon_ingest_samples_written_total{source="mqtt"} 2' in text
    assert 'andon_ingest_messages_rejected_total{source="we\\"ird"} 1' in text
    assert "andon_ingest_historian_up 1" in text
    assert "# TYPE andon_ingest_buffered_records gauge" in text
    for line in text.splitlines():  # every sample line parses as name{labels} value
        if not line.startswith("#"):
            float(line.rsplit(" ", 1)[1])
