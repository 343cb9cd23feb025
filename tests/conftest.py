"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    """``../shared/datasets`` beside the clone.

    A user's clone may not have it: those tests skip, saying why. Under CI (``CI`` set, as
    ``.ci/run`` does) a missing folder is a failure, never a silent skip.
    """
    if not SHARED_DATASETS.is_dir():
        message = f"real datasets not found at {SHARED_DATASETS} (clone beside ../shared)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return SHARED_DATASETS
