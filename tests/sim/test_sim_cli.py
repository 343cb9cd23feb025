"""``andon sim`` as a user types it: backfills, the Modbus map, errors, all protocols at once."""

from __future__ import annotations

import asyncio
import csv
import io
import threading
import time
import uuid
from pathlib import Path

import orjson
import paho.mqtt.client as paho
import pytest
from asyncua import Client, ua
from paho.mqtt.enums import CallbackAPIVersion
from pymodbus.client import ModbusTcpClient
from rich.console import Console
from typer.testing import CliRunner

from andon.broker import free_port, wait_for_port
from andon.cli import app
from andon.cli.sim import SimOptions, parse_duration, run_sim
from andon.historian import DuckDBHistorian
from andon.sim import Factory, load_scenario
from andon.sim.modbus import register_map
from andon.sparkplug_b import Payload

runner = CliRunner()


def test_a_backfill_records_every_message_as_json_lines(tmp_path: Path) -> None:
    out = tmp_path / "hour.jsonl"
    result = runner.invoke(app, ["sim", "--backfill", "10m", "--out", str(out), "--seed", "3"])
    assert result.exit_code == 0, result.output
    lines = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert len(lines) > 600 * 8  # at least metrics from 7 machines and the ambient station
    assert {line["topic"].split("/")[-1] for line in lines} == {
        "metrics",
        "state",
        "count",
        "event",
    }
    stamps = [line["payload"]["ts"] for line in lines if line["topic"].endswith("/metrics")]
    assert max(stamps) - min(stamps) == 599_000
    assert time.time() * 1000 - max(stamps) < 60_000  # the history ends now


def test_a_backfill_into_a_historian(tmp_path: Path) -> None:
    db = tmp_path / "plant.duckdb"
    result = runner.invoke(app, ["sim", "--backfill", "5m", "--db", str(db)])
    assert result.exit_code == 0, result.output
    historian = DuckDBHistorian(db, read_only=True)
    try:
        assets = {tag.asset for tag in historian.tags()}
        assert "acme/plant1/utilities/ambient/station1" in assets
        assert len(assets) == 8
        assert {a.path for a in historian.assets()} >= {
            m.path for m in load_scenario("demo").machines
        }
    finally:
        historian.close()


def test_the_modbus_map_prints_as_csv() -> None:
    result = runner.invoke(app, ["sim", "--scenario", "stamping", "--modbus-map"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    expected = register_map(Factory(load_scenario("stamping"), 0, 0).catalog)
    assert len(rows) == len(expected)
    assert rows[-1]["asset"] == "acme/plant2/utilities/ambient/station1"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fault", "explode=1", "--broker", "none", "--modbus", "1"], "unknown fault"),
        (["--backfill", "1h"], "exactly one of --out"),
        (["--backfill", "soon", "--out", "x.jsonl"], "duration 'soon'"),
        (["--sparkplug", "--broker", "none"], "give a --broker"),
        (["--broker", "none"], "nothing to serve"),
        (["--scenario", "no-such-plant"], "cannot read file"),
    ],
)
def test_mistakes_are_one_clear_line(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["sim", *args])
    assert result.exit_code == 1
    assert message in result.output


def test_durations_read_like_people_write_them() -> None:
    assert [parse_duration(t) for t in ("45", "45s", "2m", "1.5h", "7d")] == [
        45.0,
        45.0,
        120.0,
        5400.0,
        604800.0,
    ]


@pytest.mark.integration
def test_one_command_serves_mqtt_sparkplug_opcua_and_modbus_at_once(tmp_path: Path) -> None:
    enterprise = f"e{uuid.uuid4().hex[:10]}"
    scenario = tmp_path / "plant.yaml"
    scenario.write_text(
        load_scenario_text().replace("enterprise: acme", f"enterprise: {enterprise}"),
        encoding="utf-8",
    )
    topics: list[str] = []
    subscriber = _subscribe(enterprise, topics)
    opcua, modbus = free_port(), free_port()
    options = SimOptions(
        scenario=str(scenario),  # Sparkplug B by default beside the JSON
        opcua=opcua,
        modbus=modbus,
        speed=20.0,
        duration_s=80.0,
    )
    runner_thread = threading.Thread(target=run_sim, args=(options, Console(file=io.StringIO())))
    runner_thread.start()
    try:
        assert wait_for_port("127.0.0.1", opcua, 60.0)
        time.sleep(2.0)  # a few simulated seconds go by
        value = asyncio.run(_read_opcua(opcua, f"{enterprise}/plant1/machining/line1/cnc1"))
        assert 15.0 < value < 35.0  # air temperature in °C
        client = ModbusTcpClient("127.0.0.1", port=modbus)
        assert client.connect()
        header = client.read_input_registers(0, count=3, device_id=1).registers
        client.close()
        assert header == [1, 200, 8]
    finally:
        runner_thread.join(60)
        subscriber.disconnect()
        subscriber.loop_stop()
    assert not runner_thread.is_alive()
    assert any(t.startswith(f"andon/v1/{enterprise}/") for t in topics)
    kinds = {t.split("/")[2] for t in topics if t.startswith("spBv1.0/")}
    assert {"NBIRTH", "DBIRTH", "DDATA", "NDEATH"} <= kinds


def load_scenario_text() -> str:
    from importlib.resources import files

    return (files("andon.sim") / "scenarios" / "demo.yaml").read_text(encoding="utf-8")


def _subscribe(enterprise: str, topics: list[str]) -> paho.Client:
    ready = threading.Event()
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"sub-{enterprise}")

    def on_connect(c: paho.Client, *_: object) -> None:
        c.subscribe([(f"andon/v1/{enterprise}/#", 0), (f"spBv1.0/{enterprise}/#", 0)])

    def on_message(c: paho.Client, userdata: object, msg: paho.MQTTMessage) -> None:
        if msg.topic.startswith("spBv1.0/"):
            Payload.FromString(msg.payload)  # decodes
        topics.append(msg.topic)

    client.on_connect = on_connect
    client.on_subscribe = lambda *_: ready.set()
    client.on_message = on_message
    client.connect("127.0.0.1", 1883)
    client.loop_start()
    assert ready.wait(10)
    return client


async def _read_opcua(port: int, asset: str) -> float:
    async with Client(f"opc.tcp://127.0.0.1:{port}/andon/") as client:
        idx = await client.get_namespace_index("urn:andon:sim")
        node = client.get_node(ua.NodeId(f"{asset}/air_temp_c", idx))
        return float(await node.read_value())
