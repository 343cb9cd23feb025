"""Run rules on a control chart: the eight Nelson rules and the four Western Electric rules.

Each point is tested against the limits and the zones of its own centre line and sigma
(``z = (x - centre) / sigma``), so charts whose limits vary point by point (p and u charts
with varying sample sizes, rolling limits) are handled exactly. A rule flags the point that
**completes** its pattern, and every later point that extends it (the 10th point of a run
of 10 on one side is flagged by Nelson 2 as the 9th was). For the "k of m" rules the
flagged point is itself one of the k points beyond the zone. Points without limits (NaN
centre or sigma, e.g. before a rolling window fills) are never flagged and break every run.

Nelson (1984), as in Minitab's tests:

====  ==========================================================================
1     one point beyond the control limits (more than 3 sigma from the centre)
2     nine points in a row on the same side of the centre line
3     six points in a row steadily increasing or decreasing
4     fourteen points in a row alternating up and down
5     two of three points in a row beyond 2 sigma, on the same side
6     four of five points in a row beyond 1 sigma, on the same side
7     fifteen points in a row within 1 sigma of the centre (either side)
8     eight points in a row beyond 1 sigma, on either side (none within 1 sigma)
====  ==========================================================================

Western Electric (1956): 1 = beyond the limits, 2 = two of three beyond 2 sigma (same
side), 3 = four of five beyond 1 sigma (same side), 4 = eight in a row on the same side.

The evaluation is vectorised (running lengths by cumulative maxima, windowed counts by
cumulative sums): a million points take well under a second for all rules.

>>> import numpy as np
>>> x = np.array([0.1, -0.2, 0.3, 3.5, 0.0])
>>> flags = evaluate(x, np.zeros(5), np.ones(5))
>>> violations(flags)
[(3, 1)]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial

import numpy as np
import numpy.typing as npt

from andon.errors import InvalidRequest

__all__ = ["RULE_SETS", "RULE_TEXT", "Flags", "evaluate", "max_window", "violations"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
Flags = dict[int, BoolArray]


@dataclass(frozen=True, slots=True)
class _Points:
    """A chart's points with their zone position and limits (NaN where none)."""

    x: FloatArray
    z: FloatArray
    lcl: FloatArray
    ucl: FloatArray


def _run_lengths(condition: BoolArray) -> npt.NDArray[np.int64]:
    """For each index, how many consecutive True values end there."""
    index = np.arange(condition.size)
    last_false = np.maximum.accumulate(np.where(condition, -1, index))
    return index - last_false


def _window_count(condition: BoolArray, window: int) -> npt.NDArray[np.int64]:
    """For each index, how many True values among it and the ``window - 1`` before it."""
    totals = np.cumsum(condition, dtype=np.int64)
    counts = totals.copy()
    counts[window:] -= totals[:-window]  # slices, not fancy indexing: 3x faster on 1M points
    return counts


def _beyond_limits(p: _Points) -> BoolArray:
    return (p.x > p.ucl) | (p.x < p.lcl)


def _same_side_run(length: int, p: _Points) -> BoolArray:
    above, below = p.z > 0, p.z < 0
    return (_run_lengths(above) >= length) | (_run_lengths(below) >= length)


def _trend(length: int, p: _Points) -> BoolArray:
    """``length`` points in a row, each above (or each below) the one before."""
    steps = np.diff(p.x)  # NaN steps compare False: undefined points break the trend
    flags = np.zeros(p.x.size, dtype=bool)
    rising = _run_lengths(steps > 0) >= length - 1
    falling = _run_lengths(steps < 0) >= length - 1
    flags[1:] = rising | falling
    return flags


def _alternating(length: int, p: _Points) -> BoolArray:
    """``length`` points in a row, alternating up and down."""
    steps = np.diff(p.x)
    flags = np.zeros(p.x.size, dtype=bool)
    if steps.size < 2:
        return flags
    flips = (steps[1:] * steps[:-1]) < 0  # flip k happens at point k + 2
    flags[2:] = _run_lengths(flips) >= length - 2
    return flags


def _k_of_m(k: int, m: int, zone: float, p: _Points) -> BoolArray:
    above, below = p.z > zone, p.z < -zone
    return (above & (_window_count(above, m) >= k)) | (below & (_window_count(below, m) >= k))


def _within_run(length: int, p: _Points) -> BoolArray:
    return _run_lengths(np.abs(p.z) < 1.0) >= length


def _outside_run(length: int, p: _Points) -> BoolArray:
    return _run_lengths(np.abs(p.z) > 1.0) >= length


