"""The table of tasks by name: ``andon ml train TASK`` looks the task up here.

A new task is a class following :class:`andon.ml.tasks.Task` and one line below.

>>> sorted(TASKS)
['defects', 'failure', 'forecast', 'rootcause', 'rul', 'vision']
>>> task_for("rul").name
'rul'
"""

from __future__ import annotations

from andon.errors import InvalidRequest
from andon.ml.defects.tasks import DefectTask
from andon.ml.forecast.task import ForecastTask
from andon.ml.maintenance.tasks import FailureTask, RulTask
from andon.ml.rootcause.tasks import RootCauseTask
from andon.ml.tasks import Task
from andon.ml.vision.tasks import VisionTask

__all__ = ["TASKS", "task_for"]

TASKS: dict[str, type[Task]] = {
    "defects": DefectTask,
    "failure": FailureTask,
    "forecast": ForecastTask,
    "rootcause": RootCauseTask,
    "rul": RulTask,
    "vision": VisionTask,
}


def task_for(name: str) -> Task:
    """An instance of the task called ``name``."""
    try:
        return TASKS[name]()
    except KeyError:
        known = ", ".join(sorted(TASKS))
        raise InvalidRequest(f"unknown task {name!r}; known tasks: {known}") from None
