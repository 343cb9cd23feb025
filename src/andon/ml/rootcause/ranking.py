"""Ranking candidate factors of a KPI: held-out permutation importance, direction, R² shares.

A gradient-boosted model learns the KPI from every factor and from a *shuffled-noise
control* of each (the factor's values in a random row order: same distribution, no link to
the KPI). On each time-blocked held-out fold (:mod:`andon.ml.rootcause.folds`) each row's squared
error is measured with the factor's column permuted and as it is; a factor's importance is
the mean increase over all held-out rows, as a share of the KPI's variance (an R² drop). A
moving-block bootstrap over time gives its 95 % confidence interval; a factor whose interval
does not lie wholly above every noise control's interval is *not significant*. Partial
dependence of a model fitted on all rows gives the direction (which values raise the KPI),
and the Shapley R² of a linear fit (:mod:`andon.ml.rootcause.decomposition`) a second,
simpler view of each factor's share. Rows can carry weights (the parts behind a ratio).

>>> rng = np.random.default_rng(1)
>>> n = 480
>>> x = pd.DataFrame({"heat": rng.normal(size=n), "noise": rng.normal(size=n)})
>>> y = 2.0 * x["heat"] + 0.3 * rng.normal(size=n)
>>> options = RankOptions(folds=4, repeats=2, max_iter=60)
>>> ranking = rank_factors(x, y.to_numpy(), np.arange(n), options)
>>> [(f.name, f.direction, f.significant) for f in ranking.factors]
[('heat', 'increasing', True), ('noise', 'mixed', False)]
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats
from sklearn.ensemble import HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped,unused-ignore]

from andon.errors import InvalidRequest
from andon.ml.rootcause.decomposition import shapley_r2
from andon.ml.rootcause.folds import Fold, time_blocks

__all__ = [
    "Factor",
    "RankOptions",
    "Ranking",
    "as_factors",
    "fit_model",
    "labels",
    "rank_factors",
]

CONTROL_PREFIX = "shuffled:"
_GRID = 9
_MONOTONE = 0.8


@dataclass(frozen=True)
class RankOptions:
    """How factors are ranked: folds, permutation repeats, model size, threads, seed."""

    folds: int = 5
    repeats: int = 5
    gap: int = 1
    seed: int = 0
    threads: int = 1
    max_iter: int = 150
    learning_rate: float = 0.05
    max_leaf_nodes: int = 15
    min_samples_leaf: int = 20
    resamples: int = 1000


@dataclass(frozen=True)
class Factor:
    """One factor's place in the ranking.

    ``importance`` is the held-out R² drop when the factor is permuted (pooled over the
    folds; ``fold_importances`` per fold), within ``[ci_low, ci_high]`` (95 %, moving-block
    bootstrap over time); ``direction`` is ``increasing``,
    ``decreasing`` or ``mixed`` for numbers and ``categorical`` for categories; ``effect``
    is the KPI's partial-dependence change from low to high values (numbers) or from the
    lowest to the highest category; ``raises_at`` says which values raise the KPI.
    """

    name: str
    kind: str
    rank: int
    importance: float
    ci_low: float
    ci_high: float
    fold_importances: list[float]
    significant: bool
    direction: str
    effect: float
    raises_at: str
    r2_share: float
    dependence: list[tuple[str, float]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Ranking:
    """Factors best first, the noise level they had to clear (the highest upper bound of a
    noise control's interval), and the model's held-out fit."""

    factors: list[Factor]
    noise_level: float
    r2: float
    baseline_r2: float
    linear_r2: float
    rows: int
    folds: int

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "factors": [f.to_dict() for f in self.factors]}


def labels(column: pd.Series, levels: list[str] | None = None) -> pd.Series:
    """A column as text categories (``levels`` when given); missing values stay missing."""
    text = column.map(str, na_action="ignore")
    return text.astype(pd.CategoricalDtype(levels) if levels is not None else "category")


def as_factors(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with text, boolean and category columns as categories, the rest as floats;
    columns with a single value (nothing to explain with) are left out."""
    out = {}
    for name in frame.columns:
        column = frame[name]
        if column.nunique(dropna=True) < 2:
            continue
        numeric = pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
        out[str(name)] = column.astype(float) if numeric else labels(column)
    if not out:
        raise InvalidRequest("no factor varies in the data: nothing can explain the KPI")
    return pd.DataFrame(out, index=frame.index)


def fit_model(
    X: pd.DataFrame,
    y: npt.NDArray[np.float64],
    weight: npt.NDArray[np.float64] | None,
    options: RankOptions,
) -> HistGradientBoostingRegressor:
    """The gradient-boosted model of the KPI (categories native, missing values allowed)."""
    model = HistGradientBoostingRegressor(
        max_iter=options.max_iter,
        learning_rate=options.learning_rate,
        max_leaf_nodes=options.max_leaf_nodes,
        min_samples_leaf=min(options.min_samples_leaf, max(2, len(y) // 10)),
        l2_regularization=1.0,
        categorical_features="from_dtype",
        early_stopping=False,
        random_state=options.seed,
    )
    with threadpool_limits(options.threads):
        return model.fit(X, y, sample_weight=weight)


def _predict(model: HistGradientBoostingRegressor, X: pd.DataFrame, threads: int) -> Any:
    with threadpool_limits(threads):
        return model.predict(X)


def _with_controls(X: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    controls = {
        f"{CONTROL_PREFIX}{name}": X[name].to_numpy()[rng.permutation(len(X))] for name in X
    }
    shuffled = pd.DataFrame(controls, index=X.index)
    for name in X:
        shuffled[f"{CONTROL_PREFIX}{name}"] = shuffled[f"{CONTROL_PREFIX}{name}"].astype(
            X[name].dtype
        )
    return pd.concat([X, shuffled], axis=1)


def _mse(y: Any, p: Any, w: Any) -> float:
    return float(np.average((y - p) ** 2, weights=w))


def _fold_increments(
    X: pd.DataFrame,
    y: npt.NDArray[np.float64],
    w: npt.NDArray[np.float64],
    fold: Fold,
    options: RankOptions,
    rng: np.random.Generator,
) -> tuple[dict[str, npt.NDArray[np.float64]], npt.NDArray[np.float64]]:
    """Per held-out row, how much each column's permutation raises the squared error
    (mean over repeats); and the fold's predictions."""
    train, test = fold
    model = fit_model(X.iloc[train], y[train], w[train], options)
    held = X.iloc[test].copy()
    yt = y[test]
    base_pred = np.asarray(_predict(model, held, options.threads), dtype=np.float64)
    base = (yt - base_pred) ** 2
    increments = {}
    for name in X.columns:
        original = held[name]
        total = np.zeros(len(test))
        for _ in range(options.repeats):
            held[name] = original.to_numpy()[rng.permutation(len(held))]
            held[name] = held[name].astype(original.dtype)
            total += (yt - _predict(model, held, options.threads)) ** 2
        held[name] = original
        increments[str(name)] = total / options.repeats - base
    return increments, base_pred


def _block_bootstrap(
    increments: npt.NDArray[np.float64],
    w: npt.NDArray[np.float64],
    codes: npt.NDArray[np.intp],
    rng: np.random.Generator,
    resamples: int,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """95 % intervals of weighted mean increments (rows x columns) by a circular moving-block
    bootstrap over time stamps: blocks of about n^(1/3) consecutive stamps keep the
    autocorrelation of a plant history inside each resample."""
    stamps = int(codes.max()) + 1
    sums = np.zeros((stamps, increments.shape[1]))
    np.add.at(sums, codes, increments * w[:, None])
    weights = np.bincount(codes, weights=w, minlength=stamps)
    length = max(1, round(stamps ** (1 / 3)))
    blocks = -(-stamps // length)
    starts = rng.integers(0, stamps, size=(resamples, blocks))
    picked = ((starts[:, :, None] + np.arange(length)) % stamps).reshape(resamples, -1)
    means = sums[picked].sum(axis=1) / weights[picked].sum(axis=1)[:, None]
    low, high = np.percentile(means, [2.5, 97.5], axis=0)
    return np.asarray(low), np.asarray(high)


def _dependence(
    model: HistGradientBoostingRegressor,
    X: pd.DataFrame,
    name: str,
    w: npt.NDArray[np.float64],
    threads: int,
) -> list[tuple[str, float]]:
    """Partial dependence: the mean prediction with the factor set to each value in turn."""
    column = X[name]
    if isinstance(column.dtype, pd.CategoricalDtype):
        values: list[Any] = [v for v in column.cat.categories if (column == v).any()]
    else:
        values = sorted(set(np.nanquantile(column.to_numpy(float), np.linspace(0.05, 0.95, _GRID))))
    curve = []
    probe = X.copy()
    for value in values:
        probe[name] = pd.Series(value, index=X.index).astype(column.dtype)
        mean = float(np.average(_predict(model, probe, threads), weights=w))
        label = str(value) if isinstance(value, str) else f"{float(value):.6g}"
        curve.append((label, mean))
    return curve


def _shape(curve: list[tuple[str, float]], categorical: bool) -> tuple[str, float, str]:
    """(direction, effect, raises_at) from a partial-dependence curve."""
    heights = np.array([h for _, h in curve])
    if categorical:
        top, low = int(heights.argmax()), int(heights.argmin())
        return "categorical", float(heights[top] - heights[low]), curve[top][0]
    if len(heights) < 2 or np.ptp(heights) == 0:
        return "mixed", 0.0, ""
    rho = float(stats.spearmanr(np.arange(len(heights)), heights).statistic)
    effect = float(heights[-1] - heights[0])
    if rho >= _MONOTONE:
        return "increasing", effect, f">= {curve[len(curve) // 2][0]}"
    if rho <= -_MONOTONE:
        return "decreasing", effect, f"<= {curve[len(curve) // 2][0]}"
    return "mixed", effect, f"near {curve[int(heights.argmax())][0]}"


def rank_factors(
    factors: pd.DataFrame,
    y: npt.NDArray[np.float64],
    times: npt.NDArray[Any],
    options: RankOptions | None = None,
    weight: npt.NDArray[np.float64] | None = None,
) -> Ranking:
    """Rank the columns of ``factors`` by how much of ``y`` they explain on held-out time.

    ``times`` orders the rows (any sortable stamps; rows sharing one are held out together);
    ``weight`` counts how much each row weighs (e.g. parts produced behind a scrap ratio).
    """
    options = options or RankOptions()
    X = as_factors(factors.reset_index(drop=True))
    y = np.asarray(y, dtype=np.float64)
    w = np.ones(len(y)) if weight is None else np.asarray(weight, dtype=np.float64)
    if len(y) != len(X) or not np.isfinite(y).all() or (w < 0).any() or w.sum() <= 0:
        raise InvalidRequest("the KPI needs one finite value and a non-negative weight per row")
    rng = np.random.default_rng(options.seed)
    full = _with_controls(X, rng)
    times = np.asarray(times)
    folds = time_blocks(times, options.folds, options.gap)
    columns = [str(c) for c in full.columns]
    increments = np.zeros((len(y), len(columns)))
    predicted = np.full(len(y), np.nan)
    per_fold: dict[str, list[float]] = {name: [] for name in columns}
    spread = _mse(y, np.average(y, weights=w), w) or 1.0
    for fold in folds:
        rows, predicted[fold[1]] = _fold_increments(full, y, w, fold, options, rng)
        for j, name in enumerate(columns):
            increments[fold[1], j] = rows[name] / spread
            per_fold[name].append(float(np.average(rows[name], weights=w[fold[1]]) / spread))
    held = np.flatnonzero(~np.isnan(predicted))
    _, codes = np.unique(times[held], return_inverse=True)
    mean = np.average(increments[held], axis=0, weights=w[held])
    low, high = _block_bootstrap(increments[held], w[held], codes, rng, options.resamples)
    importance = {
        name: (float(mean[j]), float(low[j]), float(high[j])) for j, name in enumerate(columns)
    }
    # The noise level is the highest upper bound a control reaches: a factor is significant
    # only when its whole interval lies above what chance alone produced.
    noise = max([0.0, *(v[2] for k, v in importance.items() if k.startswith(CONTROL_PREFIX))])
    final = fit_model(X, y, w, options)
    shares = shapley_r2(X, y, w, options.seed)
    found = _Found(importance, per_fold, shares, noise)
    return Ranking(
        factors=_factors(X, found, final, w, options.threads),
        noise_level=round(noise, 5),
        r2=round(_r2(y[held], predicted[held], w[held]), 4),
        baseline_r2=round(_baseline_r2(y, w, folds), 4),
        linear_r2=round(sum(shares.values()), 4),
        rows=len(y),
        folds=len(folds),
    )


@dataclass(frozen=True)
class _Found:
    importance: dict[str, tuple[float, float, float]]
    per_fold: dict[str, list[float]]
    shares: dict[str, float]
    noise: float


def _factors(
    X: pd.DataFrame,
    found: _Found,
    model: HistGradientBoostingRegressor,
    w: npt.NDArray[np.float64],
    threads: int,
) -> list[Factor]:
    rows = []
    for name in X.columns:
        mean, low, high = found.importance[name]
        categorical = isinstance(X[name].dtype, pd.CategoricalDtype)
        curve = _dependence(model, X, name, w, threads)
        direction, effect, raises = _shape(curve, categorical)
        rows.append(
            Factor(
                name=name,
                kind="categorical" if categorical else "numeric",
                rank=0,
                importance=round(mean, 5),
                ci_low=round(low, 5),
                ci_high=round(high, 5),
                fold_importances=[round(v, 5) for v in found.per_fold[name]],
                significant=bool(low > found.noise),
                direction=direction,
                effect=round(effect, 6),
                raises_at=raises,
                r2_share=round(found.shares.get(name, 0.0), 5),
                dependence=[(label, round(h, 6)) for label, h in curve],
            )
        )
    rows.sort(key=lambda f: (-f.significant, -f.importance))
    return [replace(f, rank=i + 1) for i, f in enumerate(rows)]


def _r2(y: Any, p: Any, w: Any) -> float:
    spread = _mse(y, np.average(y, weights=w), w) or 1.0
    return 1.0 - _mse(y, p, w) / spread


def _baseline_r2(
    y: npt.NDArray[np.float64], w: npt.NDArray[np.float64], folds: list[Fold]
) -> float:
    """Held-out R² of predicting each fold by the training mean (the no-factor baseline)."""
    predicted = np.full(len(y), np.nan)
    for train, test in folds:
        predicted[test] = np.average(y[train], weights=w[train])
    held = ~np.isnan(predicted)
    return _r2(y[held], predicted[held], w[held])
