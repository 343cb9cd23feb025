"""Anomaly scores of whole images: how unlike the training images a new image is.

No defect map and no labels are needed. The scorer keeps the training images' feature
vectors (standardised, reduced by PCA to 95 % of their variance) and rates a new image by
its local outlier factor (LOF, Breunig et al. 2000): its distance to its ``neighbours``
nearest training images, divided by how close those images are to their own neighbours.
Dividing by the local density matters: a tight cluster of a defect never trained on
(crazing among steel textures) sits close to the training set in absolute terms but far
from it relative to how densely the training images pack there.

The factor is turned into a score in ``[0, 1]`` by comparing it with the factors of the
training images themselves (each judged against the others): a score of 0.5 is a typical
image, 0.99 means more unusual than 99 % of the training images, and 1.0 more unusual than
all of them. A new defect type, a dirty lens, another product or a lighting change scores
high; a cut at 0.99 flags about 1 % of ordinary images.

>>> rng = np.random.default_rng(0)
>>> scorer = NoveltyScorer(neighbours=10).fit(rng.normal(size=(200, 5)))
>>> ordinary, strange = scorer.score(np.zeros((1, 5)))[0], scorer.score(np.full((1, 5), 6.0))[0]
>>> bool(ordinary < 0.5), float(strange)
(True, 1.0)
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np
import numpy.typing as npt
from sklearn.decomposition import PCA
from sklearn.neighbors import LocalOutlierFactor
from sklearn.preprocessing import StandardScaler

from andon.ml.vision.threads import single_thread

__all__ = ["NoveltyScorer"]

Matrix = npt.NDArray[np.float64]


class NoveltyScorer:
    """Local outlier factor in standardised, PCA-reduced feature space, as a rank in [0, 1].

    ``components``: PCA components kept, as a count or as the share of variance (below 1).
    """

    def __init__(self, neighbours: int = 10, components: float = 0.95) -> None:
        self.neighbours = neighbours
        self.components = components

    def get_params(self) -> dict[str, Any]:
        return {"neighbours": self.neighbours, "components": self.components}

    def fit(self, features: npt.ArrayLike) -> Self:
        """Learn the training images' features (one row each) and their own factors."""
        matrix = np.asarray(features, dtype=np.float64)
        self.scaler_ = StandardScaler().fit(matrix)
        components = self.components if self.components < 1 else int(self.components)
        self.pca_ = PCA(n_components=components, svd_solver="full")
        with single_thread():
            reduced = self.pca_.fit_transform(self.scaler_.transform(matrix))
            neighbours = min(self.neighbours, len(reduced) - 1)
            self.lof_ = LocalOutlierFactor(n_neighbors=neighbours, novelty=True).fit(reduced)
        self.reference_ = np.sort(-self.lof_.negative_outlier_factor_)
        return self

    def factor(self, features: npt.ArrayLike) -> Matrix:
        """The local outlier factor of each row (about 1 for typical images)."""
        matrix = self.scaler_.transform(np.asarray(features, dtype=np.float64))
        with single_thread():
            factor = -self.lof_.score_samples(self.pca_.transform(matrix))
        return np.asarray(factor, dtype=np.float64)

    def score(self, features: npt.ArrayLike) -> Matrix:
        """Share of training images more typical than each row, in [0, 1]."""
        rank = np.searchsorted(self.reference_, self.factor(features), side="right")
        return np.asarray(rank / len(self.reference_), dtype=np.float64)
