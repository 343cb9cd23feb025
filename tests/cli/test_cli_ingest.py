"""``andon ingest``, ``andon backfill`` and ``andon deadletters`` as a user types them."""

from __future__ import annotations

import base64
import json
import threading
import time
from pathlib import Path

import orjson
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from typer.testing import CliRunner

from andon.broker import EmbeddedBroker
from andon.cli import app
from andon.historian import DuckDBHistorian
from andon.signals import Rejected

runner = CliRunner()
T0 = 1_763_700_000_000
M1 = "acme/p1/a/l1/m1"
TOPIC = f"andon/v1/{M1}/metrics"


def recording(path: Path) -> Path:
    lines = [
        {"topic": TOPIC, "payload": {"ts": T0 + i * 1000, "seq": i, "values": {"v": float(i)}}}
        for i in range(50)
    ]
    lines += lines[:10]  # a recording that overlaps itself: duplicates
    lines.append({"topic": TOPIC, "payload": {"ts": T0, "values": {"v": "high"}}})
    text = "\n".join(json.dumps(line) for line in lines) + "\nthis is not json\n"
    path.write_text(text, encoding="utf-8")
    return path


def series(db: Path, tag: str = "v") -> list[float]:
    historian = DuckDBHistorian(db, read_only=True)
    try:
        info = next(t for t in historian.tags() if t.name == tag)
        return [v for _, v in historian.series(info.id, 0, 2**42)]
    finally:
        historian.close()


def test_backfill_a_recording_through_the_pipeline(tmp_path: Path) -> None:
    db = tmp_path / "h.duckdb"
    result = runner.invoke(
        app, ["backfill", str(recording(tmp_path / "rec.jsonl")), "--db", str(db)]
    )
    assert result.exit_code == 0, result.output
    assert "62 messages, 50 samples written, 10 duplicates, 2 dead-lettered" in result.output
    assert series(db) == [float(i) for i in range(50)]
    listed = runner.invoke(app, ["deadletters", "list", "--db", str(db), "--json"])
    assert listed.exit_code == 0
    letters = [json.loads(line) for line in listed.output.splitlines()]
    assert {letter["source"] for letter in letters} == {"backfill"}
    assert sorted(letter["error"][:16] for letter in letters) == [
        "metrics: value o",
        "not JSON: invali",
    ]
    payloads = sorted(base64.b64decode(letter["payload_b64"]) for letter in letters)
    assert payloads == [b"this is not json\n", b'{"ts":1763700000000,"values":{"v":"high"}}']


def test_backfill_a_csv_table(tmp_path: Path) -> None:
    path = tmp_path / "m1.csv"
    path.write_text(
        "time,temp_c,power_kw\n" + "".join(f"{T0 + i * 1000},{20 + i},{i}\n" for i in range(100)),
        encoding="utf-8",
    )
    db = tmp_path / "h.duckdb"
    args = ["backfill", str(path), "--db", str(db), "--asset", M1, "--time-column", "time"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "200 samples written" in result.output
    assert series(db, "power_kw") == [float(i) for i in range(100)]


def test_backfill_explains_bad_options(tmp_path: Path) -> None:
    path = tmp_path / "m1.csv"
    path.write_text("ts,v\n1,2\n", encoding="utf-8")
    result = runner.invoke(app, ["backfill", str(path), "--db", str(tmp_path / "h.duckdb")])
    assert result.exit_code == 1
    assert "give the asset" in result.output


def test_replay_sends_fixed_letters_through_and_keeps_the_rest(tmp_path: Path) -> None:
    db = tmp_path / "h.duckdb"
    historian = DuckDBHistorian(db)
    good = orjson.dumps({"ts": T0, "values": {"v": 4.5}})
    historian.write_dead_letters(
        [
            Rejected(T0, "mqtt", TOPIC, good, "rejected by an older andon"),
            Rejected(T0 + 1, "mqtt", TOPIC, b"{", "not valid JSON"),
            Rejected(T0 + 2, "opcua", "opc.tcp://h|i=1", b"x", "text"),
        ]
    )
    historian.close()
    dry = runner.invoke(app, ["deadletters", "replay", "--db", str(db), "--dry-run"])
    assert "1 of 3 would be accepted now" in dry.output
    only_mqtt = ["--db", str(db), "--source", "mqtt"]
    replayed = runner.invoke(app, ["deadletters", "replay", *only_mqtt])
    assert replayed.exit_code == 0, replayed.output
    assert "replayed 1 of 2; 1 still rejected" in replayed.output
    assert series(db) == [4.5]
    table = runner.invoke(app, ["deadletters", "list", "--db", str(db)])
    assert "2 dead letters" in table.output
    assert "opc.tcp://h|i=1" in table.output


@pytest.mark.integration
def test_ingest_from_a_broker_for_a_while(tmp_path: Path) -> None:
    db = tmp_path / "h.duckdb"
    with EmbeddedBroker(kind="mosquitto") as broker:

        def publish_when_subscribed() -> None:
            client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
            client.connect(broker.host, broker.port)
            client.loop_start()
            time.sleep(1.0)  # andon subscribes meanwhile
            for i in range(20):
                payload = orjson.dumps({"ts": T0 + i, "seq": i, "values": {"v": float(i)}})
                client.publish(TOPIC, payload, qos=1).wait_for_publish(5)
            client.disconnect()
            client.loop_stop()

        publisher = threading.Thread(target=publish_when_subscribed)
        publisher.start()
        args = [
            "ingest",
            "--broker",
            broker.url,
            "--db",
            str(db),
            "--duration",
            "3",
            "--every",
            "1",
        ]
        result = runner.invoke(app, args)
        publisher.join()
    assert result.exit_code == 0, result.output
    assert f"ingesting from mqtt {broker.url} into {db}" in result.output
    assert "stopped: 20 samples written" in result.output
    assert series(db) == [float(i) for i in range(20)]


def test_ingest_without_sources_says_what_to_give(tmp_path: Path) -> None:
    result = runner.invoke(app, ["ingest", "--db", str(tmp_path / "h.duckdb"), "--duration", "1"])
    assert result.exit_code == 1
    assert "nothing to ingest" in result.output


def test_ingest_names_a_bad_connect_section(tmp_path: Path) -> None:
    config = tmp_path / "andon.yaml"
    config.write_text("connect:\n  modbus:\n    - host: plc\n      groups: []\n", encoding="utf-8")
    result = runner.invoke(app, ["ingest", "--config", str(config), "--duration", "1"])
    assert result.exit_code == 1
    assert "connect.modbus[0].groups" in result.output
