"""Readings of mapped addresses (OPC UA, Modbus) as records, by the role of their target.

A ``sample`` is scaled and deadbanded; a ``state`` becomes a
:class:`~andon.signals.StateChange` when its code changes (a state lasts until the next);
the counters ``total``, ``good`` and ``scrap`` of an asset become one
:class:`~andon.signals.CountUpdate` whenever one of them moves, the missing third derived
from the other two (``total = good + scrap``).

>>> from andon.connect.tagmap import TagTarget
>>> maker = RecordMaker()
>>> state = TagTarget(asset="a/m1", role="state")
>>> maker.make(state, 1000, 10000.0), maker.make(state, 2000, 10000.0)
(StateChange(asset='a/m1', ts_ms=1000, code=10000, reason=None, seq=None), None)
>>> good, scrap = TagTarget(asset="a/m1", role="good"), TagTarget(asset="a/m1", role="scrap")
>>> maker.make(good, 1000, 95.0) is None  # one counter alone says nothing yet
True
>>> maker.make(scrap, 1000, 5.0)
CountUpdate(asset='a/m1', ts_ms=1000, total=100, good=95, scrap=5, seq=None)
"""

from __future__ import annotations

import math
from collections.abc import Callable

from andon.connect.tagmap import Deadband, TagTarget
from andon.signals import CountUpdate, Record, Sample, StateChange

__all__ = ["RecordMaker"]


class RecordMaker:
    """Remembers the last state and counters of each asset, and each tag's deadband."""

    def __init__(self) -> None:
        self._deadband = Deadband()
        self._states: dict[str, int] = {}
        self._counters: dict[str, dict[str, int]] = {}

    def make(self, target: TagTarget, ts: int, raw: float) -> Record | None:
        """The record a reading means, or None when it adds nothing (or is not finite)."""
        value = target.value(raw)
        if not math.isfinite(value):
            return None
        return _ROLES[target.role](self, target, ts, value)

    def _sample(self, target: TagTarget, ts: int, value: float) -> Record | None:
        if not self._deadband.keep(target.key, value, target.deadband):
            return None
        return Sample(target.asset, target.label, ts, value)

    def _state(self, target: TagTarget, ts: int, value: float) -> Record | None:
        code = int(value)
        if code < 0 or self._states.get(target.asset) == code:
            return None
        self._states[target.asset] = code
        return StateChange(target.asset, ts, code)

    def _count(self, target: TagTarget, ts: int, value: float) -> Record | None:
        counters = self._counters.setdefault(target.asset, {})
        if value < 0 or counters.get(target.role) == int(value):
            return None
        counters[target.role] = int(value)
        return _count_update(target.asset, ts, counters)


def _count_update(asset: str, ts: int, counters: dict[str, int]) -> CountUpdate | None:
    total, good, scrap = (counters.get(name) for name in ("total", "good", "scrap"))
    if total is None and good is not None and scrap is not None:
        total = good + scrap
    elif good is None and total is not None and scrap is not None:
        good = total - scrap
    elif scrap is None and total is not None and good is not None:
        scrap = total - good
    if total is None or good is None or scrap is None or min(total, good, scrap) < 0:
        return None
    return CountUpdate(asset, ts, total, good, scrap)


_ROLES: dict[str, Callable[[RecordMaker, TagTarget, int, float], Record | None]] = {
    "sample": RecordMaker._sample,
    "state": RecordMaker._state,
    "total": RecordMaker._count,
    "good": RecordMaker._count,
    "scrap": RecordMaker._count,
}
