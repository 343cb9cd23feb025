"""Duplicate suppression on the idempotency key: topic, sequence number and timestamp.

QoS 1 and reconnects deliver some messages twice; a redelivery repeats the same ``seq`` and
the same ``ts``. A publisher that restarts counts ``seq`` from the start again but with new
timestamps, so keying on both keeps its messages while still catching every redelivery.
Each topic remembers its last ``size`` keys.

>>> seen = SeenWindow(size=3)
>>> [seen.is_new("t", s, 1000 + s) for s in (1, 2, 2, 3, 1)]
[True, True, False, True, False]
>>> seen.is_new("t", 1, 5000)  # same seq, new time: a restarted publisher
True
>>> seen.is_new("t", None, 1000)  # no seq: cannot be a known duplicate
True
"""

from __future__ import annotations

from collections import deque

__all__ = ["SeenWindow"]


class SeenWindow:
    """Remembers the last ``size`` (seq, ts) keys per topic."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._seen: dict[str, tuple[set[tuple[int, int]], deque[tuple[int, int]]]] = {}

    def is_new(self, topic: str, seq: int | None, ts_ms: int) -> bool:
        """True the first time (topic, seq, ts) is seen within the window."""
        if seq is None:
            return True
        entry = self._seen.get(topic)
        if entry is None:
            entry = self._seen[topic] = (set(), deque())
        members, order = entry
        key = (seq, ts_ms)
        if key in members:
            return False
        members.add(key)
        order.append(key)
        if len(order) > self.size:
            members.discard(order.popleft())
        return True
