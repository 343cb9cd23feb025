"""Honest splits: stratified folds of independent rows, folds by unit, or by time.

Rows of one unit (an engine, a machine, a tool) are never on both sides of a split, and a
time split never trains on the future. Every split describes itself for the registry.

>>> split = Split.by_group(k=2, seed=0)
>>> folds = split.folds(pd.DataFrame({"u": [1, 1, 2, 2, 3, 3]}), group="u")
>>> sorted(sorted(test.tolist()) for _, test in folds)
[[0, 1], [2, 3, 4, 5]]
>>> Split.by_time(0.25).folds(pd.DataFrame({"t": [4, 1, 3, 2]}), time="t")[0][1].tolist()
[0]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.model_selection import GroupKFold, StratifiedKFold

from andon.errors import InvalidRequest

__all__ = ["Fold", "LeakageError", "Split", "assert_no_leak"]

Fold = tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]


class LeakageError(InvalidRequest):
    """A split would put the same unit (or future rows) on both sides."""


@dataclass(frozen=True, slots=True)
class Split:
    """How rows are divided into training and held-out parts."""

    kind: str  # "stratified" | "group" | "time"
    k: int = 5
    seed: int = 0
    test_fraction: float = 0.2

    @classmethod
    def stratified(cls, k: int = 5, seed: int = 0) -> Split:
        """Shuffled folds keeping the class balance (independent rows only)."""
        return cls("stratified", k=k, seed=seed)

    @classmethod
    def by_group(cls, k: int = 5, seed: int = 0) -> Split:
        """Folds of whole groups (units): no group on both sides."""
        return cls("group", k=k, seed=seed)

    @classmethod
    def by_time(cls, test_fraction: float = 0.2) -> Split:
        """Train on the earliest rows, test on the latest ``test_fraction``."""
        return cls("time", k=1, test_fraction=test_fraction)

    def describe(self) -> dict[str, Any]:
        return asdict(self)

    def folds(
        self,
        frame: pd.DataFrame,
        *,
        target: str | None = None,
        group: str | None = None,
        time: str | None = None,
    ) -> list[Fold]:
        """(train, test) row positions for each fold; checked for leakage."""
        if self.kind == "stratified":
            if target is None:
                raise InvalidRequest("a stratified split needs the target column")
            folds = _stratified(frame[target].to_numpy(), self.k, self.seed)
        elif self.kind == "group":
            if group is None:
                raise InvalidRequest("a split by unit needs the unit (group) column")
            folds = _grouped(frame[group].to_numpy(), self.k, self.seed)
        elif self.kind == "time":
            if time is None:
                raise InvalidRequest("a split by time needs the time column")
            folds = [_by_time(frame[time].to_numpy(), self.test_fraction)]
        else:
            raise InvalidRequest(f"unknown split kind {self.kind!r}")
        groups = None if group is None else frame[group].to_numpy()
        for train, test in folds:
            assert_no_leak(train, test, groups)
        return folds


def _stratified(y: npt.NDArray[Any], k: int, seed: int) -> list[Fold]:
    _, counts = np.unique(y, return_counts=True)
    if len(counts) < 2 or counts.min() < k:
        raise InvalidRequest(f"{k}-fold stratified CV needs at least {k} rows of every class")
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(y)), y))


def _grouped(groups: npt.NDArray[Any], k: int, seed: int) -> list[Fold]:
    unique = pd.unique(groups)
    if len(unique) < k:
        raise InvalidRequest(f"{k} folds by unit need at least {k} units, got {len(unique)}")
    order = np.random.default_rng(seed).permutation(len(unique))
    codes = pd.Series(np.arange(len(unique))[np.argsort(order)], index=unique)
    shuffled = codes.loc[groups].to_numpy()
    return list(GroupKFold(n_splits=k).split(np.zeros(len(groups)), groups=shuffled))


def _by_time(times: npt.NDArray[Any], test_fraction: float) -> Fold:
    if not 0 < test_fraction < 1:
        raise InvalidRequest("the test fraction must be in (0, 1)")
    order = np.argsort(times, kind="stable")
    cut = round(len(times) * (1 - test_fraction))
    if cut <= 0 or cut >= len(times):
        raise InvalidRequest("too few rows for a time split")
    boundary = times[order[cut]]
    train = np.flatnonzero(times < boundary)
    test = np.flatnonzero(times >= boundary)
    return train, test


def assert_no_leak(
    train: Sequence[int] | npt.NDArray[np.intp],
    test: Sequence[int] | npt.NDArray[np.intp],
    groups: npt.NDArray[Any] | None = None,
) -> None:
    """Raise :class:`LeakageError` if a row, or a group's rows, are on both sides."""
    train_idx, test_idx = np.asarray(train), np.asarray(test)
    if np.intersect1d(train_idx, test_idx).size:
        raise LeakageError("a row is in both the training and the test part")
    if groups is not None:
        shared = np.intersect1d(groups[train_idx], groups[test_idx])
        if shared.size:
            raise LeakageError(f"units on both sides of the split: {shared[:5].tolist()}")
