"""The virtual factory: every machine of a scenario on one simulated clock.

>>> from andon.sim.scenario import load_scenario
>>> factory = Factory(load_scenario("demo"), seed=1, start_ms=1_763_700_000_000)
>>> factory.machines[0].path, factory.machines[0].kind
('acme/plant1/machining/line1/cnc1', 'cnc')
>>> messages = factory.step()
>>> factory.now_ms - 1_763_700_000_000
1000
>>> sorted({topic.rsplit("/", 1)[1] for topic, _ in messages})
['count', 'event', 'metrics', 'state']
>>> messages[-1][0]  # the plant's ambient station publishes humidity and air temperature
'andon/v1/acme/plant1/utilities/ambient/station1/metrics'
>>> [asset.kind for asset in factory.catalog][-2:]
['packer', 'ambient']
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from andon.sim.catalog import AMBIENT_TAGS, PlantAsset
from andon.sim.chance import Draws
from andon.sim.climate import Ambient
from andon.sim.kinds import KIND_MODELS
from andon.sim.lines import Line
from andon.sim.machines import Machine
from andon.sim.messages import Message, Outbox
from andon.sim.scenario import Scenario
from andon.sim.shifts import ShiftCalendar

__all__ = ["Factory", "MachineInfo"]

_logger = logging.getLogger(__name__)

_STEP_MS = 1000
_PLANT_STREAM = 2_000_000


@dataclass(frozen=True, slots=True)
class MachineInfo:
    """Who a simulated machine is: its asset path, line, name, kind and ideal cycle time."""

    path: str
    line: str
    name: str
    kind: str
    ideal_cycle_time_s: float


class Factory:
    """All machines of ``scenario`` advancing together, deterministic for ``seed``.

    ``start_ms`` is floored to a whole second, so metrics fall on whole simulated seconds.
    The first :meth:`step` also publishes every machine's initial state, totals and order
    at the start instant.
    """

    def __init__(self, scenario: Scenario, seed: int, start_ms: int) -> None:
        self.scenario = scenario
        self.seed = seed
        start_ms -= start_ms % _STEP_MS
        self._now = start_ms
        self._started = False
        tz = ZoneInfo(scenario.timezone)
        offset = datetime.fromtimestamp(start_ms / 1000, UTC).astimezone(tz).utcoffset()
        offset_ms = int(offset.total_seconds() * 1000) if offset else 0
        self._calendar = ShiftCalendar(scenario.shifts, tz)
        self._ambient = Ambient(scenario.ambient, Draws(seed, _PLANT_STREAM), offset_ms)
        self._station = Outbox(scenario.ambient_path)
        self._machines: list[Machine] = []
        self._info: list[MachineInfo] = []
        for index, spec in enumerate(scenario.lines):
            line = Line(spec, seed, index, start_ms)
            for position, machine in enumerate(spec.machines):
                draws = Draws(seed, len(self._machines))
                self._machines.append(Machine(machine, line, position, draws, self._ambient))
                self._info.append(
                    MachineInfo(
                        machine.path,
                        spec.path,
                        machine.name,
                        machine.kind,
                        machine.ideal_cycle_time_s,
                    )
                )
        _logger.debug("factory %r: %d machines from %d", scenario.name, len(self._info), start_ms)

    @property
    def machines(self) -> list[MachineInfo]:
        """The simulated machines, lines in scenario order and machines in flow order."""
        return list(self._info)

    @property
    def catalog(self) -> list[PlantAsset]:
        """Every publishing asset with its tags: the machines, then the ambient station."""
        assets = [PlantAsset(m.path, m.kind, KIND_MODELS[m.kind].TAGS) for m in self._info]
        return [*assets, PlantAsset(self.scenario.ambient_path, "ambient", AMBIENT_TAGS)]

    @property
    def now_ms(self) -> int:
        """The simulated clock: everything up to this instant has been published."""
        return self._now

    @property
    def calendar(self) -> ShiftCalendar:
        """The plant's shift calendar (planned breaks and off-shift time)."""
        return self._calendar

    def step(self) -> list[Message]:
        """Advance one simulated second; return the MQTT messages it produced."""
        messages: list[Message] = []
        for machine in self._machines:
            machine.outbox.target = messages
        t0, t1 = self._now, self._now + _STEP_MS
        if not self._started:
            self._started = True
            planned = self._calendar.state_at(t0)
            for machine in self._machines:
                machine.start(t0, planned)
        self._ambient.update(t1)
        planned = self._calendar.state_at(t1)
        for machine in self._machines:
            machine.advance(t0, t1, planned)
        self._station.target = messages
        humidity, air = round(self._ambient.humidity_pct, 2), round(self._ambient.air_c, 2)
        self._station.metrics(t1, {"humidity_pct": humidity, "air_temp_c": air})
        self._now = t1
        return messages
