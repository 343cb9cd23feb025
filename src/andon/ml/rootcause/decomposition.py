"""How much of a KPI's variance each factor explains in a linear regression (Shapley R²).

The R² of a (weighted) least-squares fit on all factors is shared among them by the Shapley
value: a factor's share is its mean gain in R² when it joins the model, over every order in
which factors can enter (the LMG or "dominance" decomposition). Shares add up to the full
R², and correlated factors split what they explain together instead of one taking it all.
A categorical factor enters as one group of indicator columns. With up to
:data:`EXACT_UP_TO` factors every subset is fitted; beyond that, random orders (each with
its reverse) are sampled.

>>> rng = np.random.default_rng(0)
>>> x = pd.DataFrame({"a": rng.normal(size=400), "b": rng.normal(size=400)})
>>> y = 2.0 * x["a"] + 1.0 * x["b"] + rng.normal(size=400)
>>> shares = shapley_r2(x, y.to_numpy())
>>> shares["a"] > 3 * shares["b"] > 0.3, round(sum(shares.values()), 2)
(True, 0.86)
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = ["EXACT_UP_TO", "design_blocks", "shapley_r2"]

EXACT_UP_TO = 10
_SAMPLED_ORDERS = 48
_R2 = Callable[[frozenset[str]], float]


def design_blocks(frame: pd.DataFrame) -> dict[str, npt.NDArray[np.float64]]:
    """Each factor's columns of the design matrix: numeric standardised (missing values at
    the median), categorical as indicators of all levels but the most frequent one."""
    blocks: dict[str, npt.NDArray[np.float64]] = {}
    for name in frame.columns:
        column = frame[name]
        if isinstance(column.dtype, pd.CategoricalDtype):
            levels = column.value_counts().index[1:]
            block = np.column_stack([(column == level).to_numpy(float) for level in levels])
        else:
            values = column.to_numpy(float)
            values = np.where(np.isnan(values), np.nanmedian(values), values)
            spread = values.std() or 1.0
            block = ((values - values.mean()) / spread)[:, None]
        if block.size:
            blocks[str(name)] = block
    return blocks


def _r2(
    blocks: list[npt.NDArray[np.float64]],
    y: npt.NDArray[np.float64],
    root_w: npt.NDArray[np.float64],
    total: float,
) -> float:
    if not blocks:
        return 0.0
    design = np.column_stack([np.ones(len(y)), *blocks]) * root_w[:, None]
    target = y * root_w
    coef, *_ = np.linalg.lstsq(design, target, rcond=None)
    residual = target - design @ coef
    return max(0.0, 1.0 - float(residual @ residual) / total)


def shapley_r2(
    frame: pd.DataFrame,
    y: npt.NDArray[np.float64],
    weight: npt.NDArray[np.float64] | None = None,
    seed: int = 0,
) -> dict[str, float]:
    """Each factor's Shapley share of the R² of a weighted linear fit of ``y`` on ``frame``.

    Categorical factors must have the ``category`` dtype; the others are taken as numbers.
    """
    blocks = design_blocks(frame)
    names = list(blocks)
    w = np.ones(len(y)) if weight is None else np.asarray(weight, float)
    w = w / w.mean()
    root_w = np.sqrt(w)
    centred = (y - np.average(y, weights=w)) * root_w
    total = float(centred @ centred) or 1.0
    cache: dict[frozenset[str], float] = {}

    def r2(members: frozenset[str]) -> float:
        if members not in cache:
            cache[members] = _r2([blocks[n] for n in sorted(members)], y, root_w, total)
        return cache[members]

    if len(names) <= EXACT_UP_TO:
        return _exact(names, r2)
    return _sampled(names, r2, np.random.default_rng(seed))


def _exact(names: list[str], r2: _R2) -> dict[str, float]:
    p = len(names)
    shares = dict.fromkeys(names, 0.0)
    for size in range(p):
        weight = math.factorial(size) * math.factorial(p - size - 1) / math.factorial(p)
        for subset in itertools.combinations(names, size):
            base = frozenset(subset)
            before = r2(base)
            for name in names:
                if name not in base:
                    shares[name] += weight * (r2(base | {name}) - before)
    return shares


def _sampled(names: list[str], r2: _R2, rng: np.random.Generator) -> dict[str, float]:
    """Shapley values over random entry orders, each paired with its reverse (antithetic:
    of two near-twins, each enters first equally often)."""
    shares = dict.fromkeys(names, 0.0)
    for _ in range(_SAMPLED_ORDERS // 2):
        order = rng.permutation(len(names))
        for sequence in (order, order[::-1]):
            members: frozenset[str] = frozenset()
            before = 0.0
            for index in sequence:
                members = members | {names[index]}
                after = r2(members)
                shares[names[index]] += (after - before) / _SAMPLED_ORDERS
                before = after
    return shares
