"""Predictive maintenance: failure risk from process signals, remaining useful life."""

from __future__ import annotations

from andon.ml.maintenance.conditions import ConditionNormalizer
from andon.ml.maintenance.failure import FailureClassifier, FeaturePlan, derived_from_target
from andon.ml.maintenance.rul import RulRegressor

__all__ = [
    "ConditionNormalizer",
    "FailureClassifier",
    "FeaturePlan",
    "RulRegressor",
    "derived_from_target",
]
