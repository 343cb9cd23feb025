"""The Modbus TCP poller against a real pymodbus server on a free loopback port."""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import Callable

import pytest
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from andon.broker import free_port
from andon.connect import Backoff, ModbusSource, connect_config
from andon.connect.modbus import decode_registers, plan_reads
from andon.historian import DuckDBHistorian
from andon.ingest import Pipeline

M1 = "acme/p1/oven/l1/o1"


def words(fmt: str, value: float) -> list[int]:
    """Big-endian 16-bit registers holding ``value`` packed as ``fmt``."""
    raw = struct.pack(">" + fmt, value)
    return [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]


def swapped(registers: list[int]) -> list[int]:
    return [int.from_bytes(r.to_bytes(2, "big"), "little") for r in registers]


@pytest.mark.parametrize(
    ("kind", "value", "byte_order", "word_order", "registers"),
    [
        ("float32", 21.5, "big", "big", words("f", 21.5)),
        ("float32", 21.5, "big", "little", words("f", 21.5)[::-1]),
        ("float32", 21.5, "little", "big", swapped(words("f", 21.5))),
        ("float32", 21.5, "little", "little", swapped(words("f", 21.5))[::-1]),
        ("float64", -1.25e-3, "big", "little", words("d", -1.25e-3)[::-1]),
        ("int16", -2, "big", "big", words("h", -2)),
        ("uint16", 65535, "big", "big", [65535]),
        ("int32", -70000, "big", "little", words("i", -70000)[::-1]),
        ("uint32", 4_000_000_000, "big", "big", words("I", 4_000_000_000)),
        ("int64", -(2**40), "big", "big", words("q", -(2**40))),
        ("uint64", 2**50, "little", "little", swapped(words("Q", 2**50))[::-1]),
    ],
)
def test_register_decoding(
    kind: str, value: float, byte_order: str, word_order: str, registers: list[int]
) -> None:
    assert decode_registers(registers, kind, byte_order, word_order) == value


def test_reads_are_grouped_within_protocol_limits() -> None:
    config = connect_config(
        {
            "modbus": [
                {
                    "host": "h",
                    "groups": [
                        {
                            "registers": [
                                *[
                                    {"address": a, "asset": M1, "tag": f"h{a}"}
                                    for a in range(0, 200)
                                ],
                                {"address": 500, "type": "float64", "asset": M1, "tag": "far"},
                                {
                                    "address": 3,
                                    "table": "coil",
                                    "type": "bool",
                                    "asset": M1,
                                    "tag": "c3",
                                },
                                {
                                    "address": 0,
                                    "table": "input",
                                    "type": "int32",
                                    "asset": M1,
                                    "tag": "i0",
                                },
                            ]
                        }
                    ],
                }
            ]
        }
    )
    blocks = plan_reads(config.modbus[0].groups[0].registers)
    assert [(b.table, b.start, b.count) for b in blocks] == [
        ("coil", 3, 1),
        ("holding", 0, 125),
        ("holding", 125, 75),
        ("holding", 500, 4),
        ("input", 0, 2),
    ]


def device() -> SimDevice:
    holding = [SimData(0, count=20, values=0, datatype=DataType.REGISTERS)]
    inputs = [SimData(0, count=4, values=0, datatype=DataType.REGISTERS)]
    coils = [SimData(0, count=16, values=False, datatype=DataType.BITS)]
    discrete = [SimData(0, count=16, values=False, datatype=DataType.BITS)]
    return SimDevice(1, simdata=(coils, discrete, holding, inputs))


async def start_server(port: int) -> ModbusTcpServer:
    server = ModbusTcpServer(device(), address=("127.0.0.1", port))
    await server.serve_forever(background=True)
    return server


