"""Control limits of every chart against the textbook formulas, and how limits are set."""

from __future__ import annotations

import numpy as np
import pytest

from andon.errors import InvalidRequest
from andon.mes import spc
from andon.mes.spc_attributes import c_chart, np_chart, p_chart, u_chart
from andon.mes.spc_charts import Limits, Subgroups, imr, xbar_r, xbar_s
from andon.mes.spc_smoothed import cusum, ewma

# Factors from the published table (Montgomery, Appendix VI), independent of spc_constants.
A2_5, D3_5, D4_5, A3_5, B3_5, B4_5 = 0.577, 0.0, 2.114, 1.427, 0.0, 2.089
A2_7, D3_7, D4_7 = 0.419, 0.076, 1.924


@pytest.fixture
def rings() -> np.ndarray:
    """25 subgroups of 5 measurements of an in-control process."""
    return np.random.default_rng(11).normal(74.0, 0.01, size=(25, 5))


def test_xbar_r_limits_are_the_textbook_ones(rings: np.ndarray) -> None:
    chart = xbar_r(Subgroups.by_count(rings.ravel(), 5))
    xbar, ranges = chart.series
    grand, r_bar = rings.mean(), np.ptp(rings, axis=1).mean()
    assert xbar.center[0] == pytest.approx(grand)
    assert xbar.ucl[0] == pytest.approx(grand + A2_5 * r_bar, rel=1e-5)
    assert xbar.lcl[0] == pytest.approx(grand - A2_5 * r_bar, rel=1e-5)
    assert ranges.center[0] == pytest.approx(r_bar)
    assert ranges.ucl[0] == pytest.approx(D4_5 * r_bar, rel=5e-4)
    assert ranges.lcl[0] == D3_5 * r_bar
    assert chart.sigma == pytest.approx(r_bar / 2.326, rel=2e-4)


def test_r_chart_lower_limit_is_positive_from_seven_on() -> None:
    values = np.random.default_rng(3).normal(0, 1, size=(30, 7))
    ranges = xbar_r(Subgroups.by_count(values.ravel(), 7)).series[1]
    r_bar = np.ptp(values, axis=1).mean()
    assert ranges.lcl[0] == pytest.approx(D3_7 * r_bar, rel=5e-3)
    assert ranges.ucl[0] == pytest.approx(D4_7 * r_bar, rel=5e-4)


def test_xbar_s_limits_are_the_textbook_ones(rings: np.ndarray) -> None:
    chart = xbar_s(Subgroups.by_count(rings.ravel(), 5))
    xbar, deviations = chart.series
    s_bar = rings.std(axis=1, ddof=1).mean()
    assert xbar.ucl[0] == pytest.approx(rings.mean() + A3_5 * s_bar, rel=1e-5)
    assert deviations.ucl[0] == pytest.approx(B4_5 * s_bar, rel=5e-4)
    assert deviations.lcl[0] == B3_5
    assert deviations.values == pytest.approx(rings.std(axis=1, ddof=1))


def test_imr_limits_use_the_average_moving_range() -> None:
    x = np.random.default_rng(5).normal(10, 2, 50)
    chart = imr(x)
    mr_bar = np.abs(np.diff(x)).mean()
    assert chart.series[0].ucl[0] == pytest.approx(x.mean() + 2.660 * mr_bar, rel=2e-4)
    assert chart.series[1].ucl[0] == pytest.approx(3.267 * mr_bar, rel=2e-4)
    assert np.isnan(chart.series[1].values[0])  # no moving range for the first point


def test_a_shift_after_the_baseline_is_caught_with_frozen_limits() -> None:
    rng = np.random.default_rng(8)
    x = np.r_[rng.normal(0, 1, 40), rng.normal(4, 1, 10)]
    frozen = imr(x, limits=Limits(baseline=(0, 40)))
    assert frozen.series[0].center[0] == pytest.approx(x[:40].mean())
    flagged = {v.index for v in frozen.violations() if v.series == "x" and v.rule == 1}
    assert min(flagged) >= 40
    assert len(flagged) >= 5


def test_rolling_limits_follow_the_window_before_each_point() -> None:
    x = np.arange(10, dtype=float)
    chart = imr(x, limits=Limits(rolling=4))
    center = chart.series[0].center
    assert np.isnan(center[:4]).all()
    assert center[4] == pytest.approx(x[0:4].mean())
    assert center[9] == pytest.approx(x[5:9].mean())
    assert chart.sigma is None


def test_limits_options_are_checked() -> None:
    with pytest.raises(InvalidRequest):
        Limits(baseline=(0, 5), rolling=3)
    with pytest.raises(InvalidRequest):
        imr(np.zeros(4), limits=Limits(baseline=(0, 10)))


def test_subgroups_by_time_have_varying_sizes_and_their_own_limits() -> None:
    stamps = np.array([0, 10, 20, 1000, 1010, 2000, 2010, 2020, 2030], dtype=np.int64)
    values = np.array([1.0, 2.0, 3.0, 2.0, 3.0, 1.0, 2.0, 3.0, 4.0])
    groups = Subgroups.by_time(values, stamps, 1000)
    assert groups.sizes.tolist() == [3, 2, 4]
    assert groups.ts_ms is not None
    assert groups.ts_ms.tolist() == [0, 1000, 2000]
    chart = xbar_r(groups)
    xbar = chart.series[0]
    half_widths = xbar.ucl - xbar.center
    assert half_widths[1] > half_widths[0] > half_widths[2]  # sigma / sqrt(n_i)
    # sigma = mean of R_i / d2(n_i), the textbook R-bar / d2 for a constant size
    expected = np.mean([2 / 1.693, 1 / 1.128, 3 / 2.059])
    assert chart.sigma == pytest.approx(expected, rel=1e-3)


