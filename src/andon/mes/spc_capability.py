"""Process capability: Cp, Cpk (within sigma) and Pp, Ppk (overall sigma), with intervals.

- Within sigma is the control chart's: ``MR-bar / d2(2)`` for individuals, the mean of
  ``R_i / d2(n_i)`` for subgroups. Overall sigma is the sample standard deviation (n - 1).
- ``Cp = (USL - LSL) / 6 sigma_w``, ``Cpu = (USL - mean) / 3 sigma_w``,
  ``Cpl = (mean - LSL) / 3 sigma_w``, ``Cpk = min(Cpu, Cpl)``; the P indices likewise with
  the overall sigma. With one specification limit only the one-sided indices exist
  (``Cpk`` is then the one side); Cp and Pp need both.
- Confidence intervals (Montgomery, section 8.3): for Cp and Pp the chi-square interval
  ``C sqrt(chi2_(a/2, n-1) / (n-1)) .. C sqrt(chi2_(1-a/2, n-1) / (n-1))``, exact for Pp;
  for the one-sided and k indices Bissell's normal approximation
  ``C +- z_(1-a/2) sqrt(1 / 9n + C^2 / 2(n-1))``. For the within indices the degrees of
  freedom of a range-based sigma are fewer than n - 1, so their intervals are a little
  optimistic; the overall ones are not.
- Capability indices assume normal data: an Anderson-Darling test (the statistic adjusted
  for n, p-value by D'Agostino and Stephens 1986, Table 4.9) is reported alongside, and
  ``normal`` is false when p < 0.05. Non-normal data needs a transformation first.

>>> import numpy as np
>>> x = np.random.default_rng(7).normal(10.0, 1.0, 500)  # true Cp = Pp = 1.0
>>> cap = capability(x, lsl=7.0, usl=13.0)
>>> round(cap.pp, 2), [round(v, 2) for v in cap.intervals["pp"]], cap.normality.normal
(1.07, [1.0, 1.13], True)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy.special import chdtri, log_ndtr, ndtr, ndtri

from andon.errors import InvalidRequest
from andon.mes.spc_charts import FloatArray, Limits, Subgroups, location_and_sigma

__all__ = ["Capability", "Normality", "anderson_darling", "capability"]

_MIN_POINTS = 8  # below this neither the indices nor the normality test mean much


@dataclass(frozen=True, slots=True)
class Normality:
    """Anderson-Darling test of normality: ``statistic`` is A*^2 (adjusted for n)."""

    statistic: float
    p_value: float
    normal: bool
    test: str = "anderson-darling"


@dataclass(frozen=True, slots=True)
class Capability:
    """Capability of a process against its specification limits."""

    n: int
    mean: float
    sigma_within: float
    sigma_overall: float
    lsl: float | None
    usl: float | None
    cp: float | None
    cpu: float | None
    cpl: float | None
    cpk: float | None
    pp: float | None
    ppu: float | None
    ppl: float | None
    ppk: float | None
    ppm_within: float
    ppm_overall: float
    confidence: float
    normality: Normality
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready: intervals as ``[low, high]`` lists."""
        out = asdict(self)
        out["intervals"] = {k: list(v) for k, v in self.intervals.items()}
        return out


def anderson_darling(values: FloatArray) -> Normality:
    """Anderson-Darling normality test with estimated mean and sigma.

    >>> import numpy as np
    >>> anderson_darling(np.random.default_rng(1).exponential(size=200)).normal
    False
    """
    x = np.sort(np.asarray(values, dtype=np.float64))
    n = x.size
    if n < _MIN_POINTS:
        raise InvalidRequest(f"the normality test needs at least {_MIN_POINTS} values, got {n}")
    sd = float(np.std(x, ddof=1))
    if sd == 0:
        return Normality(math.inf, 0.0, False)
    z = (x - x.mean()) / sd
    weights = 2 * np.arange(1, n + 1) - 1
    a2 = -n - float(np.sum(weights * (log_ndtr(z) + log_ndtr(-z[::-1])))) / n
    adjusted = a2 * (1 + 0.75 / n + 2.25 / n**2)
    p_value = _ad_p_value(adjusted)
    return Normality(adjusted, p_value, p_value >= 0.05)


