"""Ingestion over HTTP: live counters, Prometheus metrics, dead letters (engineers only)."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import orjson
import pytest
from fastapi.testclient import TestClient

from andon.api import create_app
from andon.api.credentials import Credentials, Role
from andon.config import Settings
from andon.historian import DuckDBHistorian
from andon.ingest import Pipeline

T0 = 1_763_700_000_000
TOPIC = "andon/v1/acme/p1/a/l1/m1/metrics"


@pytest.fixture
def historian() -> Iterator[DuckDBHistorian]:
    h = DuckDBHistorian(":memory:")
    yield h
    h.close()


@pytest.fixture
def pipeline(historian: DuckDBHistorian) -> Iterator[Pipeline]:
    with Pipeline(historian) as running:
        running.submit(TOPIC, orjson.dumps({"ts": T0, "seq": 1, "values": {"v": 1.0, "w": 2.0}}))
        running.submit(TOPIC, orjson.dumps({"ts": T0, "seq": 1, "values": {"v": 1.0, "w": 2.0}}))
        running.submit(TOPIC, b"\xffnot json", source="backfill")
        running.flush()
        yield running


def test_stats_report_totals_and_each_source(
    historian: DuckDBHistorian, pipeline: Pipeline
) -> None:
    app = create_app(Settings(db=":memory:"), historian=historian, ingest_stats=pipeline.stats)
    with TestClient(app) as client:
        stats = client.get("/api/v1/ingest/stats").json()
    assert stats["running"] is True
    assert (stats["received"], stats["duplicates"], stats["rejected"]) == (3, 1, 1)
    assert stats["samples_written"] == 2
    assert stats["historian_available"] is True
    assert stats["by_source"]["mqtt"]["samples_written"] == 2
    assert stats["by_source"]["backfill"]["rejected"] == 1


def test_prometheus_metrics_are_plain_text(historian: DuckDBHistorian, pipeline: Pipeline) -> None:
    app = create_app(Settings(db=":memory:"), historian=historian, ingest_stats=pipeline.stats)
    with TestClient(app) as client:
        response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert 'andon_ingest_messages_duplicate_total{source="mqtt"} 1' in response.text
    assert "andon_ingest_buffered_batches 0" in response.text


def test_without_ingestion_in_the_process_nothing_is_running(historian: DuckDBHistorian) -> None:
    with TestClient(create_app(Settings(db=":memory:"), historian=historian)) as client:
        assert client.get("/api/v1/ingest/stats").json()["running"] is False
        assert client.get("/metrics").text.startswith("# andon: no ingestion")


def test_dead_letters_carry_the_raw_payload_and_need_an_engineer(
    historian: DuckDBHistorian, pipeline: Pipeline
) -> None:
    keys = {
        role: Credentials(historian).create_key(role, role.label, actor="test")[0]
        for role in (Role.OPERATOR, Role.ENGINEER)
    }
    app = create_app(Settings(db=":memory:"), historian=historian, ingest_stats=pipeline.stats)
    with TestClient(app) as client:
        operator = {"Authorization": f"Bearer {keys[Role.OPERATOR]}"}
        engineer = {"Authorization": f"Bearer {keys[Role.ENGINEER]}"}
        assert client.get("/api/v1/deadletters", headers=operator).status_code == 403
        assert client.get("/api/v1/ingest/stats", headers=operator).status_code == 200
        letters = client.get("/api/v1/deadletters", headers=engineer).json()
        only_mqtt = client.get("/api/v1/deadletters?source=mqtt", headers=engineer).json()
    (letter,) = letters
    assert (letter["source"], letter["topic"]) == ("backfill", TOPIC)
    assert base64.b64decode(letter["payload_b64"]) == b"\xffnot json"
    assert letter["payload_text"] is None  # not UTF-8
    assert "not valid JSON" in letter["error"]
    assert only_mqtt == []
