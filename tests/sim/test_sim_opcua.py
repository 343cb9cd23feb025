"""The OPC UA server, browsed by asyncua's own client (not andon's connector)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
from asyncua import Client, ua

from andon.broker import free_port
from andon.sim import Factory, Snapshot, load_scenario
from andon.sim.opcua import NAMESPACE_URI, OpcUaServer, unece_code

CNC = "acme/plant1/machining/line1/cnc1"


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[OpcUaServer, Factory, Snapshot]]:
    factory = Factory(load_scenario("demo"), seed=2, start_ms=1_763_700_000_000)
    snapshot = Snapshot(factory.catalog)
    with OpcUaServer(factory.catalog, snapshot, port=free_port(), refresh_s=0.05) as server:
        yield server, factory, snapshot


def _browse(url: str, check: Any) -> Any:
    async def session() -> Any:
        async with Client(url) as client:
            idx = await client.get_namespace_index(NAMESPACE_URI)
            return await check(client, idx)

    return asyncio.run(session())


def _wait_for_updates(server: OpcUaServer, count: int) -> None:
    deadline = time.monotonic() + 10
    while server.updates < count:
        assert time.monotonic() < deadline, "the server did not pick up the snapshot"
        time.sleep(0.05)


@pytest.mark.integration
def test_the_plant_is_a_tree_of_isa95_folders(
    served: tuple[OpcUaServer, Factory, Snapshot],
) -> None:
    server = served[0]

    async def check(client: Client, idx: int) -> dict[str, Any]:
        found: dict[str, Any] = {}
        node = client.nodes.objects
        for level in CNC.split("/"):
            node = await node.get_child(f"{idx}:{level}")
            found[level] = await node.read_type_definition()
        found["variables"] = {
            (await child.read_browse_name()).Name for child in await node.get_children()
        }
        found["lines"] = {
            (await child.read_browse_name()).Name
            for area in ("machining", "forming")
            for child in await (
                await client.nodes.objects.get_child(
                    [f"{idx}:acme", f"{idx}:plant1", f"{idx}:{area}"]
                )
            ).get_children()
        }
        return found

    found = _browse(server.url, check)
    folder = ua.NodeId(ua.ObjectIds.FolderType)
    assert [found[level] for level in CNC.split("/")[:-1]] == [folder] * 4
    assert found["cnc1"] == ua.NodeId(ua.ObjectIds.BaseObjectType)
    assert found["lines"] == {"line1", "line2"}
    tags = {"air_temp_c", "process_temp_c", "spindle_speed_rpm", "torque_nm", "tool_wear_min"}
    status = {"state", "state_code", "reason", "count_total", "count_good", "count_scrap"}
    assert tags | status | {"power_kw", "last_event"} == found["variables"]


@pytest.mark.integration
def test_variables_carry_engineering_units_and_ranges(
    served: tuple[OpcUaServer, Factory, Snapshot],
) -> None:
    server = served[0]

    async def check(client: Client, idx: int) -> tuple[Any, ...]:
        torque = client.get_node(ua.NodeId(f"{CNC}/torque_nm", idx))
        units = await (await torque.get_child("0:EngineeringUnits")).read_value()
        span = await (await torque.get_child("0:EURange")).read_value()
        kind = await torque.read_type_definition()
        return units, span, kind, await torque.read_data_type()

    units, span, kind, datatype = _browse(server.url, check)
    assert kind == ua.NodeId(ua.ObjectIds.AnalogItemType)
    assert datatype == ua.NodeId(ua.ObjectIds.Double)
    assert units.DisplayName.Text == "N·m"
    assert units.UnitId == unece_code("N·m") == (ord("N") << 8) | ord("U")
    assert units.NamespaceUri == "http://www.opcfoundation.org/UA/units/un/cefact"
    assert (span.Low, span.High) == (0.0, 100.0)


@pytest.mark.integration
def test_values_follow_the_factory_with_simulated_timestamps(
    served: tuple[OpcUaServer, Factory, Snapshot],
) -> None:
    server, factory, snapshot = served
    for _ in range(30):
        snapshot.send(factory.step())
    _wait_for_updates(server, server.updates + 1)
    time.sleep(0.2)  # one more refresh: the whole step is in
    expected = snapshot.read(CNC)

    async def check(client: Client, idx: int) -> dict[str, Any]:
        names = ["air_temp_c", "tool_wear_min", "state", "state_code", "count_total"]
        values = {}
        for name in names:
            values[name] = await client.get_node(ua.NodeId(f"{CNC}/{name}", idx)).read_data_value()
        return values

    values = _browse(server.url, check)
    assert values["air_temp_c"].Value.Value == expected.values["air_temp_c"]
    assert values["tool_wear_min"].Value.Value == expected.values["tool_wear_min"]
    assert values["state"].Value.Value == expected.state
    assert values["state_code"].Value.Value == expected.code
    assert values["count_total"].Value.Value == expected.counts["total"]
    stamp = values["air_temp_c"].SourceTimestamp
    assert round(stamp.timestamp() * 1000) == factory.now_ms
