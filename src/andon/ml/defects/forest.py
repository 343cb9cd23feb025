"""A balanced random forest: every tree learns from a bootstrap with the rare classes equal.

With 104 failed wafers among 1,567 an ordinary bootstrap gives each tree a handful of
failures; here each tree draws every class with replacement, at most ``ratio`` times as
many rows as the rarest class has, so the rare class weighs as much as the others (random
under-sampling of the common classes, done anew for each tree, inside the training rows).
The rows a tree did not draw are its out-of-bag rows: their averaged votes are honest
validation scores for choosing a decision threshold without touching held-out data.

>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(400, 3))
>>> y = (X[:, 0] > 1.3).astype(np.intp)
>>> forest = BalancedForest(n_estimators=50).fit(X, y)
>>> float(forest.oob_scores_[y == 1].mean()) > float(forest.oob_scores_[y == 0].mean())
True
>>> forest.predict_proba(X).shape
(400, 2)
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np
import numpy.typing as npt
from sklearn.tree import DecisionTreeClassifier

__all__ = ["BalancedForest"]


class BalancedForest:
    """Trees on class-balanced bootstraps; ``oob_scores_`` are out-of-bag class-1 scores."""

    def __init__(
        self,
        n_estimators: int = 300,
        ratio: float = 2.0,
        max_features: float | str = "sqrt",
        min_samples_leaf: int = 1,
        random_state: int = 0,
    ) -> None:
        self.n_estimators = n_estimators
        self.ratio = ratio
        self.max_features = max_features
        self.min_samples_leaf = min_samples_leaf
        self.random_state = random_state

    def fit(self, X: npt.NDArray[np.float64], y: npt.NDArray[np.intp]) -> Self:
        """Learn from ``X`` and class codes ``y`` (0, 1, ...; every class present)."""
        rng = np.random.default_rng(self.random_state)
        self.n_classes_ = int(y.max()) + 1
        members = [np.flatnonzero(y == c) for c in range(self.n_classes_)]
        size = round(self.ratio * min(len(m) for m in members))
        rows = np.ascontiguousarray(X, dtype=np.float32)
        votes = np.zeros((len(y), self.n_classes_))
        counts = np.zeros(len(y))
        self.trees_: list[DecisionTreeClassifier] = []
        for _ in range(self.n_estimators):
            drawn = np.concatenate([rng.choice(m, min(len(m), size)) for m in members])
            tree = DecisionTreeClassifier(
                max_features=self.max_features,
                min_samples_leaf=self.min_samples_leaf,
                random_state=int(rng.integers(2**31 - 1)),
            ).fit(rows[drawn], y[drawn])
            out = np.ones(len(y), dtype=bool)
            out[drawn] = False
            votes[out] += tree.predict_proba(rows[out], check_input=False)
            counts[out] += 1
            self.trees_.append(tree)
        # A row drawn by every tree has no out-of-bag vote: it scores as the prior, 1 / k.
        seen = np.maximum(counts, 1)[:, None]
        self.oob_proba_ = np.where(counts[:, None] > 0, votes / seen, 1.0 / self.n_classes_)
        self.oob_scores_ = self.oob_proba_[:, -1]
        return self

    def predict_proba(self, X: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        rows = np.ascontiguousarray(X, dtype=np.float32)
        total = np.zeros((len(rows), self.n_classes_))
        for tree in self.trees_:
            total += tree.predict_proba(rows, check_input=False)
        return np.asarray(total / len(self.trees_), dtype=np.float64)

    def feature_importances(self) -> npt.NDArray[np.float64]:
        """Mean decrease in impurity, averaged over the trees."""
        importances: Any = np.mean([t.feature_importances_ for t in self.trees_], axis=0)
        return np.asarray(importances, dtype=np.float64)
