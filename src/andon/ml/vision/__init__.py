"""Visual inspection on the CPU: surface-defect classes and whole-image anomaly scores.

Nothing pretrained, nothing downloaded: images become rotation-invariant texture vectors
(:class:`TextureFeatures`), a standardised logistic regression names the defect
(:class:`DefectClassifier`), and a nearest-neighbour scorer says how unlike the training
images a new image is (:class:`NoveltyScorer`). ``andon ml train vision --data DIR`` runs
:class:`VisionTask` on a folder with one sub-folder per class.
"""

from __future__ import annotations

from andon.ml.vision.classifier import DefectClassifier, feature_groups
from andon.ml.vision.features import TextureFeatures
from andon.ml.vision.images import load_grey, read_folder, require_labels
from andon.ml.vision.novelty import NoveltyScorer
from andon.ml.vision.tasks import ANOMALY_CUT, VisionTask

__all__ = [
    "ANOMALY_CUT",
    "DefectClassifier",
    "NoveltyScorer",
    "TextureFeatures",
    "VisionTask",
    "feature_groups",
    "load_grey",
    "read_folder",
    "require_labels",
]
