"""Each Nelson and Western Electric rule: a series that triggers it, and one that must not."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from andon.errors import InvalidRequest
from andon.mes.spc_rules import evaluate, max_window, violations

SMALL = [0.3, -0.2, 0.5, -0.4, 0.1, -0.6, 0.2, -0.3, 0.4, -0.1, 0.6, -0.5, 0.2, -0.2, 0.3]


def flagged(series: list[float], rule: int, rule_set: str = "nelson") -> list[int]:
    x = np.asarray(series, dtype=float)
    flags = evaluate(x, np.zeros(x.size), np.ones(x.size), rule_set=rule_set, enabled=[rule])
    return np.flatnonzero(flags[rule]).tolist()


# rule -> (a series that triggers it, the indices it flags, a near miss that must not)
NELSON = {
    1: ([0.0, 0.5, 3.2, 0.1, -3.1], [2, 4], [0.0, 2.99, -2.99, 2.5]),
    2: ([0.5] * 10, [8, 9], [0.5] * 8 + [-0.5] + [0.5] * 8),
    3: ([0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.1], [5], [0.0, 0.1, 0.2, 0.3, 0.4, 0.4, 0.5]),
    4: ([0.5, -0.5] * 7, [13], [0.5, -0.5] * 6 + [0.5, 0.6]),
    5: ([0.0, 2.5, 0.0, 2.5], [3], [2.5, 0.0, 0.0, 2.5, 0.0, -2.5, 0.0]),
    6: ([1.5, 1.5, 0.0, 1.5, 1.5], [4], [1.5, 1.5, 0.0, 0.0, 1.5, 1.5, -1.5]),
    7: (SMALL, [14], [*SMALL[:14], 1.2]),
    8: ([1.5, -1.5] * 4, [7], [1.5, -1.5] * 3 + [1.5, 0.5]),
}
WESTERN_ELECTRIC = {
    1: ([0.0, 3.5], [1], [2.9, -2.9]),
    2: ([2.1, 0.0, 2.1], [2], [2.1, 0.0, -2.1]),
    3: ([1.1, 1.1, -0.5, 1.1, 1.1], [4], [1.1, 1.1, -0.5, -0.5, 1.1, 1.1]),
    4: ([0.2] * 8, [7], [0.2] * 7 + [-0.2]),
}


@pytest.mark.parametrize("rule", sorted(NELSON))
def test_nelson_rule_triggers(rule: int) -> None:
    series, expected, _ = NELSON[rule]
    assert flagged(series, rule) == expected


@pytest.mark.parametrize("rule", sorted(NELSON))
def test_nelson_rule_near_miss_does_not_trigger(rule: int) -> None:
    assert flagged(NELSON[rule][2], rule) == []


@pytest.mark.parametrize("rule", sorted(WESTERN_ELECTRIC))
def test_western_electric_rule(rule: int) -> None:
    series, expected, miss = WESTERN_ELECTRIC[rule]
    assert flagged(series, rule, "we") == expected
    assert flagged(miss, rule, "we") == []


def test_decreasing_trend_and_below_centre_runs_count_too() -> None:
    assert flagged([0.5, 0.4, 0.3, 0.2, 0.1, 0.0], 3) == [5]
    assert flagged([-0.5] * 9, 2) == [8]
    assert flagged([0.0, -2.5, -2.6], 5) == [2]


def test_points_without_limits_are_skipped_and_break_runs() -> None:
    x = np.array([0.5] * 5 + [0.5] + [0.5] * 5)
    sigma = np.ones(x.size)
    sigma[5] = np.nan  # e.g. before a rolling window fills, or no range yet
    flags = evaluate(x, np.zeros(x.size), sigma, enabled=[2])
    assert not flags[2].any()


def test_varying_limits_use_each_points_own_zones() -> None:
    x = np.array([2.5, 2.5])
    flags = evaluate(x, np.zeros(2), np.array([1.0, 2.0]), enabled=[5])
    assert not flags[5].any()  # the second point is only 1.25 sigma out


def test_clipped_lower_limit_is_used_for_rule_one() -> None:
    x = np.array([0.0, 0.0])
    lcl = np.array([0.0, 0.0])
    flags = evaluate(x, np.full(2, 1.0), np.full(2, 0.5), lcl=lcl, enabled=[1])
    assert not flags[1].any()


def test_unknown_rules_are_refused() -> None:
    with pytest.raises(InvalidRequest):
        evaluate(np.zeros(3), np.zeros(3), np.ones(3), rule_set="acme")
    with pytest.raises(InvalidRequest):
        evaluate(np.zeros(3), np.zeros(3), np.ones(3), rule_set="we", enabled=[5])
    assert max_window("nelson", [1, 5]) == 3


def _reference(x: list[float]) -> set[tuple[int, int]]:
    """Nelson's rules point by point, written as plainly as possible (zones: centre 0, sd 1)."""
    found = set()
    for i in range(len(x)):

        def last(k: int, i: int = i) -> list[float]:
            return x[i - k + 1 : i + 1] if i + 1 >= k else []

        if abs(x[i]) > 3:
            found.add((i, 1))
        w = last(9)
        if w and (all(v > 0 for v in w) or all(v < 0 for v in w)):
            found.add((i, 2))
        w = last(6)
        if w and (all(b > a for a, b in pairwise(w)) or all(b < a for a, b in pairwise(w))):
            found.add((i, 3))
        w = last(14)
        steps = [b - a for a, b in pairwise(w)]
        if w and all(s * t < 0 for s, t in pairwise(steps)):
            found.add((i, 4))
        for rule, k, m, zone in ((5, 2, 3, 2.0), (6, 4, 5, 1.0)):
            w = x[max(0, i - m + 1) : i + 1]
            if x[i] > zone and sum(v > zone for v in w) >= k:
                found.add((i, rule))
            if x[i] < -zone and sum(v < -zone for v in w) >= k:
                found.add((i, rule))
        w = last(15)
        if w and all(abs(v) < 1 for v in w):
            found.add((i, 7))
        w = last(8)
        if w and all(abs(v) > 1 for v in w):
            found.add((i, 8))
    return found


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.sampled_from([-3.5, -2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5, -0.2, 0.2, 0.7, -0.7]),
        min_size=1,
        max_size=60,
    )
)
def test_vectorised_rules_equal_the_plain_reference(series: list[float]) -> None:
    x = np.asarray(series)
    flags = evaluate(x, np.zeros(x.size), np.ones(x.size))
    assert set(violations(flags)) == _reference(series)
