"""Running the virtual factory: as fast as possible (backfill) or paced against a wall clock.

>>> from andon.sim.factory import Factory
>>> from andon.sim.scenario import load_scenario
>>> class Collect:
...     def __init__(self): self.messages = []
...     def send(self, messages): self.messages.extend(messages)
>>> factory, sink = Factory(load_scenario("demo"), seed=3, start_ms=0), Collect()
>>> run(factory, sink, until_ms=60_000)
>>> factory.now_ms, len(sink.messages) > 60 * len(factory.machines)
(60000, True)
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

from andon.sim.factory import Factory
from andon.sim.messages import Message

__all__ = ["Fanout", "Sink", "run"]

_logger = logging.getLogger(__name__)


class Sink(Protocol):
    """Where a running factory delivers each step's messages (an MQTT publisher, a list...)."""

    def send(self, messages: list[Message]) -> None:
        """Deliver one step's messages, in order."""


class Fanout:
    """A sink that hands every step to several sinks in turn (MQTT, Sparkplug, OPC UA...)."""

    def __init__(self, *sinks: Sink) -> None:
        self.sinks = sinks

    def send(self, messages: list[Message]) -> None:
        """Deliver the step to each sink, in the order given."""
        for sink in self.sinks:
            sink.send(messages)


class _Pacer:
    """Holds step ``n`` until ``n / speed`` real seconds after the start; never drifts."""

    def __init__(self, speed: float, stop: threading.Event | None) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self._period = 1.0 / speed
        self._stop = stop
        self._origin = time.monotonic()
        self._steps = 0

    def wait(self) -> None:
        """Sleep until the next step is due; return at once when behind (catching up)."""
        self._steps += 1
        delay = self._origin + self._steps * self._period - time.monotonic()
        if delay <= 0:
            return
        if self._stop is None:
            time.sleep(delay)
        else:
            self._stop.wait(delay)


def run(
    factory: Factory,
    sink: Sink,
    *,
    until_ms: int | None = None,
    speed: float | None = None,
    stop: threading.Event | None = None,
    on_step: Callable[[Factory], None] | None = None,
) -> None:
    """Step ``factory`` and send each step's messages to ``sink``.

    ``speed=None`` runs as fast as possible; ``speed=X`` runs X simulated seconds per real
    second. Stops once the clock reaches ``until_ms`` (the first whole second at or after
    it) or when ``stop`` is set; with neither, runs until interrupted.
    """
    pacer = _Pacer(speed, stop) if speed is not None else None
    _logger.info("simulating from %d until %s at speed %s", factory.now_ms, until_ms, speed)
    while not (stop is not None and stop.is_set()):
        if until_ms is not None and factory.now_ms >= until_ms:
            break
        sink.send(factory.step())
        if on_step is not None:
            on_step(factory)
        if pacer is not None:
            pacer.wait()
    _logger.info("simulation stopped at %d", factory.now_ms)