def _ad_p_value(a: float) -> float:
    """D'Agostino and Stephens (1986), Table 4.9: p-value of the adjusted A*^2 (case 3)."""
    if a >= 0.6:
        p = math.exp(1.2937 - 5.709 * a + 0.0186 * a**2)
    elif a >= 0.34:
        p = math.exp(0.9177 - 4.279 * a - 1.38 * a**2)
    elif a >= 0.2:
        p = 1 - math.exp(-8.318 + 42.796 * a - 59.938 * a**2)
    else:
        p = 1 - math.exp(-13.436 + 101.14 * a - 223.73 * a**2)
    return min(max(p, 0.0), 1.0)


def _indices(mean: float, sigma: float, lsl: float | None, usl: float | None) -> dict[str, float]:
    """Two-letter prefix-free indices: ``""`` (Cp/Pp), ``u``, ``l``, ``k``."""
    out: dict[str, float] = {}
    if usl is not None:
        out["u"] = (usl - mean) / (3 * sigma)
    if lsl is not None:
        out["l"] = (mean - lsl) / (3 * sigma)
    if usl is not None and lsl is not None:
        out[""] = (usl - lsl) / (6 * sigma)
    if out:
        out["k"] = min(v for key, v in out.items() if key in ("u", "l"))
    return out


def _interval(name: str, value: float, n: int, confidence: float) -> tuple[float, float]:
    alpha = 1 - confidence
    if name in ("cp", "pp"):
        dof = n - 1
        # chdtri(dof, q) is the chi-square quantile with upper-tail probability q
        low = value * math.sqrt(chdtri(dof, 1 - alpha / 2) / dof)
        high = value * math.sqrt(chdtri(dof, alpha / 2) / dof)
        return (float(low), float(high))
    half = float(ndtri(1 - alpha / 2)) * math.sqrt(1 / (9 * n) + value**2 / (2 * (n - 1)))
    return (value - half, value + half)


def _ppm(mean: float, sigma: float, lsl: float | None, usl: float | None) -> float:
    below = 0.0 if lsl is None else float(ndtr((lsl - mean) / sigma))
    above = 0.0 if usl is None else float(ndtr((mean - usl) / sigma))
    return (below + above) * 1e6


def capability(
    values: FloatArray | Subgroups,
    *,
    lsl: float | None = None,
    usl: float | None = None,
    confidence: float = 0.95,
) -> Capability:
    """Capability of individuals (an array) or of subgroups (within sigma from ranges)."""
    if lsl is None and usl is None:
        raise InvalidRequest("capability needs a lower or an upper specification limit")
    if lsl is not None and usl is not None and lsl >= usl:
        raise InvalidRequest("the lower specification limit must be below the upper one")
    if not 0 < confidence < 1:
        raise InvalidRequest("confidence must be between 0 and 1")
    groups = values if isinstance(values, Subgroups) else _individuals(values)
    flat = groups.values[np.isfinite(groups.values)]
    n = flat.size
    if n < _MIN_POINTS:
        raise InvalidRequest(f"capability needs at least {_MIN_POINTS} values, got {n}")
    mean = float(flat.mean())
    within = float(location_and_sigma(groups, Limits())[1][0])
    overall = float(np.std(flat, ddof=1))
    if not (within > 0 and overall > 0):
        raise InvalidRequest("the values do not vary: capability is undefined")
    c = _indices(mean, within, lsl, usl)
    p = _indices(mean, overall, lsl, usl)
    named = {f"cp{k}": v for k, v in c.items()} | {f"pp{k}": v for k, v in p.items()}
    return Capability(
        n=n,
        mean=mean,
        sigma_within=within,
        sigma_overall=overall,
        lsl=lsl,
        usl=usl,
        cp=named.get("cp"),
        cpu=named.get("cpu"),
        cpl=named.get("cpl"),
        cpk=named.get("cpk"),
        pp=named.get("pp"),
        ppu=named.get("ppu"),
        ppl=named.get("ppl"),
        ppk=named.get("ppk"),
        ppm_within=_ppm(mean, within, lsl, usl),
        ppm_overall=_ppm(mean, overall, lsl, usl),
        confidence=confidence,
        normality=anderson_darling(flat),
        intervals={k: _interval(k, v, n, confidence) for k, v in named.items()},
    )


def _individuals(values: FloatArray) -> Subgroups:
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    return Subgroups(x.reshape(-1, 1), np.ones(x.size, dtype=np.int64))
