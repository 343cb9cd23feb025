"""Modbus TCP poller (pymodbus): poll groups of registers at their intervals.

The register map comes from the tag mapping (:class:`~andon.connect.tagmap.ModbusDevice`):
each value has a table (holding, input, coil, discrete), an address, a type spanning one to
four 16-bit registers, and the byte order within a register and the word order between them
(devices disagree on both). Each group is read in as few requests as possible: neighbouring
values share one request of at most 125 registers (2000 bits). A poll stamps all its values
with one timestamp, so a group is a consistent snapshot.

The connection is supervised: a timeout or a dropped socket ends the session and the next
one reconnects with back-off. A device that answers with a Modbus exception (an address it
does not have) is a configuration error for that block: logged once, the rest goes on.

>>> decode_registers([0x41AC, 0x0000], "float32", "big", "big")
21.5
>>> decode_registers([0x0000, 0x41AC], "float32", "big", "little")
21.5
>>> decode_registers([0xFFFE], "int16", "big", "big")
-2.0
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import time
from dataclasses import dataclass
from typing import Any

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from andon.connect.records import RecordMaker
from andon.connect.source import Backoff, Link, RecordSink, supervise
from andon.connect.tagmap import ModbusDevice, ModbusGroup, ModbusRegister
from andon.signals import Record

__all__ = ["Block", "ModbusSource", "decode_registers", "plan_reads"]

_logger = logging.getLogger(__name__)
_BACKOFF = Backoff()
_MAX_REGISTERS = 125
_MAX_BITS = 2000
_GAP = 8  # read through a gap this small rather than send another request
_FORMATS = {
    "int16": "h",
    "uint16": "H",
    "int32": "i",
    "uint32": "I",
    "int64": "q",
    "uint64": "Q",
    "float32": "f",
    "float64": "d",
}
_READERS = {
    "holding": "read_holding_registers",
    "input": "read_input_registers",
    "coil": "read_coils",
    "discrete": "read_discrete_inputs",
}


def decode_registers(registers: list[int], kind: str, byte_order: str, word_order: str) -> float:
    """The value that ``registers`` hold, as a float."""
    words = registers if word_order == "big" else registers[::-1]
    raw = b"".join(word.to_bytes(2, "big" if byte_order == "big" else "little") for word in words)
    return float(struct.unpack(">" + _FORMATS[kind], raw)[0])


@dataclass(frozen=True)
class Block:
    """One read request: ``count`` registers (or bits) of ``table`` from ``start``."""

    table: str
    start: int
    count: int
    registers: tuple[ModbusRegister, ...]


def plan_reads(registers: list[ModbusRegister]) -> list[Block]:
    """Group registers into as few read requests as the protocol allows.

    >>> from andon.connect.tagmap import ModbusRegister as R
    >>> regs = [R(address=a, type="float32", asset="a/b", tag=f"t{a}") for a in (0, 2, 40)]
    >>> [(b.table, b.start, b.count) for b in plan_reads(regs)]
    [('holding', 0, 4), ('holding', 40, 2)]
    """
    blocks: list[Block] = []
    by_table: dict[str, list[ModbusRegister]] = {}
    for register in registers:
        by_table.setdefault(register.table, []).append(register)
    for table, members in sorted(by_table.items()):
        limit = _MAX_BITS if table in {"coil", "discrete"} else _MAX_REGISTERS
        current: list[ModbusRegister] = []
        for register in sorted(members, key=lambda r: r.address):
            end = register.address + register.width
            if current and (
                register.address > _end(current) + _GAP or end - current[0].address > limit
            ):
                blocks.append(_block(table, current))
                current = []
            current.append(register)
        blocks.append(_block(table, current))
    return blocks


def _decode(words: list[int], register: ModbusRegister) -> float:
    if register.type == "bool":
        return float(words[0] != 0)
    return decode_registers(words, register.type, register.byte_order, register.word_order)


def _end(registers: list[ModbusRegister]) -> int:
    return max(r.address + r.width for r in registers)


def _block(table: str, registers: list[ModbusRegister]) -> Block:
    start = registers[0].address
    return Block(table, start, _end(registers) - start, tuple(registers))


class ModbusSource:
    """Polls one Modbus TCP device and feeds ``sink``."""

    def __init__(
        self, device: ModbusDevice, sink: RecordSink, *, backoff: Backoff = _BACKOFF
    ) -> None:
        self.device = device
        self.name = device.name or "modbus"
        self.link = Link(f"Modbus {device.host}:{device.port}")
        self.polls = 0
        self._sink = sink
        self._backoff = backoff
        self._records = RecordMaker()
        self._plans = [(group, plan_reads(group.registers)) for group in device.groups]
        self._refused: set[Block] = set()

    async def run(self) -> None:
        """Poll until cancelled, reconnecting after every outage."""
        await supervise(self.link, self._session, self._backoff)

    async def _session(self, link: Link) -> None:
        device = self.device
        client = AsyncModbusTcpClient(
            device.host, port=device.port, timeout=device.timeout_s, retries=0, reconnect_delay=0
        )
        try:
            if not await client.connect():
                raise ConnectionError(f"cannot connect to {device.host}:{device.port}")
            async with asyncio.TaskGroup() as polls:
                for group, plan in self._plans:
                    polls.create_task(self._poll(client, group, plan, link))
        finally:
            with contextlib.suppress(Exception):
                client.close()

    async def _poll(
        self, client: AsyncModbusTcpClient, group: ModbusGroup, plan: list[Block], link: Link
    ) -> None:
        interval = group.interval_ms / 1000
        due = time.monotonic()
        while True:
            ts = int(time.time() * 1000)
            records: list[Record] = []
            for block in plan:
                records.extend(await self._read(client, block, ts))
            self.polls += 1
            link.up()
            if records:
                self._sink.submit_records(records, source=self.name)
            due += interval
            late = time.monotonic() - due
            if late > 0:  # we fell behind (a slow device): skip the missed polls
                due += (late // interval + 1) * interval
            await asyncio.sleep(due - time.monotonic())

    async def _read(self, client: AsyncModbusTcpClient, block: Block, ts: int) -> list[Record]:
        reader = getattr(client, _READERS[block.table])
        try:
            response = await reader(block.start, count=block.count, device_id=self.device.unit_id)
        except ModbusException as exc:
            raise ConnectionError(f"Modbus read failed: {exc}") from exc
        if response.isError():
            if block not in self._refused:
                self._refused.add(block)
                _logger.error(
                    "Modbus %s refused %s %d..%d: %s",
                    self.device.host,
                    block.table,
                    block.start,
                    block.start + block.count - 1,
                    response,
                )
            return []
        return self._samples(block, response, ts)

    def _samples(self, block: Block, response: Any, ts: int) -> list[Record]:
        records = []
        for register in block.registers:
            offset = register.address - block.start
            if block.table in {"coil", "discrete"}:
                raw = float(bool(response.bits[offset]))
            else:
                raw = _decode(list(response.registers[offset : offset + register.width]), register)
            record = self._records.make(register, ts, raw)
            if record is not None:
                records.append(record)
        return records