_Rule = Callable[[_Points], BoolArray]

RULE_SETS: dict[str, dict[int, _Rule]] = {
    "nelson": {
        1: _beyond_limits,
        2: partial(_same_side_run, 9),
        3: partial(_trend, 6),
        4: partial(_alternating, 14),
        5: partial(_k_of_m, 2, 3, 2.0),
        6: partial(_k_of_m, 4, 5, 1.0),
        7: partial(_within_run, 15),
        8: partial(_outside_run, 8),
    },
    "we": {
        1: _beyond_limits,
        2: partial(_k_of_m, 2, 3, 2.0),
        3: partial(_k_of_m, 4, 5, 1.0),
        4: partial(_same_side_run, 8),
    },
}
"""Rule number -> test, per rule set (``nelson`` or ``we`` for Western Electric)."""

RULE_TEXT: dict[str, dict[int, str]] = {
    "nelson": {
        1: "one point beyond the control limits",
        2: "nine points in a row on the same side of the centre line",
        3: "six points in a row steadily increasing or decreasing",
        4: "fourteen points in a row alternating up and down",
        5: "two of three points beyond 2 sigma on the same side",
        6: "four of five points beyond 1 sigma on the same side",
        7: "fifteen points in a row within 1 sigma of the centre line",
        8: "eight points in a row beyond 1 sigma on either side",
    },
    "we": {
        1: "one point beyond the control limits",
        2: "two of three points beyond 2 sigma on the same side",
        3: "four of five points beyond 1 sigma on the same side",
        4: "eight points in a row on the same side of the centre line",
    },
}

_WINDOWS: dict[str, dict[int, int]] = {
    "nelson": {1: 1, 2: 9, 3: 6, 4: 14, 5: 3, 6: 5, 7: 15, 8: 8},
    "we": {1: 1, 2: 3, 3: 5, 4: 8},
}


def _selected(rule_set: str, enabled: Iterable[int] | None) -> dict[int, _Rule]:
    rules = RULE_SETS.get(rule_set)
    if rules is None:
        raise InvalidRequest(f"unknown rule set {rule_set!r}; use one of {sorted(RULE_SETS)}")
    chosen = sorted(rules) if enabled is None else sorted(set(enabled))
    unknown = [n for n in chosen if n not in rules]
    if unknown:
        raise InvalidRequest(f"{rule_set} has rules {sorted(rules)}, not {unknown}")
    return {n: rules[n] for n in chosen}


def max_window(rule_set: str = "nelson", enabled: Iterable[int] | None = None) -> int:
    """How many points the longest enabled rule looks at (what a live evaluator keeps).

    >>> max_window("nelson"), max_window("we")
    (15, 8)
    """
    selected = _selected(rule_set, enabled)
    return max((_WINDOWS[rule_set][n] for n in selected), default=1)


def evaluate(
    x: FloatArray,
    center: FloatArray,
    sigma: FloatArray,
    *,
    lcl: FloatArray | None = None,
    ucl: FloatArray | None = None,
    rule_set: str = "nelson",
    enabled: Iterable[int] | None = None,
) -> Flags:
    """Per-point flags of each enabled rule (all rules of the set by default).

    ``center`` and ``sigma`` (the sigma of the plotted statistic) give the zones;
    ``lcl``/``ucl`` default to ``center -/+ 3 sigma`` and may be clipped (an LCL at zero).
    """
    x = np.asarray(x, dtype=np.float64)
    center = np.broadcast_to(np.asarray(center, dtype=np.float64), x.shape)
    sigma = np.broadcast_to(np.asarray(sigma, dtype=np.float64), x.shape)
    defined = np.isfinite(center) & np.isfinite(sigma) & (sigma > 0) & np.isfinite(x)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(defined, (x - center) / sigma, np.nan)
    points = _Points(
        x=np.where(defined, x, np.nan),
        z=z,
        lcl=center - 3.0 * sigma if lcl is None else np.broadcast_to(lcl, x.shape),
        ucl=center + 3.0 * sigma if ucl is None else np.broadcast_to(ucl, x.shape),
    )
    return {n: rule(points) & defined for n, rule in _selected(rule_set, enabled).items()}


def violations(flags: Mapping[int, BoolArray]) -> list[tuple[int, int]]:
    """``(index, rule)`` pairs of every flag, ordered by index then rule."""
    pairs = [(int(i), rule) for rule, mask in flags.items() for i in np.flatnonzero(mask)]
    return sorted(pairs)