async def until(condition: Callable[[], bool], timeout_s: float = 15) -> None:
    for _ in range(int(timeout_s / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise TimeoutError("condition not met in time")


@pytest.mark.integration
def test_polls_scale_and_recover_after_a_device_restart() -> None:
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)  # its reconnect chatter
    port = free_port()
    config = connect_config(
        {
            "modbus": [
                {
                    "host": "127.0.0.1",
                    "port": port,
                    "timeout_s": 1,
                    "groups": [
                        {
                            "interval_ms": 50,
                            "registers": [
                                {
                                    "address": 0,
                                    "type": "float32",
                                    "word_order": "little",
                                    "asset": M1,
                                    "tag": "temp_c",
                                },
                                {
                                    "address": 2,
                                    "type": "int16",
                                    "scale": 0.1,
                                    "asset": M1,
                                    "tag": "pressure_bar",
                                },
                                {
                                    "address": 4,
                                    "table": "coil",
                                    "type": "bool",
                                    "asset": M1,
                                    "tag": "door_open",
                                },
                            ],
                        },
                        {
                            "interval_ms": 200,
                            "registers": [
                                {
                                    "address": 10,
                                    "type": "uint32",
                                    "deadband": 5,
                                    "asset": M1,
                                    "tag": "strokes",
                                },
                                {
                                    "address": 900,
                                    "asset": M1,
                                    "tag": "missing",
                                },  # not on the device
                                {"address": 14, "asset": M1, "role": "state"},
                                {"address": 15, "type": "uint32", "asset": M1, "role": "good"},
                                {"address": 17, "type": "uint32", "asset": M1, "role": "scrap"},
                            ],
                        },
                    ],
                }
            ]
        }
    )
    historian = DuckDBHistorian(":memory:")
    pipeline = Pipeline(historian)

    def latest(tag: str) -> float | None:
        pipeline.flush()
        value = historian.latest(M1).get(f"{M1}/{tag}")
        return None if value is None else value[1]

    async def write(registers: dict[int, list[int]], coil: bool | None = None) -> None:
        client = AsyncModbusTcpClient("127.0.0.1", port=port)
        await client.connect()
        for address, values in registers.items():
            await client.write_registers(address, values, device_id=1)
        if coil is not None:
            await client.write_coil(4, coil, device_id=1)
        client.close()

    async def scenario() -> None:
        server = await start_server(port)
        source = ModbusSource(config.modbus[0], pipeline, backoff=Backoff(0.1, 0.5))
        task = asyncio.create_task(source.run())
        try:
            await write(
                {0: words("f", 180.25)[::-1], 2: words("h", -15), 10: words("I", 100)}, True
            )
            await until(lambda: latest("temp_c") == 180.25 and latest("door_open") == 1.0)
            assert latest("pressure_bar") == -1.5
            await until(lambda: latest("strokes") == 100.0)
            await write({10: words("I", 103)})  # inside the deadband: not kept
            await asyncio.sleep(0.5)
            await write({10: words("I", 110)})
            await until(lambda: latest("strokes") == 110.0)
            await write({14: [40000], 15: words("I", 95), 17: words("I", 5)})
            await until(lambda: _counted(historian, pipeline) == (100, 95, 5))
            await server.shutdown()
            await until(lambda: not source.link.is_up)
            server = await start_server(port)  # a fresh device: registers back to zero
            await until(lambda: latest("temp_c") == 0.0)
            assert source.link.outages == 1
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await server.shutdown()

    with pipeline:
        asyncio.run(asyncio.wait_for(scenario(), 60))
    strokes = next(t for t in historian.tags() if t.name == "strokes")
    values = [v for _, v in historian.series(strokes.id, 0, 2**42)]
    assert 103.0 not in values  # moved less than the deadband
    assert values.index(100.0) < values.index(110.0)
    assert "missing" not in {t.name for t in historian.tags()}
    assert [s.code for s in historian.state_timeline(M1, 0, 2**42)][:2] == [0, 40000]
    historian.close()


def _counted(historian: DuckDBHistorian, pipeline: Pipeline) -> tuple[int, int, int] | None:
    pipeline.flush()
    counts = historian.count_totals(M1, 0, 2**42)
    return None if not counts else (counts[-1].total, counts[-1].good, counts[-1].scrap)
