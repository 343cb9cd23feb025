"""Shewhart control charts for variables (X-bar/R, X-bar/S, I-MR) and the types they share.

Sigma is estimated **within** subgroups (R/d2, s/c4, MR/d2), never from the overall standard
deviation, which would swallow a shift of the process into the limits. Each point gets the
limits of its own subgroup size, so with a constant size the limits are exactly the
textbook ``x-double-bar +- A2 R-bar``, ``D3 R-bar .. D4 R-bar``, ``B3 s-bar .. B4 s-bar``;
with varying sizes (subgroups by time) the estimator is the mean of ``R_i / d2(n_i)`` (or
``s_i / c4(n_i)``), which reduces to the textbook one for a constant size.

Where limits come from is a :class:`Limits`: all points (phase I, the default), a frozen
baseline range of subgroups, or a rolling window of the subgroups *before* each point.
Every estimate is a ratio of sums of per-subgroup statistics, so the three modes share one
code path: the sums are taken over the baseline rows, or over a trailing window.

The Nelson (or Western Electric) rules run on the location chart (X-bar, individuals; the
attribute charts of :mod:`andon.mes.spc_attributes` likewise); the dispersion charts (R, S,
MR) are tested for points beyond their limits only, since ranges are not normal and their
zone rules have no meaning.

>>> import numpy as np
>>> chart = imr(np.array([10.0, 10.2, 9.9, 10.1, 10.0, 12.5]), limits=Limits(baseline=(0, 5)))
>>> [(v.series, v.index, v.rule) for v in chart.violations()]
[('x', 5, 1), ('mr', 5, 1)]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from andon.errors import InvalidRequest
from andon.mes.spc_constants import c4, d2, d3
from andon.mes.spc_rules import Flags, evaluate

__all__ = [
    "Chart",
    "Limits",
    "Series",
    "Subgroups",
    "Violation",
    "imr",
    "limit_series",
    "location_and_sigma",
    "ratio",
    "xbar_r",
    "xbar_s",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Limits:
    """Where control limits come from: all points, a frozen baseline, or a rolling window.

    ``baseline`` is a half-open range ``(start, stop)`` of subgroup indices; ``rolling`` the
    number of subgroups before each point that set its limits (the first ones get none).
    """

    baseline: tuple[int, int] | None = None
    rolling: int | None = None

    def __post_init__(self) -> None:
        if self.baseline is not None and self.rolling is not None:
            raise InvalidRequest("limits come from a baseline or a rolling window, not both")
        if self.rolling is not None and self.rolling < 2:
            raise InvalidRequest("a rolling window needs at least 2 subgroups")
        if self.baseline is not None and not 0 <= self.baseline[0] < self.baseline[1]:
            raise InvalidRequest(f"baseline {self.baseline} is not a range of subgroups")

    def describe(self) -> str:
        if self.rolling is not None:
            return f"rolling {self.rolling}"
        if self.baseline is not None:
            return f"baseline {self.baseline[0]}..{self.baseline[1]}"
        return "all points"

    def pooled(self, stats: FloatArray) -> FloatArray:
        """Column sums of ``stats`` (a row per subgroup) over the rows behind each point."""
        m = stats.shape[0]
        if self.rolling is not None:
            cumulative = np.vstack([np.zeros((1, stats.shape[1])), np.cumsum(stats, axis=0)])
            index = np.arange(m)
            sums = cumulative[index] - cumulative[np.maximum(index - self.rolling, 0)]
            sums[index < self.rolling] = np.nan
            return sums
        start, stop = self.baseline or (0, m)
        if stop > m:
            raise InvalidRequest(f"the baseline needs {stop} subgroups; there are only {m}")
        return np.broadcast_to(stats[start:stop].sum(axis=0), stats.shape)


@dataclass(frozen=True, slots=True)
class Subgroups:
    """Measurements in rational subgroups: a NaN-padded ``(m, max size)`` array."""

    values: FloatArray
    sizes: IntArray
    ts_ms: IntArray | None = None

    @classmethod
    def by_count(cls, values: FloatArray, size: int, ts_ms: IntArray | None = None) -> Subgroups:
        """Consecutive groups of ``size``; an incomplete last group is left out."""
        if size < 1:
            raise InvalidRequest("subgroup size must be at least 1")
        m = len(values) // size
        grid = np.asarray(values[: m * size], dtype=np.float64).reshape(m, size)
        stamps = None if ts_ms is None else np.asarray(ts_ms[: m * size : size], dtype=np.int64)
        return cls(grid, np.full(m, size, dtype=np.int64), stamps)

    @classmethod
    def by_time(cls, values: FloatArray, ts_ms: IntArray, period_ms: int) -> Subgroups:
        """One group per clock-aligned period (``ts // period``) that holds measurements."""
        if period_ms <= 0:
            raise InvalidRequest("the subgroup period must be positive")
        order = np.argsort(ts_ms, kind="stable")
        stamps = np.asarray(ts_ms, dtype=np.int64)[order]
        buckets, first, sizes = np.unique(
            stamps // period_ms, return_index=True, return_counts=True
        )
        row = np.repeat(np.arange(buckets.size), sizes)
        column = np.arange(stamps.size) - np.repeat(first, sizes)
        grid = np.full((buckets.size, int(sizes.max(initial=0))), np.nan)
        grid[row, column] = np.asarray(values, dtype=np.float64)[order]
        return cls(grid, sizes.astype(np.int64), buckets * period_ms)

    def means(self) -> FloatArray:
        return self.sums() / np.maximum(self.sizes, 1)

    def sums(self) -> FloatArray:
        total: FloatArray = np.nansum(self.values, axis=1)
        return total

    def ranges(self) -> FloatArray:
        """Max - min of each subgroup; NaN for subgroups of one value."""
        spread = np.fmax.reduce(self.values, axis=1) - np.fmin.reduce(self.values, axis=1)
        return np.where(self.sizes >= 2, spread, np.nan)

    def deviations(self) -> FloatArray:
        """Sample standard deviation (n - 1) of each subgroup; NaN for subgroups of one."""
        centred = self.values - self.means()[:, np.newaxis]
        squares = np.nansum(centred**2, axis=1)
        return np.where(self.sizes >= 2, np.sqrt(squares / np.maximum(self.sizes - 1, 1)), np.nan)


@dataclass(frozen=True, slots=True)
class Violation:
    """A point flagged by a rule: ``index`` counts the series' points from 0."""

    series: str
    index: int
    rule: int
    value: float
    ts_ms: int | None


@dataclass(frozen=True, slots=True)
class Series:
    """One plotted statistic with its centre line, limits and rule flags per point."""

    name: str
    values: FloatArray
    center: FloatArray
    lcl: FloatArray
    ucl: FloatArray
    flags: Flags


@dataclass(frozen=True, slots=True)
class Chart:
    """A control chart: its series (location first), how limits were set, the rules used."""

    kind: str
    rule_set: str
    limits: Limits
    sigma: float | None
    sizes: FloatArray
    ts_ms: IntArray | None
    series: tuple[Series, ...]

    def violations(self) -> list[Violation]:
        """Every flagged point, ordered by series then index then rule."""
        found = []
        for s in self.series:
            for rule, mask in s.flags.items():
                for i in np.flatnonzero(mask):
                    ts = None if self.ts_ms is None else int(self.ts_ms[i])
                    found.append(Violation(s.name, int(i), rule, float(s.values[i]), ts))
        order = {s.name: k for k, s in enumerate(self.series)}
        return sorted(found, key=lambda v: (order[v.series], v.index, v.rule))


def _per_size(func: Callable[[int], float], sizes: IntArray) -> FloatArray:
    """``func(n)`` for each subgroup size (NaN below 2), computed once per distinct size."""
    distinct, inverse = np.unique(sizes, return_inverse=True)
    table = np.array([func(int(n)) if n >= 2 else np.nan for n in distinct], dtype=np.float64)
    return table[inverse.reshape(-1)]


def ratio(numerator: FloatArray, denominator: FloatArray) -> FloatArray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / denominator, np.nan)


