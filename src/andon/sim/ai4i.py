"""Simulated CNC data in the shape of the AI4I 2020 dataset: one row per machining process.

:class:`Ai4iRecorder` is a sink that watches the CNC machines' messages and writes one row per
part, as AI4I does: the part's product variant (L, M, H), its mean air and process
temperature in kelvin, speed, torque and tool wear while it was machined, and whether it
ended in a failure (``machine_failure`` 1, with the failure reason as ``mode``). A model
trained on the real AI4I data can score these rows directly, which is how the simulator's
failure physics is checked against the real dataset (``bench/sim_ai4i.py``).

>>> from andon.sim import Factory, load_scenario
>>> factory = Factory(load_scenario("demo"), seed=1, start_ms=1_763_700_000_000)
>>> recorder = Ai4iRecorder(factory.scenario)
>>> for _ in range(600):
...     recorder.send(factory.step())
>>> row = recorder.rows[0]
>>> row.type in "LMH", 290.0 < row.air_temp_k < 310.0, row.machine_failure in (0, 1)
(True, True, True)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from andon.namespace import TOPIC_PREFIX
from andon.sim.messages import Message
from andon.sim.scenario import Scenario

__all__ = ["KELVIN", "Ai4iRecorder", "Ai4iRow"]

KELVIN = 273.15
_VARIANTS = "LMH"  # product index 0, 1, 2 (modulo 3) of a line: AI4I's quality variants
_SIGNALS = ("air_temp_c", "process_temp_c", "spindle_speed_rpm", "torque_nm", "tool_wear_min")


@dataclass(frozen=True, slots=True)
class Ai4iRow:
    """One machined part, with AI4I's columns (temperatures in kelvin)."""

    asset: str
    ts: int  # when the part was completed or failed
    type: str
    air_temp_k: float
    process_temp_k: float
    rotational_speed_rpm: float
    torque_nm: float
    tool_wear_min: float
    machine_failure: int
    mode: str | None


@dataclass
class _Part:
    """What one CNC machine is doing: its state, product and the part in work."""

    products: tuple[str, ...]
    state: str = ""
    variant: str = "L"
    sums: list[float] = field(default_factory=lambda: [0.0] * len(_SIGNALS))
    seconds: int = 0

    def add(self, values: dict[str, float]) -> None:
        for i, name in enumerate(_SIGNALS):
            self.sums[i] += values[name]
        self.seconds += 1

    def row(self, asset: str, ts: int, mode: str | None) -> Ai4iRow:
        air, process, rpm, torque, wear = (s / self.seconds for s in self.sums)
        self.sums, self.seconds = [0.0] * len(_SIGNALS), 0
        return Ai4iRow(
            asset, ts, self.variant, air + KELVIN, process + KELVIN, rpm, torque, wear,
            int(mode is not None), mode,
        )  # fmt: skip


class Ai4iRecorder:
    """A sink collecting one :class:`Ai4iRow` per part of every CNC machine of ``scenario``."""

    def __init__(self, scenario: Scenario) -> None:
        self._parts = {
            m.path: _Part(line.products)
            for line in scenario.lines
            for m in line.machines
            if m.kind == "cnc"
        }
        self.rows: list[Ai4iRow] = []

    def send(self, messages: list[Message]) -> None:
        """Follow one step of the plant."""
        for topic, payload in messages:
            asset, _, channel = topic[len(TOPIC_PREFIX) :].rpartition("/")
            part = self._parts.get(asset)
            if part is not None:
                self._follow(asset, part, channel, orjson.loads(payload))

    def _follow(self, asset: str, part: _Part, channel: str, doc: dict[str, Any]) -> None:
        if channel == "metrics":
            if part.state == "running":
                part.add(doc["values"])
        elif channel == "state":
            part.state = doc["state"]
            if part.state == "equipment_failure" and part.seconds:
                self.rows.append(part.row(asset, doc["ts"], doc["reason"]))
        elif channel == "count" and part.seconds:
            self.rows.append(part.row(asset, doc["ts"], None))
        elif channel == "event" and doc["kind"] == "order_start":
            index = part.products.index(doc["product"]) if doc["product"] in part.products else 0
            part.variant = _VARIANTS[index % 3]
