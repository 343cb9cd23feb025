"""Honest splits: no unit on both sides, no training on the future."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from andon.errors import InvalidRequest
from andon.ml.evaluate import LeakageError, Split, assert_no_leak


@settings(max_examples=40, deadline=None)
@given(
    units=st.lists(st.integers(0, 30), min_size=10, max_size=200),
    k=st.integers(2, 5),
    seed=st.integers(0, 10),
)
def test_a_split_by_unit_never_puts_one_unit_on_both_sides(
    units: list[int], k: int, seed: int
) -> None:
    frame = pd.DataFrame({"unit": units})
    if frame["unit"].nunique() < k:
        with pytest.raises(InvalidRequest):
            Split.by_group(k, seed).folds(frame, group="unit")
        return
    folds = Split.by_group(k, seed).folds(frame, group="unit")
    assert len(folds) == k
    tested = np.concatenate([test for _, test in folds])
    assert sorted(tested.tolist()) == list(range(len(units)))  # every row tested once
    for train, test in folds:
        assert not set(frame["unit"].iloc[train]) & set(frame["unit"].iloc[test])


def test_stratified_folds_keep_the_class_balance() -> None:
    y = np.array([1] * 20 + [0] * 480)
    folds = Split.stratified(5, seed=3).folds(pd.DataFrame({"y": y}), target="y")
    assert [int(y[test].sum()) for _, test in folds] == [4] * 5


def test_a_time_split_trains_on_the_past_only() -> None:
    times = np.random.default_rng(0).permutation(100)
    train, test = Split.by_time(0.25).folds(pd.DataFrame({"t": times}), time="t")[0]
    assert times[train].max() < times[test].min()
    assert len(test) == 25


def test_leakage_is_caught() -> None:
    groups = np.array(["a", "a", "b", "b"])
    with pytest.raises(LeakageError, match="units on both sides"):
        assert_no_leak([0, 2], [1, 3], groups)
    with pytest.raises(LeakageError, match="both the training and the test"):
        assert_no_leak([0, 1], [1, 2])
    assert_no_leak([0, 1], [2, 3], groups)


def test_stratified_split_needs_enough_of_each_class() -> None:
    with pytest.raises(InvalidRequest, match="at least 5 rows of every class"):
        Split.stratified(5).folds(pd.DataFrame({"y": [0] * 50 + [1] * 3}), target="y")


def test_splits_describe_themselves() -> None:
    assert Split.by_group(4, seed=2).describe() == {
        "kind": "group",
        "k": 4,
        "seed": 2,
        "test_fraction": 0.2,
    }
