"""The virtual factory: simulated machines publishing to the unified namespace over MQTT.

>>> from andon import sim
>>> factory = sim.Factory(sim.load_scenario("demo"), seed=42, start_ms=1_763_700_000_000)
>>> len(factory.machines)
7
>>> topic, payload = factory.step()[0]
>>> topic.startswith("andon/v1/acme/plant1/")
True
"""

from __future__ import annotations

from andon.sim.factory import Factory, MachineInfo
from andon.sim.pacing import Sink, run
from andon.sim.publish import MqttPublisher
from andon.sim.scenario import Scenario, load_scenario

__all__ = [
    "Factory",
    "MachineInfo",
    "MqttPublisher",
    "Scenario",
    "Sink",
    "load_scenario",
    "run",
]
