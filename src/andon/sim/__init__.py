"""The virtual factory: simulated machines that speak MQTT, Sparkplug B, OPC UA and Modbus.

A :class:`Factory` steps every machine of a :class:`Scenario` one simulated second at a time
and returns unified-namespace messages; :func:`run` paces it and hands each step to a
:class:`Sink`: an :class:`MqttPublisher` (JSON), a :class:`SparkplugPublisher`, a
:class:`Snapshot` that the OPC UA and Modbus servers read (``andon.sim.opcua.OpcUaServer``
and ``andon.sim.modbus.ModbusServer``, imported on demand: asyncua takes a second to load),
a :class:`JsonlRecorder`, several at once through a :class:`Fanout`, and a
:class:`FaultInjector` in front of any of them.

>>> from andon import sim
>>> factory = sim.Factory(sim.load_scenario("demo"), seed=42, start_ms=1_763_700_000_000)
>>> len(factory.machines)
7
>>> topic, payload = factory.step()[0]
>>> topic.startswith("andon/v1/acme/plant1/")
True
"""

from __future__ import annotations

from andon.sim.catalog import PlantAsset, TagSpec
from andon.sim.factory import Factory, MachineInfo
from andon.sim.faults import FaultInjector, FaultPlan
from andon.sim.pacing import Fanout, Sink, run
from andon.sim.publish import MqttPublisher
from andon.sim.recording import JsonlRecorder
from andon.sim.scenario import Scenario, load_scenario
from andon.sim.snapshot import Snapshot
from andon.sim.sparkplug import SparkplugPublisher

__all__ = [
    "Factory",
    "Fanout",
    "FaultInjector",
    "FaultPlan",
    "JsonlRecorder",
    "MachineInfo",
    "MqttPublisher",
    "PlantAsset",
    "Scenario",
    "Sink",
    "Snapshot",
    "SparkplugPublisher",
    "TagSpec",
    "load_scenario",
    "run",
]
