"""Manufacturing AI: predictive maintenance, streaming anomalies, a model registry.

Call sites use the namespaces: ``ml.maintenance.FailureClassifier``, ``ml.anomaly``,
``ml.evaluate.nab``, ``ml.registry``; tasks for the CLI are in ``ml.TASKS``.
"""

from __future__ import annotations

from andon.ml import anomaly, evaluate, maintenance, registry
from andon.ml.contracts import BatchModel, Classifier, StreamingDetector, clone

__all__ = [
    "BatchModel",
    "Classifier",
    "StreamingDetector",
    "anomaly",
    "clone",
    "evaluate",
    "maintenance",
    "registry",
]
