"""Manufacturing AI: predictive maintenance, streaming anomalies, a model registry, live scoring.

Call sites use the namespaces: ``ml.maintenance.FailureClassifier``, ``ml.anomaly``,
``ml.evaluate.nab``, ``ml.registry``; tasks for the CLI by name in ``ml.TASKS``; live
scoring on the ingest stream with ``ml.LiveScorer``.

>>> from andon import ml
>>> sorted(ml.TASKS)
['defects', 'failure', 'forecast', 'rootcause', 'rul', 'vision']
>>> ml.ScoringConfig().every_ms
5000
"""

from __future__ import annotations

from andon.ml import anomaly, evaluate, lives, maintenance, registry
from andon.ml.alerts import Alert, AlertBook, AlertPolicy
from andon.ml.catalog import TASKS, task_for
from andon.ml.contracts import BatchModel, Classifier, StreamingDetector, clone
from andon.ml.live import Attachment, LiveScorer, ScoringConfig
from andon.ml.tasks import Evaluation, Task, Trained, TrainOptions

__all__ = [
    "TASKS",
    "Alert",
    "AlertBook",
    "AlertPolicy",
    "Attachment",
    "BatchModel",
    "Classifier",
    "Evaluation",
    "LiveScorer",
    "ScoringConfig",
    "StreamingDetector",
    "Task",
    "TrainOptions",
    "Trained",
    "anomaly",
    "clone",
    "evaluate",
    "lives",
    "maintenance",
    "registry",
    "task_for",
]