def test_p_chart_limits_vary_with_sample_size() -> None:
    defectives = np.array([4.0, 6.0, 3.0, 9.0])
    sizes = np.array([100.0, 200.0, 100.0, 150.0])
    chart = p_chart(defectives, sizes)
    s = chart.series[0]
    p_bar = defectives.sum() / sizes.sum()
    assert s.center[0] == pytest.approx(p_bar)
    expected = p_bar + 3 * np.sqrt(p_bar * (1 - p_bar) / sizes)
    assert s.ucl == pytest.approx(expected)
    assert (s.lcl >= 0).all()


def test_np_c_and_u_charts() -> None:
    d = np.array([3.0, 5.0, 4.0, 2.0])
    np_series = np_chart(d, np.full(4, 50.0)).series[0]
    p_bar = d.sum() / 200
    assert np_series.ucl[0] == pytest.approx(50 * p_bar + 3 * np.sqrt(50 * p_bar * (1 - p_bar)))
    with pytest.raises(InvalidRequest):
        np_chart(d, np.array([50.0, 60.0, 50.0, 50.0]))
    c_series = c_chart(np.array([9.0, 12.0, 6.0])).series[0]
    assert c_series.lcl[0] == pytest.approx(9 - 3 * 3)
    units = np.array([2.0, 4.0, 2.0])
    u = u_chart(np.array([6.0, 10.0, 4.0]), units).series[0]
    assert u.center[0] == pytest.approx(20 / 8)
    assert u.ucl == pytest.approx(2.5 + 3 * np.sqrt(2.5 / units))


def test_ewma_limits_widen_to_their_asymptote() -> None:
    chart = ewma(np.zeros(50), target=0.0, sigma=1.0, lam=0.2, width=3.0)
    ucl = chart.series[0].ucl
    assert ucl[0] == pytest.approx(3 * np.sqrt(0.2 / 1.8 * (1 - 0.8**2)))
    assert ucl[-1] == pytest.approx(3 * np.sqrt(0.2 / 1.8), rel=1e-6)
    assert np.all(np.diff(ucl) >= 0)


def test_cusum_equals_its_recursion_and_detects_a_small_shift() -> None:
    rng = np.random.default_rng(2)
    x = np.r_[rng.normal(0, 1, 50), rng.normal(1, 1, 50)]
    chart = cusum(x, target=0.0, sigma=1.0)
    upper = chart.series[0].values
    c, expected = 0.0, []
    for value in x:
        c = max(0.0, value - 0.5 + c)
        expected.append(c)
    assert upper == pytest.approx(expected)
    first = min(v.index for v in chart.violations() if v.series == "upper")
    assert first >= 50  # no alarm before the shift, one after it
    with pytest.raises(InvalidRequest):
        cusum(x, limits=Limits(rolling=10))


def test_facade_dispatches_every_kind_and_serialises() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(5, 1, 60)
    stamps = np.arange(60, dtype=np.int64) * 60_000
    for kind in ("imr", "xbar_r", "xbar_s", "ewma", "cusum"):
        result = spc.chart(x, spc.ChartSpec(kind=kind, subgroup=1 if kind == "imr" else 3))
        assert result.kind == kind
    counts = rng.poisson(3, 60).astype(float)
    for kind in ("p", "np", "c", "u"):
        result = spc.chart(counts, spc.ChartSpec(kind=kind), sizes=np.full(60, 50.0))
        assert result.series[0].name == kind
    hourly = spc.chart(x, spc.ChartSpec(kind="xbar_s", period_ms=600_000), ts_ms=stamps)
    assert hourly.sizes.tolist() == [10.0] * 6
    out = spc.to_dict(hourly, points=False)
    assert out["points"] == 6
    assert "values" not in out["series"][0]  # type: ignore[index]
    assert isinstance(out["series"][0]["ucl"], float)  # type: ignore[index]


def test_baseline_as_a_time_window() -> None:
    x = np.r_[np.zeros(10) + np.tile([0.1, -0.1], 5), np.full(5, 5.0)]
    stamps = np.arange(15, dtype=np.int64) * 1000
    spec = spc.ChartSpec(kind="imr", baseline_ms=(0, 10_000))
    result = spc.chart(x, spec, ts_ms=stamps)
    assert result.limits == Limits(baseline=(0, 10))
    assert [v.index for v in result.violations() if v.series == "x" and v.rule == 1] == list(
        range(10, 15)
    )


def test_bad_requests_are_explained() -> None:
    with pytest.raises(InvalidRequest, match="unknown chart"):
        spc.ChartSpec(kind="pie")
    with pytest.raises(InvalidRequest, match="needs subgroups"):
        spc.chart(np.ones(10), spc.ChartSpec(kind="xbar_r"))
    with pytest.raises(InvalidRequest, match="sample sizes"):
        spc.chart(np.ones(10), spc.ChartSpec(kind="p"))
    with pytest.raises(InvalidRequest, match="more defectives"):
        spc.chart(np.full(3, 5.0), spc.ChartSpec(kind="p"), sizes=np.full(3, 2.0))
