"""The Modbus TCP server, polled by pymodbus's client and decoded by the documented map."""

from __future__ import annotations

import struct
from collections.abc import Iterator

import pytest
from pymodbus.client import ModbusTcpClient
from pymodbus.pdu import ExceptionResponse

from andon.broker import free_port
from andon.errors import ConfigError
from andon.sim import Factory, PlantAsset, Snapshot, TagSpec, load_scenario
from andon.sim.modbus import BLOCK, ModbusServer, Register, float32_registers, register_map

START = 1_763_700_000_000


@pytest.fixture(scope="module")
def polled() -> Iterator[tuple[ModbusTcpClient, Factory, Snapshot]]:
    factory = Factory(load_scenario("demo"), seed=3, start_ms=START)
    snapshot = Snapshot(factory.catalog)
    port = free_port()
    with ModbusServer(factory.catalog, snapshot, port=port):
        client = ModbusTcpClient("127.0.0.1", port=port)
        assert client.connect()
        for _ in range(120):
            snapshot.send(factory.step())
        yield client, factory, snapshot
        client.close()


def _read(client: ModbusTcpClient, register: Register, function: int = 4) -> list[int]:
    read = client.read_input_registers if function == 4 else client.read_holding_registers
    response = read(register.address, count=register.words, device_id=1)
    assert not response.isError(), response
    return list(response.registers)


def _decode(client: ModbusTcpClient, register: Register) -> float:
    words = _read(client, register)
    if register.type == "int16":
        return struct.unpack(">h", struct.pack(">H", words[0]))[0] / register.scale
    if register.type == "uint16":
        return words[0]
    if register.type == "uint32":
        return float(words[0] << 16 | words[1])
    raw = {
        "ABCD": struct.pack(">HH", *words),
        "CDAB": struct.pack(">HH", words[1], words[0]),
        "DCBA": struct.pack("<HH", words[1], words[0]),
    }[register.order]
    return float(struct.unpack(">f", raw)[0])


@pytest.mark.integration
def test_every_tag_reads_back_in_every_encoding_of_the_map(
    polled: tuple[ModbusTcpClient, Factory, Snapshot],
) -> None:
    client, factory, snapshot = polled
    rows = register_map(factory.catalog)
    checked = 0
    for row in rows:
        if not row.asset:
            continue
        state = snapshot.read(row.asset)
        value = _decode(client, row)
        if row.name in state.values:
            exact = state.values[row.name]
            if row.type == "int16":  # saturates outside the int16 range (energy counters)
                exact = min(max(exact, -32768 / row.scale), 32767 / row.scale)
            tolerance = 0.5 / row.scale if row.type == "int16" else abs(exact) * 1e-6
            tolerance += 1e-9
            assert value == pytest.approx(exact, abs=tolerance), row
            checked += 1
        elif row.name.startswith("count_"):
            assert value == state.counts.get(row.name.removeprefix("count_"), 0), row
        elif row.name == "state_category":
            assert value == (state.code or 0) // 10000, row
    assert checked == 4 * sum(len(asset.tags) for asset in factory.catalog)


@pytest.mark.integration
def test_the_header_describes_the_map_and_the_clock(
    polled: tuple[ModbusTcpClient, Factory, Snapshot],
) -> None:
    client, factory, _ = polled
    header = client.read_input_registers(0, count=6, device_id=1).registers
    assert header[:4] == [1, BLOCK, len(factory.catalog), BLOCK]
    assert (header[4] << 16 | header[5]) == factory.now_ms // 1000


@pytest.mark.integration
def test_holding_registers_mirror_input_registers_and_refuse_writes(
    polled: tuple[ModbusTcpClient, Factory, Snapshot],
) -> None:
    client = polled[0]
    block = Register(BLOCK, 60, "uint16", "-", "", "", "")
    assert _read(client, block, function=3) == _read(client, block, function=4)
    response = client.write_register(BLOCK + 20, 1, device_id=1)
    assert isinstance(response, ExceptionResponse)
    assert _read(client, block, function=3) == _read(client, block, function=4)


def test_float_byte_orders_and_scaling_are_what_pollers_expect() -> None:
    assert float32_registers(-2.5, "ABCD") == [0xC020, 0x0000]
    assert float32_registers(-2.5, "CDAB") == [0x0000, 0xC020]
    assert float32_registers(-2.5, "DCBA") == [0x0000, 0x20C0]
    assert [TagSpec("t", -20, 60).scale, TagSpec("t", 0, 3000).scale] == [100, 10]


def test_a_plant_too_big_for_one_device_is_refused() -> None:
    asset = PlantAsset("a/s/l/m/x", "press", (TagSpec("x_kw", 0, 1),))
    with pytest.raises(ConfigError, match="326"):
        ModbusServer([asset] * 400, Snapshot([asset]))
