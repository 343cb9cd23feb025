"""The virtual plant as a Modbus TCP server (pymodbus), for any Modbus poller to read.

One device (unit id 1) holds the whole plant; input registers (function 4) and holding
registers (function 3) show the same read-only image. ``REGISTERS.md`` beside this module
documents the layout; in short, with each asset's block at ``200 x (i + 1)`` (``i`` = the
asset's index in the catalog: machines in scenario order, then the ambient station):

======  ======================================================================
offset  content
======  ======================================================================
0       state category (state code // 10000; 1 running, 18 equipment failure)
1       number of tags ``n`` (at most 20)
2-3     total parts, uint32, high word first          (4-5 good, 6-7 scrap)
8-9     time of the last value, epoch seconds, uint32, high word first
10      update counter (wraps at 65536)
20+2k   tag ``k`` as float32, big-endian (ABCD)
60+2k   tag ``k`` as float32, word-swapped (CDAB)
100+2k  tag ``k`` as float32, little-endian (DCBA)
140+k   tag ``k`` as int16 x ``scale`` (100, 10 or 1, the largest that fits its range)
======  ======================================================================

Block 0 (addresses 0-199) describes the map: 0 map version, 1 block size (200), 2 number of
assets, 3 address of the first block, 4-5 simulated clock in epoch seconds.
:func:`register_map` lists every register with its asset, tag, type, order and scale
(``andon sim --modbus-map`` prints it as CSV).

>>> from andon.sim.catalog import AMBIENT_TAGS, PlantAsset
>>> rows = register_map([PlantAsset("a/s/utilities/ambient/station1", "ambient", AMBIENT_TAGS)])
>>> [(r.address, r.order) for r in rows if r.name == "humidity_pct"]
[(220, 'ABCD'), (260, 'CDAB'), (300, 'DCBA'), (340, 'scaled')]
>>> float32_registers(1.5, "ABCD"), float32_registers(1.5, "CDAB"), float32_registers(1.5, "DCBA")
([16320, 0], [0, 16320], [0, 49215])
"""

from __future__ import annotations

import asyncio
import logging
import struct
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from andon.errors import AndonError, ConfigError
from andon.sim.catalog import COUNTERS, PlantAsset
from andon.sim.snapshot import AssetState, Snapshot

__all__ = ["BLOCK", "MAX_TAGS", "ModbusServer", "Register", "float32_registers", "register_map"]

_logger = logging.getLogger(__name__)

MAP_VERSION = 1
BLOCK = 200
MAX_TAGS = 20
DEVICE_ID = 1
_ABCD, _CDAB, _DCBA, _SCALED = 20, 60, 100, 140
_ORDERS = (("ABCD", _ABCD), ("CDAB", _CDAB), ("DCBA", _DCBA))


@dataclass(frozen=True, slots=True)
class Register:
    """One value of the map: where it is, how it is encoded, what it is."""

    address: int
    words: int
    type: str  # uint16, uint32, float32, int16
    order: str  # ABCD, CDAB, DCBA, scaled (int16 x scale), or "-" for one word
    asset: str
    name: str
    unit: str
    scale: int = 1


def float32_registers(value: float, order: str) -> list[int]:
    """The two registers of a float32 in byte order ``ABCD``, ``CDAB`` or ``DCBA``."""
    a, b, c, d = struct.pack(">f", value)
    return {
        "ABCD": [a << 8 | b, c << 8 | d],
        "CDAB": [c << 8 | d, a << 8 | b],
        "DCBA": [d << 8 | c, b << 8 | a],
    }[order]


def _uint32(value: int) -> list[int]:
    value &= 0xFFFFFFFF
    return [value >> 16, value & 0xFFFF]


def _int16(value: float, scale: int) -> int:
    return min(max(round(value * scale), -32768), 32767) & 0xFFFF


def register_map(catalog: Iterable[PlantAsset]) -> list[Register]:
    """Every register of the plant's map, in address order per asset."""
    assets = list(catalog)
    rows = [
        Register(0, 1, "uint16", "-", "", "map_version", ""),
        Register(1, 1, "uint16", "-", "", "block_size", ""),
        Register(2, 1, "uint16", "-", "", "assets", ""),
        Register(3, 1, "uint16", "-", "", "first_block", ""),
        Register(4, 2, "uint32", "ABCD", "", "clock", "s"),
    ]
    for index, asset in enumerate(assets):
        rows.extend(_asset_rows(asset, BLOCK * (index + 1)))
    return rows


