"""Count increments of many machines per window, vectorised (the rules of ``production``).

The same policy as :func:`andon.mes.count_deltas`, for arrays of readings of many assets at
once: readings in time order (ties by value), each reading closes the increment since the
previous reading of its asset, and that increment belongs to the window holding the
reading; after a decrease of any counter the increment is the new values themselves. The
first reading of each asset is its baseline and adds nothing, so pass the last reading
before the first bound along.

>>> import numpy as np
>>> asset = np.array([0, 0, 0, 0, 0, 1, 1])
>>> ts = np.array([900, 1500, 1700, 2500, 2600, 1000, 1200])
>>> total = np.array([100, 150, 10, 20, 25, 0, 7])
>>> sums = window_increments(asset, ts, total, total, total * 0, [1000, 2000, 3000], 2)
>>> sums[0].tolist(), sums[1].tolist()
([[60, 60, 0], [15, 15, 0]], [[7, 7, 0], [0, 0, 0]])
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

__all__ = ["reading_order", "window_increments"]

Ints = NDArray[np.int64]


def _stable(keys: Ints, order: Ints | None) -> Ints:
    """Stable sort of ``keys`` (already permuted by ``order``) composed with ``order``.

    Stable NumPy sorts are timsort (fast on the nearly sorted stamps a table scan returns)
    and, for small integers, radix sort (the asset index)."""
    picked = keys if order is None else keys[order]
    if picked.size and picked.min() >= 0 and picked.max() < 2**15:
        picked = picked.astype(np.int16)
    step = np.argsort(picked, kind="stable")
    return step if order is None else order[step]


def reading_order(asset: Ints, ts: Ints, values: list[Ints]) -> Ints | None:
    """Rows by asset, then time, then value; None when they already are (no copy needed).

    The order is stable: rows equal in all keys keep their given order.
    """
    order: Ints | None = None
    if np.any(asset[1:] < asset[:-1]):  # group by asset first: a radix sort, stable
        order = _stable(asset, None)
    a, t = (asset, ts) if order is None else (asset[order], ts[order])
    if np.any((t[1:] < t[:-1]) & (a[1:] == a[:-1])):  # scans return chunks out of order
        order = _stable(ts, None)
        if asset.min() != asset.max():
            order = _stable(asset, order)
        a, t = asset[order], ts[order]
    tie = (t[1:] == t[:-1]) & (a[1:] == a[:-1])
    if not np.any(tie):
        return order
    smaller = np.zeros_like(tie)
    for column in values:  # a tie must be by value ascending, lexicographically
        v = column if order is None else column[order]
        smaller |= tie & (v[1:] < v[:-1])
        tie &= v[1:] == v[:-1]
    if not np.any(smaller):
        return order
    return np.lexsort((*reversed(values), ts, asset))


def window_increments(
    asset: Ints,
    ts: Ints,
    total: Ints,
    good: Ints,
    scrap: Ints,
    bounds: Sequence[int],
    assets: int,
    forced: tuple[Ints, Ints, Ints] | None = None,
    is_forced: NDArray[np.bool_] | None = None,
) -> NDArray[np.int64]:
    """``[assets, len(bounds) - 1, 3]`` sums of (produced, good, scrap) per window.

    Rows where ``is_forced`` is true close a *given* increment (``forced``: produced, good,
    scrap) instead of the one computed from the previous reading: that is how an hour of the
    rollup (:mod:`andon.mes.hourly`) stands in for all its readings, with its first reading
    as a plain row and its last one carrying the increments inside the hour.
    """
    windows = len(bounds) - 1
    out = np.zeros((assets, windows, 3), dtype=np.int64)
    if len(ts) < 2 or windows < 1:
        return out
    order = reading_order(asset, ts, [total, good, scrap])

    def pick(x: Ints) -> Ints:
        return x if order is None else x[order]

    a, t = pick(asset), pick(ts)
    counters = [pick(total), pick(good), pick(scrap)]
    steps = [c[1:] - c[:-1] for c in counters]
    reset = (steps[0] < 0) | (steps[1] < 0) | (steps[2] < 0)
    moved = reset | (steps[0] != 0) | (steps[1] != 0) | (steps[2] != 0)
    given = None
    if is_forced is not None and forced is not None:
        given = (is_forced if order is None else is_forced[order])[1:]
        moved |= given
    rows = np.flatnonzero(moved & (a[1:] == a[:-1]))  # a reading that changed nothing adds 0
    window = np.searchsorted(np.asarray(bounds, dtype=np.int64), t[1:][rows], side="right") - 1
    inside = (window >= 0) & (window < windows)
    rows, window = rows[inside], window[inside]
    slot = a[1:][rows] * windows + window
    for k, (c, step) in enumerate(zip(counters, steps, strict=True)):
        made = np.where(reset[rows], c[1:][rows], step[rows])
        if given is not None and forced is not None:
            made = np.where(given[rows], pick(forced[k])[1:][rows], made)
        # float64 sums are exact below 2**53 parts; ints come back out
        out[:, :, k] = np.rint(np.bincount(slot, made, assets * windows)).reshape(assets, windows)
    return out
