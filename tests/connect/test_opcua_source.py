"""The OPC UA connector against a real asyncua server on a free loopback port."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import orjson
import pytest
from asyncua import ua
from asyncua.server.server import Server

from andon.broker import free_port
from andon.connect import Backoff, OpcUaSource, connect_config
from andon.historian import DuckDBHistorian
from andon.ingest import Pipeline

pytestmark = pytest.mark.integration
M1 = "acme/p1/press/l1/p1"
NS = "urn:andon:test"


class Plc:
    """A small OPC UA server: Line1/Force (Double), Line1/Strokes (Int32), Line1/Label."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.server = Server()
        self.force: object = None

    async def prepare(self, force: float) -> None:
        """Build the address space (slow: asyncua loads the standard nodes), not listening."""
        logging.getLogger("asyncua").setLevel(logging.ERROR)
        await self.server.init()
        self.server.set_endpoint(f"opc.tcp://127.0.0.1:{self.port}/plc")
        ns = await self.server.register_namespace(NS)
        line = await self.server.nodes.objects.add_object(ua.NodeId("Line1", ns), f"{ns}:Line1")
        self.force = await line.add_variable(ua.NodeId("Line1.Force", ns), f"{ns}:Force", force)
        self.strokes = await line.add_variable(ua.NodeId("Line1.Strokes", ns), f"{ns}:Strokes", 0)
        self.label = await line.add_variable(ua.NodeId("Line1.Label", ns), f"{ns}:Label", "A")

    async def write(self, node: object, value: object, status: int = ua.StatusCodes.Good) -> None:
        variant = ua.Variant(value, ua.VariantType.Double if isinstance(value, float) else None)
        stamped = ua.DataValue(
            variant, StatusCode=ua.StatusCode(status), SourceTimestamp=datetime.now(UTC)
        )
        await node.write_value(stamped)  # type: ignore[attr-defined]
        await asyncio.sleep(0.1)  # one publishing interval: each change is its own notification

    async def stop(self) -> None:
        await self.server.stop()


async def until(condition: Callable[[], bool], timeout_s: float = 15) -> None:
    for _ in range(int(timeout_s / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise TimeoutError("condition not met in time")


def source_for(port: int, pipeline: Pipeline) -> OpcUaSource:
    config = connect_config(
        {
            "opcua": [
                {
                    "url": f"opc.tcp://127.0.0.1:{port}/plc",
                    "publishing_ms": 50,
                    "tags": [
                        {
                            "node": "ns=2;s=Line1.Force",
                            "asset": M1,
                            "tag": "force_kn",
                            "scale": 0.001,
                        },
                        {"browse_path": "2:Line1/2:Strokes", "asset": M1, "tag": "strokes"},
                        {"node": "ns=2;s=Line1.Label", "asset": M1, "tag": "label"},
                    ],
                }
            ]
        }
    )
    return OpcUaSource(config.opcua[0], pipeline, backoff=Backoff(0.2, 1.0), watchdog_s=0.5)


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(scenario(), 60))


def test_values_quality_and_recovery_after_outages_and_a_server_restart() -> None:
    port = free_port()
    historian = DuckDBHistorian(":memory:")
    pipeline = Pipeline(historian)

    def latest(tag: str) -> float | None:
        pipeline.flush()
        value = historian.latest(M1).get(f"{M1}/{tag}")
        return None if value is None else value[1]

    async def scenario() -> None:
        plc = Plc(port)
        await plc.prepare(force=12_000.0)
        source = source_for(port, pipeline)
        task = asyncio.create_task(source.run())
        await until(lambda: source.link.outages == 1)  # no server yet: retried, not fatal
        assert not task.done()
        await plc.server.start()
        try:
            await until(lambda: latest("force_kn") == 12.0)
            await plc.write(plc.strokes, 7)
            await until(lambda: latest("strokes") == 7.0)
            await plc.write(plc.force, 13_000.0, ua.StatusCodes.BadSensorFailure)
            await plc.write(plc.force, 14_000.0)
            await until(lambda: latest("force_kn") == 14.0)
            await plc.stop()  # the PLC restarts: sessions and subscriptions are gone
            await until(lambda: not source.link.is_up)
            await plc.server.start()
            await plc.write(plc.force, 15_000.0)
            await until(lambda: latest("force_kn") == 15.0)
            assert source.link.outages == 2  # each outage counted (and logged) once
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await plc.stop()

    with pipeline:
        run(scenario)
    tag = next(t for t in historian.tags() if t.name == "force_kn")
    values = [v for _, v in historian.series(tag.id, 0, 2**42)]
    assert 13.0 not in values  # a bad value is not a measurement
    assert values[-1] == 15.0
    quality = [orjson.loads(d) for (d,) in historian.sql("SELECT data FROM events ORDER BY ts")]
    assert [(q["status"], q["good"]) for q in quality] == [
        ("BadSensorFailure", False),
        ("Good", True),
    ]
    (letter,) = historian.dead_letters()
    assert (letter.source, letter.payload) == ("opcua", b"'A'")
    assert letter.topic.endswith("|ns=2;s=Line1.Label")
    historian.close()
