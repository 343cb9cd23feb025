"""Control chart constants computed from the normal distribution, not copied from a table.

For a subgroup of ``n`` independent normal values with standard deviation sigma:

- ``c4(n)`` = E[s] / sigma, exact through the gamma function;
- ``d2(n)`` = E[R] / sigma, the mean relative range: ``integral of 1 - F^n - (1 - F)^n``;
- ``d3(n)`` = sd(R) / sigma, from ``E[R^2] = 2 * iint_{s<t} P(min <= s, max > t) ds dt``.

The textbook factors follow from these (Montgomery, *Introduction to Statistical Quality
Control*, Appendix VI): ``A2 = 3 / (d2 sqrt n)``, ``A3 = 3 / (c4 sqrt n)``,
``B3, B4 = 1 -/+ 3 sqrt(1 - c4^2) / c4`` (B3 floored at 0), ``D3, D4 = 1 -/+ 3 d3 / d2``
(D3 floored at 0). ``tests/mes/test_spc_constants.py`` checks every value against the
published table for n = 2..25; computing them lets subgroups of any size use exact values.

>>> k = constants(5)
>>> round(k.d2, 3), round(k.a2, 3), round(k.d4, 3), round(k.c4, 4)
(2.326, 0.577, 2.114, 0.94)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt
from scipy.special import ndtr

from andon.errors import InvalidRequest

__all__ = ["ChartConstants", "c4", "constants", "d2", "d3"]

_STEP = 0.05  # grid step in sigma units: Simpson is exact to ~1e-11 here (smooth integrands)
_REACH = 9.0  # the integrands vanish (below 1e-18) beyond +-9 sigma


def _simpson(values: npt.NDArray[np.float64], step: float) -> npt.NDArray[np.float64]:
    """Simpson's rule along the last axis of an odd number of equally spaced samples."""
    weights = np.ones(values.shape[-1])
    weights[1:-1:2], weights[2:-1:2] = 4.0, 2.0
    result: npt.NDArray[np.float64] = values @ weights * (step / 3.0)
    return result


def _grid(start: float, stop: float) -> npt.NDArray[np.float64]:
    count = round((stop - start) / _STEP) + 1
    return np.linspace(start, stop, count | 1)  # an odd count of points for Simpson


def _check(n: int) -> None:
    if n < 2:
        raise InvalidRequest(f"subgroup size must be at least 2, got {n}")


def c4(n: int) -> float:
    """E[s] / sigma for samples of ``n``: ``sqrt(2/(n-1)) Gamma(n/2) / Gamma((n-1)/2)``.

    >>> round(c4(2), 4)
    0.7979
    """
    _check(n)
    return math.sqrt(2.0 / (n - 1)) * math.exp(math.lgamma(n / 2) - math.lgamma((n - 1) / 2))


@lru_cache(maxsize=512)
def d2(n: int) -> float:
    """Mean range of ``n`` standard normal values.

    >>> round(d2(2), 4)  # 2 / sqrt(pi)
    1.1284
    """
    _check(n)
    x = _grid(-_REACH, _REACH)
    cdf = ndtr(x)
    return float(_simpson(1.0 - cdf**n - (1.0 - cdf) ** n, x[1] - x[0]))


@lru_cache(maxsize=512)
def d3(n: int) -> float:
    """Standard deviation of the range of ``n`` standard normal values.

    >>> round(d3(2), 3)
    0.853
    """
    _check(n)
    s = _grid(-_REACH, _REACH)
    r = _grid(0.0, 2 * _REACH)
    low = ndtr(s)[np.newaxis, :]  # F(s): P(one value <= s)
    high = ndtr(s[np.newaxis, :] + r[:, np.newaxis])  # F(s + r)
    # P(min <= s and max > s + r) for r >= 0, by inclusion-exclusion.
    joint = 1.0 - (1.0 - low) ** n - high**n + (high - low) ** n
    second_moment = 2.0 * float(_simpson(_simpson(joint, s[1] - s[0]), r[1] - r[0]))
    return math.sqrt(max(second_moment - d2(n) ** 2, 0.0))


@dataclass(frozen=True, slots=True)
class ChartConstants:
    """The factors of Shewhart charts for subgroups of ``n``."""

    n: int
    c4: float
    d2: float
    d3: float

    @property
    def a2(self) -> float:
        """X-bar limits from R-bar: ``x-double-bar +- A2 R-bar``."""
        return 3.0 / (self.d2 * math.sqrt(self.n))

    @property
    def a3(self) -> float:
        """X-bar limits from s-bar: ``x-double-bar +- A3 s-bar``."""
        return 3.0 / (self.c4 * math.sqrt(self.n))

    @property
    def b3(self) -> float:
        """S chart lower limit factor: ``LCL = B3 s-bar``."""
        return max(0.0, 1.0 - 3.0 * math.sqrt(1.0 - self.c4**2) / self.c4)

    @property
    def b4(self) -> float:
        """S chart upper limit factor: ``UCL = B4 s-bar``."""
        return 1.0 + 3.0 * math.sqrt(1.0 - self.c4**2) / self.c4

    @property
    def d3_factor(self) -> float:
        """R chart lower limit factor (the textbook's ``D3``): ``LCL = D3 R-bar``."""
        return max(0.0, 1.0 - 3.0 * self.d3 / self.d2)

    @property
    def d4(self) -> float:
        """R chart upper limit factor: ``UCL = D4 R-bar``."""
        return 1.0 + 3.0 * self.d3 / self.d2


def constants(n: int) -> ChartConstants:
    """All constants for subgroups of ``n`` (n >= 2)."""
    return ChartConstants(n=n, c4=c4(n), d2=d2(n), d3=d3(n))
