"""A machine's outgoing MQTT messages in the unified namespace (DESIGN.md section 3).

Each machine publishes on four channels under its asset path and numbers every message
with one ``seq`` counter shared by its channels, so ``(topic, seq)`` is an idempotency key.

>>> out = Outbox("acme/plant1/machining/line1/cnc1")
>>> out.state(1_000, "micro_stop", "chip_jam")
>>> out.count(1_500, total=10, good=9, scrap=1)
>>> [topic.rsplit("/", 1)[1] for topic, _ in out.target]
['state', 'count']
>>> out.target[0][1]
b'{"ts":1000,"seq":1,"state":"micro_stop","code":50000,"reason":"chip_jam"}'
"""

from __future__ import annotations

from collections.abc import Mapping

import orjson

from andon.namespace import topic_for
from andon.signals import STATE_CODES

__all__ = ["Message", "Outbox"]

Message = tuple[str, bytes]
"""One MQTT message: (topic, JSON payload)."""


class Outbox:
    """Encodes one machine's messages and appends them to :attr:`target`."""

    __slots__ = ("_count", "_event", "_metrics", "_state", "seq", "target")

    def __init__(self, asset: str) -> None:
        self._metrics = topic_for(asset, "metrics")
        self._state = topic_for(asset, "state")
        self._count = topic_for(asset, "count")
        self._event = topic_for(asset, "event")
        self.seq = 0
        self.target: list[Message] = []

    def metrics(self, ts: int, values: dict[str, float]) -> None:
        """Publish one second's measurements."""
        self.seq += 1
        payload = {"ts": ts, "seq": self.seq, "values": values}
        self.target.append((self._metrics, orjson.dumps(payload)))

    def state(self, ts: int, state: str, reason: str | None) -> None:
        """Publish that the machine entered ``state`` at ``ts``."""
        self.seq += 1
        payload = {"ts": ts, "seq": self.seq, "state": state, "code": STATE_CODES[state]}
        payload["reason"] = reason
        self.target.append((self._state, orjson.dumps(payload)))

    def count(self, ts: int, *, total: int, good: int, scrap: int) -> None:
        """Publish the machine's non-resetting part totals as of ``ts``."""
        self.seq += 1
        payload = {"ts": ts, "seq": self.seq, "total": total, "good": good, "scrap": scrap}
        self.target.append((self._count, orjson.dumps(payload)))

    def event(self, ts: int, kind: str, data: Mapping[str, object]) -> None:
        """Publish a discrete event (``order_start``, ``order_end``, ``tool_change``)."""
        self.seq += 1
        payload = {"ts": ts, "seq": self.seq, "kind": kind, **data}
        self.target.append((self._event, orjson.dumps(payload)))