def limit_series(
    name: str,
    values: FloatArray,
    center: FloatArray,
    spread: FloatArray,
    *,
    floor: float | None,
    rule_set: str,
    enabled: Iterable[int] | None,
) -> Series:
    """Limits at ``center +- 3 spread`` (the lower one floored), and the rules' flags."""
    lcl = center - 3.0 * spread
    if floor is not None:
        lcl = np.maximum(lcl, floor)
    ucl = center + 3.0 * spread
    flags = evaluate(values, center, spread, lcl=lcl, ucl=ucl, rule_set=rule_set, enabled=enabled)
    return Series(name, values, center, lcl, ucl, flags)


def _scalar(values: FloatArray, limits: Limits) -> float | None:
    if limits.rolling is not None or values.size == 0 or not np.isfinite(values[0]):
        return None
    return float(values[0])


def location_and_sigma(groups: Subgroups, limits: Limits) -> tuple[FloatArray, FloatArray]:
    """Per point: the process mean and the within-subgroup sigma that set its limits.

    Individuals (size 1) use the moving range of consecutive points, larger subgroups
    their ranges (``R / d2``).
    """
    if groups.values.shape[1] == 1:
        x = groups.values[:, 0]
        moving = np.abs(np.diff(x, prepend=np.nan)) / d2(2)
        has = np.isfinite(moving)
        stats = np.column_stack([x, np.ones_like(x), np.where(has, moving, 0.0), has])
    else:
        scaled = groups.ranges() / _per_size(d2, groups.sizes)
        has = np.isfinite(scaled)
        stats = np.column_stack([groups.sums(), groups.sizes, np.where(has, scaled, 0.0), has])
    sums = limits.pooled(stats)
    return ratio(sums[:, 0], sums[:, 1]), ratio(sums[:, 2], sums[:, 3])


