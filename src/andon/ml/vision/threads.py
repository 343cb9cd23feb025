"""One BLAS/OpenMP thread for inspection's small matrices.

A feature matrix of a few thousand images, or one image at a line camera, is too small
for threads to pay: on a busy two-core box, threads waiting for each other made a
logistic-regression fit four times slower and one image's anomaly score a hundred times
slower (215 ms against 1.6 ms). The controller is built once, on first use, because
scanning the loaded libraries costs about 7 ms.

>>> with single_thread():
...     pass
"""

from __future__ import annotations

import functools
from contextlib import AbstractContextManager
from typing import Any

from threadpoolctl import ThreadpoolController  # type: ignore[import-untyped]  # no stubs

__all__ = ["single_thread"]


@functools.cache
def _controller() -> Any:
    return ThreadpoolController()


def single_thread() -> AbstractContextManager[Any]:
    """A context in which numpy's BLAS and scikit-learn's OpenMP use one thread."""
    limiter: AbstractContextManager[Any] = _controller().limit(limits=1)
    return limiter
