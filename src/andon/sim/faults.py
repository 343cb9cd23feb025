"""Faults on demand: what real plants do to their data, injected between factory and sink.

A :class:`FaultInjector` wraps any sink (usually an MQTT publisher). Tests call its methods
to break things at a chosen moment; ``andon sim --fault`` configures a :class:`FaultPlan`
that breaks them at random, deterministically for a seed:

- ``duplicate``: send a message twice (a QoS 1 redelivery);
- ``malformed``: cut a payload in half, so it is no longer JSON;
- ``skew_ms``: shift the timestamps of an asset (or all) by a clock error;
- ``reset``: a machine's part totals restart from zero (a PLC power cycle);
- ``pause``: stop publishing (messages are lost, as from a frozen gateway);
- ``drop``: break the network connection (the broker publishes the will, the client
  reconnects); only for sinks that have ``drop_connection()``.

>>> class Keep:
...     def __init__(self): self.got = []
...     def send(self, messages): self.got.extend(messages)
>>> keep = Keep()
>>> faults = FaultInjector(keep)
>>> faults.send([("andon/v1/a/b/count", b'{"ts":5,"seq":9,"total":7,"good":6,"scrap":1}')])
>>> faults.reset_counters("a/b")  # a PLC power cycle: totals restart from zero
>>> faults.send([("andon/v1/a/b/count", b'{"ts":6,"seq":10,"total":9,"good":8,"scrap":1}')])
>>> keep.got[-1][1]
b'{"ts":6,"seq":10,"total":2,"good":2,"scrap":0}'
>>> plan = FaultPlan.parse(["duplicate=0.01", "skew_ms=-5000"])
>>> plan.duplicate, plan.skew_ms, plan.malformed
(0.01, -5000, 0.0)
"""

from __future__ import annotations

import dataclasses
import logging
import random
from collections.abc import Iterable
from dataclasses import dataclass

import orjson

from andon.errors import ConfigError
from andon.namespace import TOPIC_PREFIX
from andon.sim.messages import Message
from andon.sim.pacing import Sink

__all__ = ["FaultInjector", "FaultPlan"]

_logger = logging.getLogger(__name__)
_TOTALS = ("total", "good", "scrap")


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """Random faults per simulated second (rates are shares of messages, periods seconds)."""

    duplicate: float = 0.0
    malformed: float = 0.0
    skew_ms: int = 0
    reset_every_s: float = 0.0
    drop_every_s: float = 0.0
    pause_every_s: float = 0.0
    pause_s: float = 0.0

    @classmethod
    def parse(cls, specs: Iterable[str]) -> FaultPlan:
        """From ``NAME=VALUE`` strings (``andon sim --fault duplicate=0.01``)."""
        fields = {f.name: f.type for f in dataclasses.fields(cls)}
        values: dict[str, float | int] = {}
        for spec in specs:
            name, _, raw = spec.partition("=")
            if name not in fields:
                raise ConfigError(f"unknown fault {name!r}; known: {sorted(fields)}")
            try:
                number = float(raw)
            except ValueError as exc:
                raise ConfigError(f"fault {spec!r}: expected NAME=NUMBER") from exc
            if number < 0 and name != "skew_ms":
                raise ConfigError(f"fault {spec!r}: must not be negative")
            values[name] = int(number) if name == "skew_ms" else number
        return cls(**values)  # type: ignore[arg-type]  # names and types checked above


class FaultInjector:
    """A sink that breaks the messages on their way to ``sink``."""

    def __init__(self, sink: Sink, plan: FaultPlan | None = None, seed: int = 0) -> None:
        self._sink = sink
        self.plan = plan or FaultPlan()
        self._random = random.Random(seed)
        self._step = 0
        self._paused_left = 0  # steps still to lose
        self._duplicates = self._corrupt = 0
        self._skews: dict[str | None, int] = {None: self.plan.skew_ms} if self.plan.skew_ms else {}
        self._offsets: dict[str, dict[str, int]] = {}
        self._totals: dict[str, dict[str, int]] = {}
        self.lost = self.injected = 0

    # -- on demand -----------------------------------------------------------------

    def pause(self, steps: int = 1 << 62) -> None:
        """Lose the next ``steps`` simulated seconds of messages (default: until resumed)."""
        self._paused_left = steps

    def resume(self) -> None:
        """Publish again."""
        self._paused_left = 0

    def duplicate_next(self, count: int = 1) -> None:
        """Send each of the next ``count`` messages twice."""
        self._duplicates += count

    def corrupt_next(self, count: int = 1) -> None:
        """Cut the payload of each of the next ``count`` messages in half."""
        self._corrupt += count

    def skew(self, ms: int, asset: str | None = None) -> None:
        """Shift the timestamps of ``asset`` (``None``: of every asset) by ``ms``."""
        self._skews[asset] = ms

    def reset_counters(self, asset: str) -> None:
        """``asset``'s part totals restart from zero with its next count message."""
        self._offsets[asset] = dict(self._totals.get(asset, dict.fromkeys(_TOTALS, 0)))

    def drop_connection(self) -> None:
        """Break the sink's network connection (it reconnects by itself)."""
        drop = getattr(self._sink, "drop_connection", None)
        if drop is None:
            raise ConfigError(f"{type(self._sink).__name__} has no connection to drop")
        drop()

    # -- the sink ------------------------------------------------------------------

    def send(self, messages: list[Message]) -> None:
        """Apply the faults due at this step, then forward what is left."""
        self._step += 1
        self._plan_step()
        if self._paused_left > 0:
            self._paused_left -= 1
            self.lost += len(messages)
            return
        out: list[Message] = []
        for topic, payload in messages:
            self._forward(topic, payload, out)
        self._sink.send(out)

    def _forward(self, topic: str, payload: bytes, out: list[Message]) -> None:
        asset, _, channel = topic[len(TOPIC_PREFIX) :].rpartition("/")
        if channel == "count" or self._skews:
            payload = self._rewrite(asset, channel, payload)
        if self._corrupt or self._chance(self.plan.malformed):
            self._corrupt = max(0, self._corrupt - 1)
            self.injected += 1
            payload = payload[: len(payload) // 2]
        out.append((topic, payload))
        if self._duplicates or self._chance(self.plan.duplicate):
            self._duplicates = max(0, self._duplicates - 1)
            self.injected += 1
            out.append((topic, payload))

    def _chance(self, rate: float) -> bool:
        return rate > 0 and self._random.random() < rate

    def _rewrite(self, asset: str, channel: str, payload: bytes) -> bytes:
        try:
            doc = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return payload
        skew = self._skews.get(asset, self._skews.get(None, 0))
        if skew:
            doc["ts"] += skew
        if channel == "count":
            self._totals[asset] = {key: doc[key] for key in _TOTALS}
            offsets = self._offsets.get(asset)
            if offsets is not None:
                doc.update({key: doc[key] - offsets[key] for key in _TOTALS})
        return orjson.dumps(doc)

    def _plan_step(self) -> None:
        plan, step = self.plan, self._step
        if _due(step, plan.pause_every_s) and plan.pause_s > 0:
            _logger.info("fault: pause publishing for %.0f s", plan.pause_s)
            self.pause(max(1, round(plan.pause_s)))
        if _due(step, plan.reset_every_s) and self._totals:
            asset = self._random.choice(sorted(self._totals))
            _logger.info("fault: reset the counters of %s", asset)
            self.reset_counters(asset)
        if _due(step, plan.drop_every_s):
            _logger.info("fault: drop the connection")
            self.drop_connection()


def _due(step: int, every_s: float) -> bool:
    return every_s > 0 and step % max(1, round(every_s)) == 0
