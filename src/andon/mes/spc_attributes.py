"""Shewhart charts for attributes: p, np (defectives), c, u (defects).

Counts are binomial (p, np) or Poisson (c, u); sigma follows from the pooled rate, so each
sample's limits depend on its size: ``p-bar +- 3 sqrt(p-bar (1 - p-bar) / n_i)``,
``u-bar +- 3 sqrt(u-bar / n_i)``. Lower limits below zero are set to zero. Rates are pooled
as ratios of sums (total defectives / total units), never as means of ratios, over the
rows that :class:`~andon.mes.spc_charts.Limits` names.

>>> import numpy as np
>>> chart = p_chart(np.array([2.0, 3.0, 1.0, 12.0]), np.array([100.0, 100.0, 100.0, 100.0]),
...                 limits=Limits(baseline=(0, 3)))
>>> [(v.index, v.rule) for v in chart.violations()]  # p-bar 0.02, UCL 0.062
[(3, 1)]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from andon.errors import InvalidRequest
from andon.mes.spc_charts import Chart, FloatArray, IntArray, Limits, limit_series, ratio

__all__ = ["c_chart", "np_chart", "p_chart", "u_chart"]

_ALL_POINTS = Limits()


def _attribute(
    kind: str,
    plotted: FloatArray,
    stats: FloatArray,
    spread: Callable[[FloatArray], FloatArray],
    scale: FloatArray | float,
    context: tuple[FloatArray, IntArray | None, Limits, str, Iterable[int] | None],
) -> Chart:
    """Centre = ``scale x pooled rate``; ``spread(rate)`` gives the sigma of each point."""
    sizes, ts_ms, limits, rule_set, enabled = context
    sums = limits.pooled(stats)
    rate = ratio(sums[:, 0], sums[:, 1])
    series = limit_series(
        kind, plotted, scale * rate, spread(rate), floor=0.0, rule_set=rule_set, enabled=enabled
    )
    return Chart(kind, rule_set, limits, None, sizes, ts_ms, (series,))


def _counts(values: FloatArray, sizes: FloatArray | None) -> tuple[FloatArray, FloatArray]:
    counts = np.asarray(values, dtype=np.float64)
    n = np.ones_like(counts) if sizes is None else np.asarray(sizes, dtype=np.float64)
    if counts.shape != n.shape:
        raise InvalidRequest("counts and sample sizes must have the same length")
    if np.any(counts < 0) or np.any(n <= 0):
        raise InvalidRequest("counts must be >= 0 and sample sizes > 0")
    return counts, n


def p_chart(
    defectives: FloatArray,
    sizes: FloatArray,
    ts_ms: IntArray | None = None,
    limits: Limits = _ALL_POINTS,
    *,
    rule_set: str = "nelson",
    enabled: Iterable[int] | None = None,
) -> Chart:
    """Fraction defective; limits ``p-bar +- 3 sqrt(p-bar (1 - p-bar) / n_i)`` per sample."""
    d, n = _counts(defectives, sizes)
    if np.any(d > n):
        raise InvalidRequest("a sample cannot have more defectives than units")
    context = (n, ts_ms, limits, rule_set, enabled)
    return _attribute(
        "p", d / n, np.column_stack([d, n]), lambda p: np.sqrt(p * (1 - p) / n), 1.0, context
    )


def np_chart(
    defectives: FloatArray,
    sizes: FloatArray,
    ts_ms: IntArray | None = None,
    limits: Limits = _ALL_POINTS,
    *,
    rule_set: str = "nelson",
    enabled: Iterable[int] | None = None,
) -> Chart:
    """Number defective in samples of one constant size ``n``: ``n p-bar +- 3 sqrt(n p q)``."""
    d, n = _counts(defectives, sizes)
    if n.size and np.any(n != n[0]):
        raise InvalidRequest("an np chart needs a constant sample size; use a p chart")
    context = (n, ts_ms, limits, rule_set, enabled)
    return _attribute(
        "np", d, np.column_stack([d, n]), lambda p: np.sqrt(n * p * (1 - p)), n, context
    )


def c_chart(
    defects: FloatArray,
    ts_ms: IntArray | None = None,
    limits: Limits = _ALL_POINTS,
    *,
    rule_set: str = "nelson",
    enabled: Iterable[int] | None = None,
) -> Chart:
    """Defects per inspection unit (constant area of opportunity): ``c-bar +- 3 sqrt(c-bar)``.

    >>> import numpy as np
    >>> round(float(c_chart(np.array([4.0, 6.0, 5.0, 5.0])).series[0].ucl[0]), 3)
    11.708
    """
    c, n = _counts(defects, None)
    context = (n, ts_ms, limits, rule_set, enabled)
    return _attribute("c", c, np.column_stack([c, n]), np.sqrt, 1.0, context)


def u_chart(
    defects: FloatArray,
    units: FloatArray,
    ts_ms: IntArray | None = None,
    limits: Limits = _ALL_POINTS,
    *,
    rule_set: str = "nelson",
    enabled: Iterable[int] | None = None,
) -> Chart:
    """Defects per unit with varying units per sample: ``u-bar +- 3 sqrt(u-bar / n_i)``."""
    c, n = _counts(defects, units)
    context = (n, ts_ms, limits, rule_set, enabled)
    return _attribute("u", c / n, np.column_stack([c, n]), lambda u: np.sqrt(u / n), 1.0, context)
