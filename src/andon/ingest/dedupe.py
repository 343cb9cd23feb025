"""Duplicate suppression on the idempotency key: topic, sequence number and timestamp.

QoS 1 and reconnects deliver some messages twice; a redelivery repeats the same ``seq`` and
the same ``ts``. A publisher that restarts counts ``seq`` from the start again but with new
timestamps, so keying on both keeps its messages while still catching every redelivery.

The window remembers the last ``size`` keys over all topics together, so its memory is
bounded however many topics a plant has (the default covers what a broker may have in
flight to us, 65535 unacknowledged messages). It is a first line only: what it misses (a
restart, a long outage) the historian stores once anyway, by tag and time.

>>> seen = SeenWindow(size=3)
>>> [seen.is_new("t", s, 1000 + s) for s in (1, 2, 2, 3, 1)]
[True, True, False, True, False]
>>> seen.is_new("t", 1, 5000)  # same seq, new time: a restarted publisher
True
>>> seen.is_new("t", None, 1000)  # no seq: cannot be a known duplicate
True
>>> len(seen)
3
"""

from __future__ import annotations

from collections import deque

__all__ = ["SeenWindow"]

_SEQ_BITS = 32
Key = int | tuple[int, int]


class SeenWindow:
    """Remembers the last ``size`` (topic, seq, ts) keys."""

    def __init__(self, size: int = 65536) -> None:
        self.size = size
        self._seen: dict[str, set[Key]] = {}  # topic -> its keys
        self._sets: deque[set[Key]] = deque()  # oldest first, in step with _keys
        self._keys: deque[Key] = deque()

    def __len__(self) -> int:
        return len(self._keys)

    def is_new(self, topic: str, seq: int | None, ts_ms: int) -> bool:
        """True the first time (topic, seq, ts) is seen within the window."""
        if seq is None:
            return True
        members = self._seen.get(topic)
        if members is None:
            members = self._seen[topic] = set()
        # One int per key where seq fits (the usual case): about half a tuple's memory.
        key = (ts_ms << _SEQ_BITS) | seq if 0 <= seq < 1 << _SEQ_BITS else (seq, ts_ms)
        if key in members:
            return False
        members.add(key)
        keys = self._keys
        keys.append(key)
        self._sets.append(members)
        if len(keys) > self.size:
            self._sets.popleft().discard(keys.popleft())
        return True
