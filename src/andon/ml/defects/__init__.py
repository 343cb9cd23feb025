"""Defect and scrap prediction from process parameters: rare defects, wide and gappy tables.

``DefectClassifier`` is the model (screen, selection, class-balanced learner, threshold
chosen on the training rows); ``DefectTask`` is ``andon ml train|predict|evaluate defects``.
"""

from __future__ import annotations

from andon.ml.defects.forest import BalancedForest
from andon.ml.defects.model import MODELS, DefectClassifier, best_threshold
from andon.ml.defects.screen import ColumnScreen, UnivariateSelector, separation
from andon.ml.defects.tasks import DefectTask

__all__ = [
    "MODELS",
    "BalancedForest",
    "ColumnScreen",
    "DefectClassifier",
    "DefectTask",
    "UnivariateSelector",
    "best_threshold",
    "separation",
]
