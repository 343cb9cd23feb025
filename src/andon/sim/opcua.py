"""The virtual plant as an OPC UA server (asyncua), for any OPC UA client to browse.

Address space, in the namespace ``urn:andon:sim``, with string node ids equal to asset paths:

- ``Objects/<enterprise>/<site>/<area>/<line>``: folders (``FolderType``), one per ISA-95
  level; each machine (and the ambient station) is an object below its line;
- one variable per measured tag (``Double``, ``AnalogItemType``) with the properties
  ``EngineeringUnits`` (UNECE code, e.g. ``CEL`` for °C) and ``EURange``; node id
  ``<asset path>/<tag>``;
- per machine: ``state`` (String), ``state_code`` (Int32, DESIGN.md section 3),
  ``reason`` (String, null when none), ``count_total``, ``count_good``, ``count_scrap``
  (UInt64, non-resetting) and ``last_event`` (String).

Values carry the simulated time as their source timestamp. The server runs its own event loop
in a background thread and copies what changed from a :class:`~andon.sim.snapshot.Snapshot`
every ``refresh_s`` seconds, so a fast factory never waits for OPC UA.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Iterable
from datetime import UTC
from types import TracebackType

from asyncua import ua
from asyncua.common.node import Node
from asyncua.server.server import Server
from asyncua.ua.object_ids import ObjectIds
from asyncua.ua.status_codes import StatusCodes

from andon.errors import AndonError
from andon.sim.catalog import COUNTERS, PlantAsset, TagSpec
from andon.sim.snapshot import AssetState, Snapshot

__all__ = ["NAMESPACE_URI", "OpcUaServer", "unece_code"]

_logger = logging.getLogger(__name__)

NAMESPACE_URI = "urn:andon:sim"
_UNECE_URI = "http://www.opcfoundation.org/UA/units/un/cefact"
_UNECE = {
    "°C": "CEL",
    "K": "KEL",
    "rpm": "RPM",
    "N·m": "NU",
    "kW": "KWT",
    "kWh": "KWH",
    "min": "MIN",
    "s": "SEC",
    "%": "P1",
    "mm/s": "C16",
    "kN": "B47",
    "strokes/min": "C94",  # per minute
    "packs/min": "C94",
    "A": "AMP",
    "V": "VLT",
    "N": "NEW",
    "Hz": "HTZ",
    "bar": "BAR",
}
_STATUS: tuple[tuple[str, ua.VariantType], ...] = (
    ("state", ua.VariantType.String),
    ("state_code", ua.VariantType.Int32),
    ("reason", ua.VariantType.String),
    *((f"count_{key}", ua.VariantType.UInt64) for key in COUNTERS),
    ("last_event", ua.VariantType.String),
)


_EMPTY = {
    ua.VariantType.Double: ua.Variant(0.0, ua.VariantType.Double),
    ua.VariantType.String: ua.Variant(None, ua.VariantType.String),
    ua.VariantType.Int32: ua.Variant(0, ua.VariantType.Int32),
    ua.VariantType.UInt64: ua.Variant(0, ua.VariantType.UInt64),
}


def _standard(identifier: int) -> ua.NodeId:
    """The node id of a node of the OPC UA standard namespace (0)."""
    return ua.NodeId(ua.Int32(identifier))


def unece_code(unit: str) -> int:
    """The OPC UA ``UnitId`` of a unit: its UNECE common code packed in an int (-1: unknown).

    >>> unece_code("°C") == (ord("C") << 16) | (ord("E") << 8) | ord("L")
    True
    """
    code = _UNECE.get(unit)
    if code is None:
        return -1
    value = 0
    for char in code:
        value = (value << 8) | ord(char)
    return value


def _status_values(state: AssetState) -> dict[str, object]:
    values: dict[str, object] = {
        "state": state.state,
        "state_code": state.code,
        "reason": state.reason,
        "last_event": state.event,
    }
    values.update({f"count_{key}": state.counts.get(key) for key in COUNTERS})
    return values


class OpcUaServer:
    """Serves ``catalog`` at ``opc.tcp://host:port/andon/`` while inside its context."""

    def __init__(
        self,
        catalog: Iterable[PlantAsset],
        snapshot: Snapshot,
        host: str = "127.0.0.1",
        port: int = 4840,
        *,
        refresh_s: float = 0.5,
    ) -> None:
        self.catalog = list(catalog)
        self.url = f"opc.tcp://{host}:{port}/andon/"
        self._snapshot = snapshot
        self._refresh_s = refresh_s
        self._types: dict[str, ua.VariantType] = {}
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._thread_main, name="andon-opcua", daemon=True)
        self._idx = 0
        self.updates = 0

    def __enter__(self) -> OpcUaServer:
        self._thread.start()
        if not self._ready.wait(60.0):
            raise AndonError(f"OPC UA server at {self.url} did not start within 60 s")
        if self._error is not None:
            raise AndonError(f"OPC UA server at {self.url} failed: {self._error}") from self._error
        _logger.info("OPC UA server on %s", self.url)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30.0)

    def _thread_main(self) -> None:
        try:
            asyncio.run(self._serve())
        except Exception as exc:  # reported to the caller of __enter__
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        server = Server()
        await server.init()
        server.set_endpoint(self.url)
        server.set_server_name("andon virtual factory")
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        self._idx = await server.register_namespace(NAMESPACE_URI)
        await self._build(server)
        await self._waiting(server)
        async with server:
            self._ready.set()
            seen: dict[str, int] = {}
            while not self._stop.is_set():
                await self._refresh(server, seen)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), self._refresh_s)

    # -- the address space ---------------------------------------------------------------

    async def _build(self, server: Server) -> None:
        folders: dict[str, Node] = {}
        for asset in self.catalog:
            parent = server.nodes.objects
            parts = asset.path.split("/")
            for depth in range(1, len(parts)):
                path = "/".join(parts[:depth])
                if path not in folders:
                    folders[path] = await parent.add_folder(
                        self._id(path), self._name(parts[depth - 1])
                    )
                parent = folders[path]
            node = await parent.add_object(self._id(asset.path), self._name(parts[-1]))
            for tag in asset.tags:
                await self._analog(node, f"{asset.path}/{tag.name}", tag)
            if asset.is_machine:
                for name, variant in _STATUS:
                    await self._status(node, f"{asset.path}/{name}", name, variant)

    def _id(self, path: str) -> ua.NodeId:
        return ua.NodeId(ua.String(path), ua.Int16(self._idx))

    def _name(self, name: str) -> ua.QualifiedName:
        return ua.QualifiedName(name, ua.UInt16(self._idx))

    async def _analog(self, parent: Node, node_id: str, tag: TagSpec) -> None:
        """A Double variable of ``AnalogItemType`` with its units and range."""
        attrs = ua.VariableAttributes(
            DisplayName=ua.LocalizedText(tag.name),
            Description=ua.LocalizedText(f"{tag.name} [{tag.unit or '-'}]"),
            DataType=_standard(ObjectIds.Double),
            Value=ua.Variant(0.0, ua.VariantType.Double),
            ValueRank=ua.ValueRank.Scalar,
            AccessLevel=ua.AccessLevel.CurrentRead.mask,
            UserAccessLevel=ua.AccessLevel.CurrentRead.mask,
        )
        item = ua.AddNodesItem(
            ParentNodeId=parent.nodeid,
            ReferenceTypeId=_standard(ObjectIds.HasComponent),
            RequestedNewNodeId=self._id(node_id),
            BrowseName=self._name(tag.name),
            NodeClass=ua.NodeClass.Variable,
            NodeAttributes=attrs,
            TypeDefinition=_standard(ObjectIds.AnalogItemType),
        )
        (result,) = await parent.session.add_nodes([item])
        result.StatusCode.check()
        variable = Node(parent.session, result.AddedNodeId)
        unit = tag.unit or ""
        units = ua.EUInformation(
            NamespaceUri=_UNECE_URI,
            UnitId=unece_code(unit),
            DisplayName=ua.LocalizedText(unit),
            Description=ua.LocalizedText(unit),
        )
        await variable.add_property(
            self._id(f"{node_id}.EngineeringUnits"),
            ua.QualifiedName("EngineeringUnits", 0),
            units,
            datatype=_standard(ObjectIds.EUInformation),
        )
        await variable.add_property(
            self._id(f"{node_id}.EURange"),
            ua.QualifiedName("EURange", 0),
            ua.Range(Low=tag.low, High=tag.high),
            datatype=_standard(ObjectIds.Range),
        )
        self._types[node_id] = ua.VariantType.Double

    async def _status(self, parent: Node, node_id: str, name: str, variant: ua.VariantType) -> None:
        await parent.add_variable(self._id(node_id), self._name(name), _EMPTY[variant])
        self._types[node_id] = variant

    async def _waiting(self, server: Server) -> None:
        """Until the factory speaks, every value is marked as waiting for its first value."""
        status = ua.StatusCode(ua.UInt32(StatusCodes.BadWaitingForInitialData))
        for node_id, variant in self._types.items():
            datavalue = ua.DataValue(_EMPTY[variant], StatusCode=status)
            await server.write_attribute_value(self._id(node_id), datavalue)

    # -- live values ----------------------------------------------------------------------

    async def _refresh(self, server: Server, seen: dict[str, int]) -> None:
        for path, state in self._snapshot.changed(seen):
            stamp = ua.DateTime.fromtimestamp(state.ts / 1000, UTC) if state.ts else None
            values: dict[str, object] = dict(state.values)
            if f"{path}/state" in self._types:
                values.update(_status_values(state))
            for name, value in values.items():
                node_id = f"{path}/{name}"
                variant = self._types.get(node_id)
                if variant is None or (value is None and variant != ua.VariantType.String):
                    continue
                if variant == ua.VariantType.Double and value is not None:
                    value = float(value)  # type: ignore[arg-type]  # a JSON number
                datavalue = ua.DataValue(ua.Variant(value, variant), SourceTimestamp=stamp)
                await server.write_attribute_value(self._id(node_id), datavalue)
                self.updates += 1