def _variable(
    kind: str,
    groups: Subgroups,
    dispersion: FloatArray,
    unbias: tuple[Callable[[int], float], Callable[[int], float]],
    limits: Limits,
    rule_set: str,
    enabled: Iterable[int] | None,
) -> Chart:
    """X-bar with a dispersion chart whose statistic has mean/sd ``unbias`` x sigma."""
    mean_factor = _per_size(unbias[0], groups.sizes)
    sd_factor = _per_size(unbias[1], groups.sizes)
    scaled = dispersion / mean_factor
    has = np.isfinite(scaled)
    stats = np.column_stack([groups.sums(), groups.sizes, np.where(has, scaled, 0.0), has])
    sums = limits.pooled(stats)
    mean, sigma = ratio(sums[:, 0], sums[:, 1]), ratio(sums[:, 2], sums[:, 3])
    xbar = limit_series(
        "xbar",
        groups.means(),
        mean,
        sigma / np.sqrt(groups.sizes),
        floor=None,
        rule_set=rule_set,
        enabled=enabled,
    )
    spread = limit_series(
        kind.split("_")[1],
        dispersion,
        mean_factor * sigma,
        sd_factor * sigma,
        floor=0.0,
        rule_set=rule_set,
        enabled=[1],
    )
    return Chart(
        kind,
        rule_set,
        limits,
        _scalar(sigma, limits),
        groups.sizes.astype(np.float64),
        groups.ts_ms,
        (xbar, spread),
    )


def xbar_r(
    groups: Subgroups,
    limits: Limits = Limits(),
    *,
    rule_set: str = "nelson",
    enabled: Iterable[int] | None = None,
) -> Chart:
    """X-bar and R chart; subgroups of one value have no range and do not set sigma.

    >>> import numpy as np
    >>> g = Subgroups.by_count(np.array([1.0, 2.0, 3.0, 2.0, 3.0, 4.0]), 3)
    >>> chart = xbar_r(g)
    >>> round(float(chart.series[0].ucl[0]), 3)  # 2.5 + A2(3) x R-bar = 2.5 + 1.0233 x 2
    4.547
    """
    return _variable("xbar_r", groups, groups.ranges(), (d2, d3), limits, rule_set, enabled)


def _c5(n: int) -> float:
    return float(np.sqrt(1.0 - c4(n) ** 2))


def xbar_s(
    groups: Subgroups,
    limits: Limits = Limits(),
    *,
    rule_set: str = "nelson",
    enabled: Iterable[int] | None = None,
) -> Chart:
    """X-bar and S chart (better than R for subgroups above about 10).

    >>> import numpy as np
    >>> g = Subgroups.by_count(np.array([1.0, 2.0, 3.0, 2.0, 3.0, 4.0]), 3)
    >>> round(float(xbar_s(g).series[1].ucl[0]), 3)  # B4(3) x s-bar = 2.568 x 1
    2.568
    """
    return _variable("xbar_s", groups, groups.deviations(), (c4, _c5), limits, rule_set, enabled)


def imr(
    values: FloatArray,
    ts_ms: IntArray | None = None,
    limits: Limits = Limits(),
    *,
    rule_set: str = "nelson",
    enabled: Iterable[int] | None = None,
) -> Chart:
    """Individuals and moving range (span 2): sigma = MR-bar / d2(2), MR UCL = D4(2) MR-bar."""
    x = np.asarray(values, dtype=np.float64)
    groups = Subgroups(x.reshape(-1, 1), np.ones(x.size, dtype=np.int64), ts_ms)
    mean, sigma = location_and_sigma(groups, limits)
    individuals = limit_series("x", x, mean, sigma, floor=None, rule_set=rule_set, enabled=enabled)
    moving = np.abs(np.diff(x, prepend=np.nan))
    ranges = limit_series(
        "mr", moving, d2(2) * sigma, d3(2) * sigma, floor=0.0, rule_set=rule_set, enabled=[1]
    )
    sigma_value = _scalar(sigma, limits)
    return Chart(
        "imr", rule_set, limits, sigma_value, np.ones(x.size), ts_ms, (individuals, ranges)
    )
