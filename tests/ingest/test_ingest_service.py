"""The ingestion service from a config file: connectors started, stopped, data in place."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from andon.broker import free_port
from andon.errors import ConfigError
from andon.historian import DuckDBHistorian
from andon.ingest import IngestService, default_buffer, load_ingest_settings

M1 = "acme/p1/oven/l1/o1"


@pytest.fixture
def plc_port() -> Iterator[int]:
    """A Modbus device whose holding register 0 reads 215, on a loop in its own thread."""
    port = free_port()
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def start() -> ModbusTcpServer:
        holding = [SimData(0, count=4, values=[215, 0, 0, 0], datatype=DataType.REGISTERS)]
        bits = [SimData(0, count=16, values=False, datatype=DataType.BITS)]
        device = SimDevice(1, simdata=(bits, bits, holding, holding))
        server = ModbusTcpServer(device, address=("127.0.0.1", port))
        await server.serve_forever(background=True)
        return server

    server = asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    yield port
    asyncio.run_coroutine_threadsafe(server.shutdown(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


@pytest.mark.integration
def test_a_config_file_runs_its_connectors_into_the_historian(
    plc_port: int, tmp_path: Path
) -> None:
    config = tmp_path / "andon.yaml"
    config.write_text(
        f"""
db: {tmp_path / "plant.duckdb"}
connect:
  modbus:
    - host: 127.0.0.1
      port: {plc_port}
      groups:
        - interval_ms: 50
          registers:
            - {{address: 0, type: int16, scale: 0.1, unit: degC, asset: {M1}, tag: oven}}
""",
        encoding="utf-8",
    )
    settings, connect = load_ingest_settings(config)
    service = IngestService(settings, connect, default_buffer(settings.db))
    with service:
        assert service.names == [f"Modbus 127.0.0.1:{plc_port}"]
        deadline = time.monotonic() + 10
        while service.pipeline.stats.samples_written < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert (tmp_path / "plant.duckdb.buffer").is_dir()
    historian = DuckDBHistorian(settings.db, read_only=True)
    ((asset, tag, unit),) = [(t.asset, t.name, t.unit) for t in historian.tags()]
    assert (asset, tag, unit) == (M1, "oven", "degC")  # the configured unit, not a guess
    assert historian.latest()[f"{M1}/oven"][1] == 21.5
    historian.close()


def test_nothing_configured_is_refused(tmp_path: Path) -> None:
    settings, connect = load_ingest_settings(None, db=str(tmp_path / "h.duckdb"))
    with (
        pytest.raises(ConfigError, match="nothing to ingest"),
        IngestService(settings, connect, tmp_path / "buffer"),
    ):
        pass


def test_settings_and_connect_come_from_one_file(tmp_path: Path) -> None:
    config = tmp_path / "andon.yaml"
    config.write_text("broker: mqtt://10.0.0.5:1884\nconnect:\n  mqtt: {shared_group: g}\n")
    settings, connect = load_ingest_settings(config, db="postgresql://h/db")
    assert (settings.broker, settings.db, connect.mqtt.shared_group) == (
        "mqtt://10.0.0.5:1884",
        "postgresql://h/db",
        "g",
    )
    assert default_buffer(settings.db) == Path("data/ingest-buffer")
    config.write_text("brokr: x\n")
    with pytest.raises(ConfigError, match="invalid settings"):
        load_ingest_settings(config)
