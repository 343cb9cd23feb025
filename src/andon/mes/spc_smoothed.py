"""Time-weighted charts for small, persistent shifts: EWMA and tabular CUSUM.

Both chart individuals or subgroup means around a target ``mu0`` with the sigma of one
plotted point (``sigma / sqrt(n)``). The target and sigma are given (a known standard) or
estimated from a baseline like the Shewhart charts (mean, and moving-range or range sigma);
rolling limits do not apply to charts whose statistic carries the whole history.

- EWMA (Montgomery section 9.2): ``z_i = lambda x_i + (1 - lambda) z_(i-1)``, ``z_0 = mu0``,
  limits ``mu0 +- L sigma sqrt(lambda / (2 - lambda) (1 - (1 - lambda)^(2i)))``; defaults
  ``lambda = 0.2``, ``L = 3``.
- CUSUM (Montgomery section 9.1): ``C+_i = max(0, x_i - (mu0 + K) + C+_(i-1))`` and
  ``C-_i = max(0, (mu0 - K) - x_i + C-_(i-1))`` with ``K = k sigma``, signalling above
  ``H = h sigma``; defaults ``k = 0.5``, ``h = 5``. The recursion is Lindley's, computed in
  closed form as ``S_i - min(0, min_(j<=i) S_j)`` over the cumulative sum ``S``.

Only rule 1 (a point beyond the limit) applies: successive points are correlated by design.

>>> import numpy as np
>>> x = np.r_[np.zeros(10), np.full(15, 1.0)]  # a 1-sigma shift after 10 points
>>> chart = cusum(x, target=0.0, sigma=1.0)
>>> [v.index for v in chart.violations()][:1]  # C+ grows 0.5 a point: 0.5 x 11 > H = 5
[20]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from andon.errors import InvalidRequest
from andon.mes.spc_charts import Chart, FloatArray, IntArray, Limits, Series, Subgroups
from andon.mes.spc_charts import location_and_sigma as _location_and_sigma
from andon.mes.spc_rules import evaluate

__all__ = ["Standard", "cusum", "ewma"]

_ALL_POINTS = Limits()


@dataclass(frozen=True, slots=True)
class Standard:
    """The in-control mean and the sigma of one plotted point."""

    mean: float
    sigma: float


def _standard(
    groups: Subgroups, limits: Limits, target: float | None, sigma: float | None
) -> Standard:
    if limits.rolling is not None:
        raise InvalidRequest("EWMA and CUSUM need fixed limits: use a baseline, not rolling")
    if groups.sizes.size and np.any(groups.sizes != groups.sizes[0]):
        raise InvalidRequest("EWMA and CUSUM need subgroups of one constant size")
    size = int(groups.sizes[0]) if groups.sizes.size else 1
    if target is None or sigma is None:
        mean, within = _location_and_sigma(groups, limits)
        target = float(mean[0]) if target is None and mean.size else target
        sigma = float(within[0]) if sigma is None and within.size else sigma
    if target is None or sigma is None or not np.isfinite(sigma) or sigma <= 0:
        raise InvalidRequest("not enough data to estimate the target and sigma; give them")
    return Standard(float(target), float(sigma) / np.sqrt(size))


def _as_groups(values: FloatArray | Subgroups, ts_ms: IntArray | None) -> Subgroups:
    if isinstance(values, Subgroups):
        return values
    x = np.asarray(values, dtype=np.float64)
    return Subgroups(x.reshape(-1, 1), np.ones(x.size, dtype=np.int64), ts_ms)


def _limit_series(
    name: str, values: FloatArray, center: float, lcl: FloatArray, ucl: FloatArray
) -> Series:
    spread = (ucl - center) / 3.0  # zones are not used: rule 1 compares with the limits only
    flags = evaluate(values, np.full(values.size, center), spread, lcl=lcl, ucl=ucl, enabled=[1])
    return Series(name, values, np.full(values.size, center), lcl, ucl, flags)


def ewma(
    values: FloatArray | Subgroups,
    ts_ms: IntArray | None = None,
    limits: Limits = _ALL_POINTS,
    *,
    lam: float = 0.2,
    width: float = 3.0,
    target: float | None = None,
    sigma: float | None = None,
) -> Chart:
    """EWMA chart of individuals or subgroup means; ``lam`` weights the newest point.

    >>> import numpy as np
    >>> chart = ewma(np.array([0.0, 0.0, 3.0]), target=0.0, sigma=1.0, lam=0.5)
    >>> [round(float(z), 3) for z in chart.series[0].values]
    [0.0, 0.0, 1.5]
    """
    if not 0 < lam <= 1:
        raise InvalidRequest("EWMA lambda must be in (0, 1]")
    groups = _as_groups(values, ts_ms)
    std = _standard(groups, limits, target, sigma)
    from scipy.signal import lfilter  # seconds to import: only when an EWMA is drawn

    x = groups.means()
    smoothed = lfilter([lam], [1.0, lam - 1.0], x, zi=[(1.0 - lam) * std.mean])[0]
    steps = np.arange(1, x.size + 1)
    half = width * std.sigma * np.sqrt(lam / (2 - lam) * (1 - (1 - lam) ** (2 * steps)))
    series = _limit_series("ewma", smoothed, std.mean, std.mean - half, std.mean + half)
    sizes = groups.sizes.astype(np.float64)
    return Chart("ewma", "nelson", limits, std.sigma, sizes, groups.ts_ms, (series,))


def _lindley(steps: FloatArray) -> FloatArray:
    """``C_i = max(0, C_(i-1) + step_i)`` from ``C = 0``, without a Python loop."""
    walk = np.cumsum(steps)
    floor: FloatArray = np.minimum.accumulate(np.minimum(walk, 0.0))
    return walk - floor


def cusum(
    values: FloatArray | Subgroups,
    ts_ms: IntArray | None = None,
    limits: Limits = _ALL_POINTS,
    *,
    k: float = 0.5,
    h: float = 5.0,
    target: float | None = None,
    sigma: float | None = None,
) -> Chart:
    """Tabular CUSUM: an upper (``C+``) and a lower (``C-``) series against ``H``."""
    if k < 0 or h <= 0:
        raise InvalidRequest("CUSUM needs k >= 0 and h > 0")
    groups = _as_groups(values, ts_ms)
    std = _standard(groups, limits, target, sigma)
    x = groups.means()
    slack, decision = k * std.sigma, h * std.sigma
    no_lower = np.full(x.size, -np.inf)
    limit = np.full(x.size, decision)
    upper = _limit_series("upper", _lindley(x - std.mean - slack), 0.0, no_lower, limit)
    lower = _limit_series("lower", _lindley(std.mean - slack - x), 0.0, no_lower, limit)
    sizes = groups.sizes.astype(np.float64)
    return Chart("cusum", "nelson", limits, std.sigma, sizes, groups.ts_ms, (upper, lower))
