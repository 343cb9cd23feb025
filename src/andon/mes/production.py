"""Produced, good and scrap quantities from non-resetting machine totals.

Machines publish running totals (PackML ``AccCount`` style); the quantity of a window is how
much the totals grew inside it, never a sum of published deltas that a duplicate message
could double. Policies, each tested in ``tests/mes/test_production.py``:

- **Attribution**: a reading at ``ts`` closes the increment since the previous reading, and
  that increment belongs to the window holding ``ts`` (windows are half-open ``[start, end)``).
  So the baseline is the last reading strictly *before* ``start`` (what
  ``Historian.count_totals`` returns first), and quantities add up exactly when a window is
  split in two, even when a reading falls on the split.
- **No baseline**: when no reading precedes the window, the first reading inside it is the
  baseline; what it shows was produced before andon could see it.
- **Late messages**: readings are sorted by time first (ties ascending by value, since totals
  only grow), so arrival order does not matter.
- **Duplicates** add nothing: the increment between equal readings is zero.
- **Reset or rollover**: when any of total, good or scrap decreased, the device's counters
  were reset (or rolled over) and counted again from 0: the increment of each counter is its
  new value, never negative. Treating the three together keeps ``good + scrap == total``
  for consistent devices (a full reset can leave ``total`` above its old value while
  ``good`` dropped). Parts made between the last reading and the reset are not seen.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

from andon.signals import CountUpdate

__all__ = ["count_deltas"]

_Totals = tuple[int, int, int]


def _totals(reading: CountUpdate) -> _Totals:
    return (reading.total, reading.good, reading.scrap)


def _increment(before: _Totals, after: _Totals) -> _Totals:
    """Growth from one reading to the next; after a reset, the new values themselves."""
    if any(a < b for a, b in zip(after, before, strict=True)):
        return after
    total, good, scrap = (a - b for a, b in zip(after, before, strict=True))
    return (total, good, scrap)


def count_deltas(counts: Sequence[CountUpdate], start_ms: int, end_ms: int) -> _Totals:
    """(produced, good, scrap) made in ``[start_ms, end_ms)`` (see the module docstring).

    >>> from andon.signals import CountUpdate
    >>> readings = [
    ...     CountUpdate("m", 900, 100, 98, 2),   # baseline, before the window
    ...     CountUpdate("m", 1500, 150, 147, 3),
    ...     CountUpdate("m", 1500, 150, 147, 3),  # duplicate: adds nothing
    ...     CountUpdate("m", 1700, 10, 10, 0),   # counters reset: 10 more parts
    ...     CountUpdate("m", 2000, 20, 19, 1),   # at the window end: next window
    ... ]
    >>> count_deltas(readings, 1000, 2000)
    (60, 59, 1)
    """
    ordered = sorted((r.ts_ms, _totals(r)) for r in counts if r.ts_ms < end_ms)
    before = [totals for ts, totals in ordered if ts < start_ms]
    inside = [totals for ts, totals in ordered if ts >= start_ms]
    chain = before[-1:] + inside
    produced = good = scrap = 0
    for previous, current in pairwise(chain):
        total_inc, good_inc, scrap_inc = _increment(previous, current)
        produced, good, scrap = produced + total_inc, good + good_inc, scrap + scrap_inc
    return (produced, good, scrap)
