"""Time-blocked folds: each held-out part is one contiguous stretch of time.

Rows of a plant history are not independent: the hour after a humid hour is humid too, so
shuffled rows would let a model recall its neighbours instead of learning a cause. The
folds here cut the time axis into ``k`` contiguous blocks; rows sharing a time stamp (the
machines of one hour) stay together, and the ``gap`` time stamps next to each held-out
block are left out of training so autocorrelation does not leak across the border.

>>> folds = time_blocks(np.array([0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5]), k=3, gap=0)
>>> [test.tolist() for _, test in folds]
[[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
>>> time_blocks(np.arange(9), k=3, gap=1)[1][0].tolist()  # the middle block's training rows
[0, 1, 7, 8]
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import numpy.typing as npt

from andon.errors import InvalidRequest

__all__ = ["Fold", "time_blocks"]

Fold = tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]


def time_blocks(times: npt.NDArray[Any], k: int, gap: int = 1) -> list[Fold]:
    """(train, test) row positions of ``k`` contiguous time blocks, ``gap`` stamps purged."""
    stamps, codes = np.unique(times, return_inverse=True)
    if k < 2:
        raise InvalidRequest(f"time-blocked validation needs at least 2 folds, got {k}")
    if len(stamps) < k * (2 + gap):
        raise InvalidRequest(f"{len(stamps)} distinct times are too few for {k} time-blocked folds")
    edges = np.linspace(0, len(stamps), k + 1).round().astype(int)
    folds = []
    for lo, hi in itertools.pairwise(edges):
        test = np.flatnonzero((codes >= lo) & (codes < hi))
        train = np.flatnonzero((codes < lo - gap) | (codes >= hi + gap))
        folds.append((train.astype(np.intp), test.astype(np.intp)))
    return folds
