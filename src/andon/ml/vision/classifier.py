"""The surface-defect classifier: texture features, then a standardised logistic regression.

Nothing is downloaded and nothing is pretrained: every image becomes the texture vector of
:class:`~andon.ml.vision.features.TextureFeatures`, and a multinomial logistic regression
on the standardised vectors gives class probabilities. A :class:`NoveltyScorer` fitted on
the same vectors scores how unlike the training images each new image is (``anomaly``).

The model follows the batch-model contract: ``X`` is a frame with a ``file`` column (as
:func:`~andon.ml.vision.images.read_folder` returns). Features can also be computed
once with :meth:`DefectClassifier.extract` and reused (``fit_features``,
``predict_proba_features``), as cross-validation does.

>>> import tempfile
>>> from pathlib import Path
>>> from PIL import Image
>>> rng = np.random.default_rng(0)
>>> folder = Path(tempfile.mkdtemp())
>>> files, labels = [], []
>>> for label, blur in (("smooth", 4), ("rough", 1)):
...     for i in range(6):
...         noise = rng.normal(0, 40, (48 // blur, 48 // blur)).repeat(blur, 0).repeat(blur, 1)
...         files.append(str(folder / f"{label}{i}.png"))
...         Image.fromarray(np.uint8(np.clip(128 + noise, 0, 255))).save(files[-1])
...         labels.append(label)
>>> frame = pd.DataFrame({"file": files})
>>> model = DefectClassifier().fit(frame, labels)
>>> (model.predict(frame) == np.array(labels)).mean()
np.float64(1.0)
>>> model.predict_proba(frame).shape, model.classes_.tolist()
((12, 2), ['rough', 'smooth'])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self

import numpy as np
import numpy.typing as npt
import pandas as pd
from rich.console import Console
from rich.progress import track
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from andon.ml.tables import require_columns
from andon.ml.vision.features import Matrix, TextureFeatures
from andon.ml.vision.images import load_grey
from andon.ml.vision.novelty import NoveltyScorer
from andon.ml.vision.threads import single_thread

__all__ = ["DefectClassifier", "feature_groups"]

_PROGRESS_FROM = 200  # images; fewer are done before a bar would be worth drawing


class DefectClassifier:
    """Texture features -> standardised multinomial logistic regression, plus novelty.

    ``C``: inverse regularisation strength of the logistic regression; ``radii``,
    ``levels``, ``distances``: see :class:`TextureFeatures`; ``neighbours``: of the
    novelty scorer.
    """

    def __init__(
        self,
        C: float = 1.0,
        radii: Sequence[int] = (1, 2, 3),
        levels: int = 16,
        distances: Sequence[int] = (1, 2, 4, 8),
        neighbours: int = 10,
        max_iter: int = 3000,
    ) -> None:
        self.C = C
        self.radii = tuple(radii)
        self.levels = levels
        self.distances = tuple(distances)
        self.neighbours = neighbours
        self.max_iter = max_iter

    def get_params(self) -> dict[str, Any]:
        return {
            "C": self.C,
            "radii": self.radii,
            "levels": self.levels,
            "distances": self.distances,
            "neighbours": self.neighbours,
            "max_iter": self.max_iter,
        }

    @property
    def features(self) -> TextureFeatures:
        return TextureFeatures(radii=self.radii, levels=self.levels, distances=self.distances)

    def extract(self, X: pd.DataFrame, progress: bool | None = None) -> Matrix:
        """The feature matrix of the images in ``X["file"]``, one image at a time.

        One image at a time keeps the working set in the CPU cache (faster than batches
        here). ``progress``: draw a bar; by default for 200 images or more.
        """
        require_columns(X, ["file"], "the image list")
        files = [str(f) for f in X["file"]]
        features = self.features
        show = len(files) >= _PROGRESS_FROM if progress is None else progress
        rows = track(
            files,
            description="image features",
            disable=not show,
            transient=True,
            console=Console(stderr=True),
        )
        matrix = np.empty((len(files), len(features.names())))
        for i, file in enumerate(rows):
            matrix[i] = features.transform(load_grey(file)[None])[0]
        return matrix

    def fit(self, X: pd.DataFrame, y: npt.ArrayLike) -> Self:
        return self.fit_features(self.extract(X), y)

    def fit_features(self, features: Matrix, y: npt.ArrayLike) -> Self:
        """Fit on an already extracted feature matrix.

        On one thread (see :mod:`andon.ml.vision.threads`).
        """
        with single_thread():
            self.pipeline_: Pipeline = make_pipeline(
                StandardScaler(), LogisticRegression(C=self.C, max_iter=self.max_iter)
            ).fit(features, np.asarray(y))
        self.classes_: npt.NDArray[Any] = self.pipeline_.classes_
        self.novelty_ = NoveltyScorer(neighbours=self.neighbours).fit(features)
        self.feature_names_ = self.features.names()
        return self

    def predict_proba_features(self, features: Matrix) -> Matrix:
        with single_thread():
            proba = self.pipeline_.predict_proba(features)
        return np.asarray(proba, dtype=np.float64)

    def predict_features(self, features: Matrix) -> npt.NDArray[Any]:
        proba = self.predict_proba_features(features)
        return np.asarray(self.classes_[np.argmax(proba, axis=1)])

    def predict_proba(self, X: pd.DataFrame) -> Matrix:
        return self.predict_proba_features(self.extract(X))

    def predict(self, X: pd.DataFrame) -> npt.NDArray[Any]:
        return self.predict_features(self.extract(X))

    def anomaly_features(self, features: Matrix) -> Matrix:
        """Novelty scores in [0, 1] (see :class:`NoveltyScorer`) of extracted features."""
        return self.novelty_.score(features)

    def inspect(self, image: npt.NDArray[Any]) -> tuple[Any, float, float]:
        """Class, its probability and the anomaly score of one grey image array.

        The path a line camera takes: no file, one frame in, one verdict out.
        """
        row = self.features.transform(np.asarray(image, dtype=np.float32)[None])
        proba = self.predict_proba_features(row)[0]
        best = int(np.argmax(proba))
        return self.classes_[best], float(proba[best]), float(self.anomaly_features(row)[0])

    def feature_importances(self) -> dict[str, float]:
        """Share of the model's weight per feature group, largest first."""
        weights = np.abs(self.pipeline_[-1].coef_).sum(axis=0)
        return feature_groups(self.feature_names_, weights)


def feature_groups(names: Sequence[str], weights: npt.ArrayLike) -> dict[str, float]:
    """``weights`` summed per feature group (the name before its ``.``), as shares.

    >>> feature_groups(["glcm.a", "glcm.b", "intensity.mean"], [1.0, 1.0, 2.0])
    {'glcm': 0.5, 'intensity': 0.5}
    """
    totals: dict[str, float] = {}
    for name, weight in zip(names, np.asarray(weights, dtype=float), strict=True):
        group = name.split(".", 1)[0]
        totals[group] = totals.get(group, 0.0) + float(weight)
    whole = sum(totals.values()) or 1.0
    ranked = sorted(totals.items(), key=lambda item: -item[1])
    return {group: round(total / whole, 4) for group, total in ranked}