def _asset_rows(asset: PlantAsset, base: int) -> list[Register]:
    path = asset.path
    rows = [
        Register(base, 1, "uint16", "-", path, "state_category", ""),
        Register(base + 1, 1, "uint16", "-", path, "tags", ""),
        *(
            Register(base + 2 + 2 * i, 2, "uint32", "ABCD", path, f"count_{key}", "")
            for i, key in enumerate(COUNTERS)
        ),
        Register(base + 8, 2, "uint32", "ABCD", path, "updated", "s"),
        Register(base + 10, 1, "uint16", "-", path, "updates", ""),
    ]
    for k, tag in enumerate(asset.tags):
        unit = tag.unit or ""
        for order, offset in _ORDERS:
            rows.append(Register(base + offset + 2 * k, 2, "float32", order, path, tag.name, unit))
        rows.append(
            Register(base + _SCALED + k, 1, "int16", "scaled", path, tag.name, unit, tag.scale)
        )
    return rows


class _Image:
    """The register image: encodes assets' latest states into their blocks."""

    def __init__(self, assets: list[PlantAsset], snapshot: Snapshot) -> None:
        self.assets = {asset.path: (BLOCK * (i + 1), asset) for i, asset in enumerate(assets)}
        self.snapshot = snapshot
        self.seen: dict[str, int] = {}
        self.size = BLOCK * (len(assets) + 1)
        self.clock = 0

    def header(self) -> list[int]:
        return [MAP_VERSION, BLOCK, len(self.assets), BLOCK, *_uint32(self.clock // 1000)]

    def sync(self, registers: list[int], start: int) -> None:
        """Write what changed since the last sync into ``registers`` (address ``start``)."""
        for path, state in self.snapshot.changed(self.seen):
            base, asset = self.assets[path]
            self._write(registers, base - start, asset, state)
            self.clock = max(self.clock, state.ts)
        registers[-start : 6 - start] = self.header()

    def _write(self, regs: list[int], at: int, asset: PlantAsset, state: AssetState) -> None:
        regs[at] = (state.code or 0) // 10000
        regs[at + 1] = len(asset.tags)
        for i, key in enumerate(COUNTERS):
            regs[at + 2 + 2 * i : at + 4 + 2 * i] = _uint32(state.counts.get(key, 0))
        regs[at + 8 : at + 10] = _uint32(state.ts // 1000)
        regs[at + 10] = (regs[at + 10] + 1) & 0xFFFF
        for k, tag in enumerate(asset.tags):
            value = state.values.get(tag.name)
            if value is None:
                continue
            for order, offset in _ORDERS:
                regs[at + offset + 2 * k : at + offset + 2 * k + 2] = float32_registers(
                    value, order
                )
            regs[at + _SCALED + k] = _int16(value, tag.scale)


class ModbusServer:
    """Serves ``catalog`` over Modbus TCP at ``host:port`` while inside its context."""

    def __init__(
        self,
        catalog: Iterable[PlantAsset],
        snapshot: Snapshot,
        host: str = "127.0.0.1",
        port: int = 502,
    ) -> None:
        assets = list(catalog)
        if BLOCK * (len(assets) + 1) > 65536:
            raise ConfigError(f"{len(assets)} assets do not fit one Modbus device (at most 326)")
        crowded = [a.path for a in assets if len(a.tags) > MAX_TAGS]
        if crowded:
            raise ConfigError(f"more than {MAX_TAGS} tags do not fit a Modbus block: {crowded}")
        self.catalog = assets
        self.host, self.port = host, port
        self._image = _Image(assets, snapshot)
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: ModbusTcpServer | None = None
        self._thread = threading.Thread(target=self._thread_main, name="andon-modbus", daemon=True)

    def __enter__(self) -> ModbusServer:
        self._thread.start()
        if not self._ready.wait(30.0):
            raise AndonError(f"Modbus server on {self.host}:{self.port} did not start in 30 s")
        if self._error is not None:
            why = f"Modbus server on {self.host}:{self.port} failed: {self._error}"
            raise AndonError(why) from self._error
        _logger.info("Modbus TCP server on %s:%d (unit %d)", self.host, self.port, DEVICE_ID)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._loop is not None and self._server is not None:
            shutdown = self._server.shutdown()  # type: ignore[no-untyped-call]  # pymodbus: untyped
            asyncio.run_coroutine_threadsafe(shutdown, self._loop).result(10.0)
        self._thread.join(10.0)

    def _thread_main(self) -> None:
        try:
            asyncio.run(self._serve())
        except Exception as exc:  # reported to the caller of __enter__
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        block = SimData(
            0, count=self._image.size, values=0, datatype=DataType.REGISTERS, readonly=True
        )
        device = SimDevice(DEVICE_ID, simdata=[block], action=self._on_request)
        self._server = ModbusTcpServer([device], address=(self.host, self.port))
        await self._server.serve_forever(background=True)
        self._ready.set()
        await self._server.serving

    async def _on_request(
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        """Refresh the image before each request; refuse writes (the map is read-only)."""
        if set_values is not None:
            return ExcCodes.ILLEGAL_FUNCTION
        self._image.sync(registers, start_address)
        return None
