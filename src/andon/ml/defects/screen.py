"""The screen in front of a defect model: drop useless columns, fill gaps, keep the telling ones.

Process tables of a fab or a rolling mill have hundreds of columns, many of them constant,
nearly constant or mostly empty, and a few that matter. :class:`ColumnScreen` drops the
columns that are more than ``max_missing`` empty or whose commonest value covers at least
``near_constant`` of the rows, fills the remaining gaps with the training medians and adds
the count of missing values per row (a sensor that did not report is itself a signal).
With ``flag_gap`` and the training labels it also adds a 0/1 "was missing" flag for each
column (kept or dropped) that is missing in between 2 % and 98 % of the rows and whose
missing share in some class differs from the other rows' by at least ``flag_gap``.
:class:`UnivariateSelector` then keeps the ``k`` columns that best separate the classes on
their own (rank AUC, one class against the rest). Both learn from the training rows only.

>>> X = np.array([[1.0, 5.0, np.nan], [2.0, 5.0, np.nan], [3.0, 5.0, 1.0], [np.nan, 5.0, 2.0]])
>>> screen = ColumnScreen(max_missing=0.4).fit(X)
>>> screen.kept_.tolist(), screen.transform(X)[:, 0].tolist()
([0], [1.0, 2.0, 3.0, 2.0])
>>> separation(np.array([[1.0, 0.3], [2.0, 0.1], [3.0, 0.2], [4.0, 0.4]]), np.array([0, 0, 1, 1]))
array([0.5 , 0.25])
"""

from __future__ import annotations

from typing import Self

import numpy as np
import numpy.typing as npt
from scipy.stats import rankdata

__all__ = ["ColumnScreen", "UnivariateSelector", "separation"]

Matrix = npt.NDArray[np.float64]


class ColumnScreen:
    """Drops mostly-missing and near-constant columns, median-fills, adds a missing count
    and, with ``flag_gap``, missing flags of the columns whose gaps differ by class."""

    def __init__(
        self,
        max_missing: float = 0.5,
        near_constant: float = 0.99,
        missing_count: bool = True,
        flag_gap: float | None = None,
    ) -> None:
        self.max_missing = max_missing
        self.near_constant = near_constant
        self.missing_count = missing_count
        self.flag_gap = flag_gap

    def fit(self, X: Matrix, y: npt.NDArray[np.intp] | None = None) -> Self:
        """Learn from the training rows ``X``; ``y`` (class codes) is needed for the flags."""
        missing = np.isnan(X).mean(axis=0)
        commonest = np.array([_commonest_share(column) for column in X.T])
        self.missing_ = missing
        self.kept_ = np.flatnonzero(
            (missing <= self.max_missing) & (commonest < self.near_constant)
        )
        # Kept columns hold at least two distinct values, so no median is of an empty column.
        self.medians_ = np.nanmedian(X[:, self.kept_], axis=0)
        self.flagged_ = np.zeros(0, dtype=np.intp)
        if self.flag_gap is not None:
            if y is None:
                raise ValueError("missing flags are chosen with the training labels: pass y")
            self.flagged_ = _telling_gaps(np.isnan(X), y, self.flag_gap)
        return self

    def transform(self, X: Matrix) -> Matrix:
        kept = X[:, self.kept_]
        out = np.where(np.isnan(kept), self.medians_, kept)
        if self.missing_count:
            out = np.column_stack([out, np.isnan(X).sum(axis=1)])
        out = np.column_stack([out, np.isnan(X[:, self.flagged_])])
        return np.asarray(out, dtype=np.float64)

    def names(self, columns: list[str]) -> list[str]:
        """The output columns' names, given the input's."""
        kept = [columns[i] for i in self.kept_]
        count = ["missing_count"] if self.missing_count else []
        return [*kept, *count, *(f"{columns[i]}_missing" for i in self.flagged_)]


def _telling_gaps(
    gaps: npt.NDArray[np.bool_], y: npt.NDArray[np.intp], gap: float
) -> npt.NDArray[np.intp]:
    """Columns missing in 2-98 % of the rows whose missing share in a class differs from
    the other rows' by at least ``gap``."""
    share = gaps.mean(axis=0)
    widest = np.zeros(gaps.shape[1])
    for c in np.unique(y):
        inside = y == c
        widest = np.maximum(widest, np.abs(gaps[inside].mean(axis=0) - gaps[~inside].mean(axis=0)))
    return np.flatnonzero((share >= 0.02) & (share <= 0.98) & (widest >= gap))


def _commonest_share(column: npt.NDArray[np.float64]) -> float:
    present = column[~np.isnan(column)]
    if present.size == 0:
        return 1.0
    _, counts = np.unique(present, return_counts=True)
    return float(counts.max() / present.size)


def separation(X: Matrix, y: npt.NDArray[np.intp]) -> Matrix:
    """How well each column alone separates the classes: ``max |AUC - 0.5|`` over classes.

    The AUC of a column for class ``c`` is the rank statistic of its values in ``c`` against
    the rest (Mann-Whitney); 0 means no separation, 0.5 a perfect one.
    """
    ranks = np.apply_along_axis(rankdata, 0, X)
    best = np.zeros(X.shape[1])
    classes = np.unique(y)
    for c in classes[1:] if len(classes) == 2 else classes:
        inside = y == c
        n1, n0 = int(inside.sum()), int((~inside).sum())
        auc = (ranks[inside].sum(axis=0) - n1 * (n1 + 1) / 2) / (n1 * n0)
        best = np.maximum(best, np.abs(auc - 0.5))
    return np.asarray(best, dtype=np.float64)


class UnivariateSelector:
    """Keeps the ``k`` columns of largest :func:`separation` (all when ``k`` is None)."""

    def __init__(self, k: int | None = None) -> None:
        self.k = k

    def fit(self, X: Matrix, y: npt.NDArray[np.intp]) -> Self:
        self.scores_ = separation(X, y)
        order = np.argsort(-self.scores_, kind="stable")
        chosen = order if self.k is None else order[: self.k]
        self.chosen_ = np.sort(chosen)
        return self

    def transform(self, X: Matrix) -> Matrix:
        return X[:, self.chosen_]
