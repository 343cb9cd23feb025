"""Capability indices on known distributions, their intervals, and the normality check."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from andon.errors import InvalidRequest
from andon.mes.spc_capability import anderson_darling, capability
from andon.mes.spc_charts import Subgroups


def test_indices_of_a_known_normal_process() -> None:
    # mean 10.5, sigma 1, specs 7..13: Cp = Pp = 1, Cpk = Ppk = (13 - 10.5) / 3 = 0.833
    x = np.random.default_rng(21).normal(10.5, 1.0, 20_000)
    cap = capability(x, lsl=7.0, usl=13.0)
    assert cap.pp == pytest.approx(1.0, abs=0.02)
    assert cap.cp == pytest.approx(1.0, abs=0.03)
    assert cap.ppk == pytest.approx(0.8333, abs=0.02)
    assert cap.cpk == pytest.approx(min(cap.cpu, cap.cpl))
    # expected fraction out of spec: P(Z < -3.5) + P(Z > 2.5)
    expected_ppm = (stats.norm.cdf(-3.5) + stats.norm.sf(2.5)) * 1e6
    assert cap.ppm_overall == pytest.approx(expected_ppm, rel=0.1)
    assert cap.normality.normal


def test_one_sided_specification() -> None:
    x = np.random.default_rng(1).normal(5.0, 1.0, 500)
    cap = capability(x, usl=8.0)
    assert (cap.cp, cap.pp, cap.cpl) == (None, None, None)
    assert cap.cpk == cap.cpu
    assert set(cap.intervals) == {"cpu", "cpk", "ppu", "ppk"}


def test_pp_interval_covers_the_truth_at_its_confidence() -> None:
    rng = np.random.default_rng(99)
    hits = 0
    trials = 300
    for _ in range(trials):
        x = rng.normal(0.0, 1.0, 40)
        low, high = capability(x, lsl=-3.0, usl=3.0).intervals["pp"]
        hits += low <= 1.0 <= high
    assert 0.92 <= hits / trials <= 0.98


def test_within_sigma_comes_from_subgroup_ranges() -> None:
    rng = np.random.default_rng(5)
    # Each subgroup sits at its own level: within sigma small, overall sigma large.
    values = rng.normal(0, 0.1, (30, 5)) + rng.normal(0, 1.0, (30, 1))
    cap = capability(Subgroups.by_count(values.ravel(), 5), lsl=-4.0, usl=4.0)
    assert cap.sigma_within == pytest.approx(0.1, rel=0.2)
    assert cap.sigma_overall > 0.5
    assert cap.cp is not None
    assert cap.pp is not None
    assert cap.cp > 5 * cap.pp


def test_anderson_darling_matches_scipy_and_flags_skewed_data() -> None:
    x = np.random.default_rng(3).normal(size=60)
    ours = anderson_darling(x)
    theirs = stats.anderson(x, method="interpolate").statistic
    assert ours.statistic == pytest.approx(theirs * (1 + 0.75 / 60 + 2.25 / 3600))
    assert not anderson_darling(np.random.default_rng(4).exponential(size=100)).normal
    assert anderson_darling(np.random.default_rng(6).normal(size=100)).normal


def test_capability_refuses_what_it_cannot_compute() -> None:
    x = np.random.default_rng(0).normal(size=50)
    with pytest.raises(InvalidRequest, match="specification"):
        capability(x)
    with pytest.raises(InvalidRequest, match="below the upper"):
        capability(x, lsl=1.0, usl=0.0)
    with pytest.raises(InvalidRequest, match="at least 8"):
        capability(x[:5], usl=3.0)
    with pytest.raises(InvalidRequest, match="do not vary"):
        capability(np.ones(20), usl=3.0)
