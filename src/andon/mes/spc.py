"""Statistical process control on any tag, file or quality measurement.

One entry point, :func:`chart`, turns raw values into a control chart described by a
:class:`ChartSpec`: the kind (``imr``, ``xbar_r``, ``xbar_s``, ``p``, ``np``, ``c``, ``u``,
``ewma``, ``cusum``), rational subgroups by count or by clock-aligned time period, where the
limits come from (all points, a frozen baseline given as subgroup indices or as a time
window, or a rolling window), and the run rules (Nelson 1-8 or Western Electric 1-4).
:func:`chart_for_tag` reads a historian tag, :func:`scrap_chart` charts the scrap fraction
of a machine from its count totals, and :func:`to_dict` gives the JSON the CLI and API print.

The pieces live in their own modules: constants (:mod:`~andon.mes.spc_constants`), rules
(:mod:`~andon.mes.spc_rules`), Shewhart charts (:mod:`~andon.mes.spc_charts`,
:mod:`~andon.mes.spc_attributes`), EWMA/CUSUM (:mod:`~andon.mes.spc_smoothed`), capability
(:mod:`~andon.mes.spc_capability`) and live evaluation (:mod:`~andon.mes.spc_live`).

Variable charts drop non-finite values first. ``imr`` on subgroups charts their means as
individuals (useful for hourly means of a 1 Hz tag); attribute charts sum counts and sample
sizes per subgroup.

>>> import numpy as np
>>> x = np.array([5.0, 5.1, 4.9, 5.0, 5.2, 4.8, 5.0, 5.1, 4.9, 6.5])
>>> result = chart(x, ChartSpec(kind="imr", limits=Limits(baseline=(0, 9))))
>>> [(v.series, v.index, v.rule) for v in result.violations()]
[('x', 9, 1), ('mr', 9, 1)]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from andon.errors import InvalidRequest, NotFound
from andon.historian.protocol import Historian
from andon.mes.production import count_deltas
from andon.mes.spc_attributes import c_chart, np_chart, p_chart, u_chart
from andon.mes.spc_capability import Capability, Normality, capability
from andon.mes.spc_charts import (
    Chart,
    FloatArray,
    IntArray,
    Limits,
    Series,
    Subgroups,
    Violation,
    imr,
    xbar_r,
    xbar_s,
)
from andon.mes.spc_rules import RULE_SETS, RULE_TEXT
from andon.mes.spc_smoothed import cusum, ewma

__all__ = [
    "ATTRIBUTE_KINDS",
    "CHART_KINDS",
    "RULE_SETS",
    "Capability",
    "Chart",
    "ChartSpec",
    "Limits",
    "Normality",
    "Series",
    "Subgroups",
    "Violation",
    "capability",
    "chart",
    "chart_for_tag",
    "scrap_chart",
    "tag_values",
    "to_dict",
]

ATTRIBUTE_KINDS = frozenset({"p", "np", "c", "u"})
CHART_KINDS = ("imr", "xbar_r", "xbar_s", "p", "np", "c", "u", "ewma", "cusum")
_ALL_POINTS = Limits()


@dataclass(frozen=True, slots=True)
class ChartSpec:
    """What chart to draw and how: the options of ``andon spc`` and ``/api/v1/spc``.

    ``baseline_ms`` (a half-open time window) is an alternative to ``limits.baseline``:
    the subgroups that start inside it set the limits.
    """

    kind: str = "imr"
    subgroup: int = 1
    period_ms: int | None = None
    limits: Limits = _ALL_POINTS
    baseline_ms: tuple[int, int] | None = None
    rule_set: str = "nelson"
    enabled: tuple[int, ...] | None = None
    ewma_lambda: float = 0.2
    cusum_k: float = 0.5
    cusum_h: float = 5.0
    target: float | None = None
    sigma: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in CHART_KINDS:
            raise InvalidRequest(f"unknown chart {self.kind!r}; use one of {list(CHART_KINDS)}")
        if self.rule_set not in RULE_SETS:
            raise InvalidRequest(f"unknown rule set {self.rule_set!r}; use nelson or we")
        if self.subgroup < 1:
            raise InvalidRequest("subgroup size must be at least 1")
        if self.baseline_ms is not None and self.limits != _ALL_POINTS:
            raise InvalidRequest("give the baseline as subgroups or as a time window, not both")


def _grouped(values: FloatArray, ts_ms: IntArray | None, spec: ChartSpec) -> Subgroups:
    if spec.period_ms is not None:
        if ts_ms is None:
            raise InvalidRequest("subgroups by time need timestamps")
        return Subgroups.by_time(values, ts_ms, spec.period_ms)
    return Subgroups.by_count(values, spec.subgroup, ts_ms)


def _resolve_baseline(spec: ChartSpec, stamps: IntArray | None) -> Limits:
    if spec.baseline_ms is None:
        return spec.limits
    if stamps is None:
        raise InvalidRequest("a baseline time window needs timestamps")
    start, end = spec.baseline_ms
    inside = np.flatnonzero((stamps >= start) & (stamps < end))
    if inside.size < 2:
        raise InvalidRequest("fewer than 2 subgroups start inside the baseline window")
    return Limits(baseline=(int(inside[0]), int(inside[-1]) + 1))


def _imr(groups: Subgroups, limits: Limits, spec: ChartSpec) -> Chart:
    return imr(groups.means(), groups.ts_ms, limits, rule_set=spec.rule_set, enabled=spec.enabled)


def _xbar_r(groups: Subgroups, limits: Limits, spec: ChartSpec) -> Chart:
    return xbar_r(
        _needs_subgroups(groups, spec), limits, rule_set=spec.rule_set, enabled=spec.enabled
    )


def _xbar_s(groups: Subgroups, limits: Limits, spec: ChartSpec) -> Chart:
    return xbar_s(
        _needs_subgroups(groups, spec), limits, rule_set=spec.rule_set, enabled=spec.enabled
    )


def _needs_subgroups(groups: Subgroups, spec: ChartSpec) -> Subgroups:
    if int(groups.sizes.max(initial=0)) < 2:
        raise InvalidRequest(f"{spec.kind} needs subgroups: give a size >= 2 or a period")
    return groups


def _ewma(groups: Subgroups, limits: Limits, spec: ChartSpec) -> Chart:
    return ewma(groups, None, limits, lam=spec.ewma_lambda, target=spec.target, sigma=spec.sigma)


def _cusum(groups: Subgroups, limits: Limits, spec: ChartSpec) -> Chart:
    return cusum(
        groups, None, limits, k=spec.cusum_k, h=spec.cusum_h, target=spec.target, sigma=spec.sigma
    )


_VARIABLE: dict[str, Callable[[Subgroups, Limits, ChartSpec], Chart]] = {
    "imr": _imr,
    "xbar_r": _xbar_r,
    "xbar_s": _xbar_s,
    "ewma": _ewma,
    "cusum": _cusum,
}
_RATES: dict[str, Callable[..., Chart]] = {"p": p_chart, "np": np_chart, "u": u_chart}


def _variable(values: FloatArray, ts_ms: IntArray | None, spec: ChartSpec) -> Chart:
    keep = np.isfinite(values)
    groups = _grouped(values[keep], None if ts_ms is None else ts_ms[keep], spec)
    return _VARIABLE[spec.kind](groups, _resolve_baseline(spec, groups.ts_ms), spec)


def _summed(values: FloatArray, ts_ms: IntArray | None, spec: ChartSpec) -> Subgroups:
    groups = _grouped(values, ts_ms, spec)
    return Subgroups(groups.sums().reshape(-1, 1), groups.sizes, groups.ts_ms)


def _attribute(
    values: FloatArray, ts_ms: IntArray | None, sizes: FloatArray | None, spec: ChartSpec
) -> Chart:
    counts = _summed(values, ts_ms, spec)
    limits = _resolve_baseline(spec, counts.ts_ms)
    c, stamps, rule_set, enabled = counts.values[:, 0], counts.ts_ms, spec.rule_set, spec.enabled
    if spec.kind == "c":
        return c_chart(c, stamps, limits, rule_set=rule_set, enabled=enabled)
    if sizes is None:
        raise InvalidRequest(f"a {spec.kind} chart needs sample sizes")
    n = _summed(sizes, ts_ms, spec).values[:, 0]
    return _RATES[spec.kind](c, n, stamps, limits, rule_set=rule_set, enabled=enabled)


def chart(
    values: FloatArray,
    spec: ChartSpec,
    *,
    ts_ms: IntArray | None = None,
    sizes: FloatArray | None = None,
) -> Chart:
    """The control chart of ``values`` (measurements, or counts with ``sizes``) per ``spec``."""
    x = np.asarray(values, dtype=np.float64)
    stamps = None if ts_ms is None else np.asarray(ts_ms, dtype=np.int64)
    if stamps is not None and stamps.shape != x.shape:
        raise InvalidRequest("values and timestamps must have the same length")
    if x.size == 0:
        raise InvalidRequest("no values to chart")
    if spec.kind in ATTRIBUTE_KINDS:
        n = None if sizes is None else np.asarray(sizes, dtype=np.float64)
        return _attribute(x, stamps, n, spec)
    return _variable(x, stamps, spec)


def tag_values(
    historian: Historian, asset: str, tag: str, start_ms: int, end_ms: int
) -> tuple[IntArray, FloatArray]:
    """Timestamps and values of one historian tag in ``[start_ms, end_ms)``."""
    found = [t for t in historian.tags(asset) if t.asset == asset and t.name == tag]
    if not found:
        raise NotFound(f"no tag {tag!r} at {asset}")
    rows = historian.series(found[0].id, start_ms, end_ms)
    stamps = np.fromiter((ts for ts, _ in rows), dtype=np.int64, count=len(rows))
    values = np.fromiter((v for _, v in rows), dtype=np.float64, count=len(rows))
    return stamps, values


def chart_for_tag(
    historian: Historian, asset: str, tag: str, start_ms: int, end_ms: int, spec: ChartSpec
) -> Chart:
    """The control chart of a historian tag over a window."""
    stamps, values = tag_values(historian, asset, tag, start_ms, end_ms)
    if values.size == 0:
        raise NotFound(f"{asset}/{tag} has no samples in the window")
    return chart(values, spec, ts_ms=stamps)


def scrap_chart(
    historian: Historian, asset: str, start_ms: int, end_ms: int, spec: ChartSpec
) -> Chart:
    """p (or np, u) chart of a machine's scrap per period, from its count totals.

    Each period's produced and scrap quantities come from the non-resetting totals exactly
    as OEE counts them (:func:`andon.mes.count_deltas`); periods without production are
    left out.
    """
    if spec.period_ms is None or spec.kind not in ("p", "np", "u"):
        raise InvalidRequest("a scrap chart is a p, np or u chart with a period")
    readings = historian.count_totals(asset, start_ms, end_ms)
    first = start_ms // spec.period_ms * spec.period_ms
    period = spec.period_ms
    starts = list(range(first, end_ms, period))
    quantities = [count_deltas(readings, max(s, start_ms), min(s + period, end_ms)) for s in starts]
    produced = np.array([q[0] for q in quantities], dtype=np.float64)
    scrap = np.array([min(q[2], q[0]) for q in quantities], dtype=np.float64)
    keep = produced > 0
    if not keep.any():
        raise NotFound(f"{asset} produced nothing in the window")
    stamps = np.array(starts, dtype=np.int64)[keep]
    return chart(scrap[keep], spec, ts_ms=stamps, sizes=produced[keep])


def _compact(values: FloatArray) -> float | list[float | None] | None:
    """A constant array as one number, otherwise a list (NaN and infinities as null)."""
    finite = values[np.isfinite(values)]
    if finite.size == values.size and (finite.size == 0 or np.ptp(finite) == 0):
        return float(finite[0]) if finite.size else None
    return [float(v) if np.isfinite(v) else None for v in values]


def to_dict(result: Chart, *, points: bool = True) -> dict[str, object]:
    """JSON-ready chart: limits per series, every violation; the points when ``points``."""
    texts = RULE_TEXT.get(result.rule_set, {})
    series = []
    for s in result.series:
        entry: dict[str, object] = {
            "name": s.name,
            "center": _compact(s.center),
            "lcl": _compact(s.lcl),
            "ucl": _compact(s.ucl),
        }
        if points:
            entry["values"] = [float(v) if np.isfinite(v) else None for v in s.values]
        series.append(entry)
    out: dict[str, object] = {
        "kind": result.kind,
        "rule_set": result.rule_set,
        "limits_from": result.limits.describe(),
        "sigma": result.sigma,
        "points": int(result.sizes.size),
        "series": series,
        "violations": [
            {
                "series": v.series,
                "index": v.index,
                "rule": v.rule,
                "text": texts.get(v.rule, "beyond the decision limit"),
                "value": v.value,
                "ts_ms": v.ts_ms,
            }
            for v in result.violations()
        ],
    }
    if points:
        out["sizes"] = _compact(result.sizes)
        out["ts_ms"] = None if result.ts_ms is None else result.ts_ms.tolist()
    return out
