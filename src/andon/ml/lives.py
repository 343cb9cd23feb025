"""Lives of a component from a plant's own history: run-to-failure tables for ``rul``.

A *life* is the stretch between two renewals of a component (a cutting tool, a bearing
after an overhaul), read from a counter tag that grows while the machine produces and
drops when the component is renewed (``tool_wear_min``, operating hours since overhaul).
Each life becomes a unit of a run-to-failure table: one row per ``bucket_ms`` of
production (each tag's mean, the counter's maximum); only lives that ended in a renewal
are complete. The same bucketing runs live in :class:`LifeTracker`, so a model trained
on :func:`life_table` sees in production exactly what it saw in training.

>>> rows = pd.DataFrame({"ts": range(0, 600_000, 60_000),
...                      "wear_min": [1, 2, 3, 4, 1, 2, 3, 1, 2, 3.0],
...                      "torque_nm": [40, 41, 42, 43, 40, 41, 42, 40, 41, 42.0]})
>>> table = lives(bucket_rows(rows, 60_000, "wear_min"), "wear_min", "m1")
>>> table.groupby("life")["wear_min"].max().to_dict()  # the last life is still running
{'m1#1': 4.0, 'm1#2': 3.0}
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
import pandas as pd

from andon.historian.protocol import Historian
from andon.signals import state_category

__all__ = ["LIFE", "LifeTracker", "bucket_rows", "life_table", "lives", "producing_rows"]

_logger = logging.getLogger(__name__)
LIFE = "life"
_PRODUCING = frozenset({10000, 20000})
_MAX_ROWS = 5000


def bucket_rows(rows: pd.DataFrame, bucket_ms: int, counter: str) -> pd.DataFrame:
    """Per bucket: each tag's mean and the counter's maximum; ``ts`` is the bucket's start."""
    if rows.empty:
        return rows.copy()
    bucket = rows["ts"].to_numpy() // bucket_ms * bucket_ms
    grouped = rows.drop(columns=["ts"]).groupby(bucket, sort=True)
    means = grouped.mean()
    means[counter] = grouped[counter].max()
    return means.rename_axis("ts").reset_index()


def lives(buckets: pd.DataFrame, counter: str, prefix: str) -> pd.DataFrame:
    """Number the lives (``prefix#1``, ...); keep complete lives and advancing rows only."""
    if buckets.empty:
        return buckets.assign(**{LIFE: pd.Series(dtype=str)})
    values = buckets[counter].to_numpy(dtype=float)
    renewed = np.r_[False, values[1:] < values[:-1]]
    number = np.cumsum(renewed) + 1
    advancing = np.r_[True, values[1:] != values[:-1]]
    table = buckets.assign(**{LIFE: [f"{prefix}#{n}" for n in number]})
    complete = number < number.max()  # the last life has not ended yet
    return table[complete & advancing].reset_index(drop=True)


def producing_rows(historian: Historian, asset: str, start_ms: int, end_ms: int) -> pd.DataFrame:
    """The asset's metrics as rows (``ts`` + one column per tag) while it was producing."""
    series = {}
    for tag in historian.tags(asset):
        if tag.asset == asset and not tag.name.startswith("ml_"):
            points = historian.series(tag.id, start_ms, end_ms)
            series[tag.name] = pd.Series(
                [v for _, v in points], index=pd.Index([t for t, _ in points], name="ts")
            )
    if not series:
        return pd.DataFrame({"ts": pd.Series(dtype="int64")})
    rows = pd.DataFrame(series).sort_index().reset_index()
    states = historian.state_timeline(asset, start_ms, end_ms)
    if states:
        starts = np.array([s.ts_ms for s in states])
        codes = np.array([state_category(s.code) for s in states])
        index = np.searchsorted(starts, rows["ts"].to_numpy(), side="right") - 1
        producing = (index >= 0) & np.isin(codes[np.maximum(index, 0)], list(_PRODUCING))
        rows = rows[producing]
    return rows.reset_index(drop=True)


def life_table(
    historian: Historian,
    assets: list[str],
    counter: str,
    start_ms: int,
    end_ms: int,
    bucket_ms: int = 60_000,
) -> pd.DataFrame:
    """Complete lives of ``assets`` in the window: ``asset``, ``life`` and the tags' values.

    Train on it with ``andon ml train rul --unit life --time <counter> --drop asset``.
    """
    frames = []
    for asset in assets:
        rows = producing_rows(historian, asset, start_ms, end_ms)
        if counter not in rows.columns:
            _logger.warning("%s has no %s tag: no lives", asset, counter)
            continue
        table = lives(bucket_rows(rows, bucket_ms, counter), counter, asset.rsplit("/", 1)[-1])
        frames.append(table.drop(columns=["ts"]).assign(asset=asset))
    if not frames:
        return pd.DataFrame(columns=["asset", LIFE, counter])
    table = pd.concat(frames, ignore_index=True)
    return table[["asset", LIFE, *[c for c in table.columns if c not in {"asset", LIFE}]]]


class LifeTracker:
    """The current life of one machine, built live with :func:`life_table`'s bucketing."""

    def __init__(self, counter: str, bucket_ms: int = 60_000) -> None:
        self.counter = counter
        self.bucket_ms = bucket_ms
        self.life = 1
        self._pending: list[dict[str, float]] = []
        self._bucket = -1
        self._history: list[dict[str, float]] = []

    def add(self, ts_ms: int, values: Mapping[str, float]) -> pd.DataFrame | None:
        """Add a producing record; returns the life so far when a bucket completes."""
        bucket = ts_ms // self.bucket_ms * self.bucket_ms
        done = None
        if bucket != self._bucket and self._pending:
            done = self._close()
        self._bucket = bucket
        self._pending.append({"ts": float(ts_ms), **values})
        return done

    def _close(self) -> pd.DataFrame | None:
        row = bucket_rows(pd.DataFrame(self._pending), self.bucket_ms, self.counter).iloc[0]
        self._pending = []
        value = float(row[self.counter])
        last = self._history[-1][self.counter] if self._history else None
        if last is not None and value < last:
            self.life += 1  # renewed: a new tool, a new life
            self._history = []
        elif last is not None and value == last:
            return None  # the counter did not advance: nothing new about this life
        self._history.append(row.drop("ts").to_dict())
        if len(self._history) > _MAX_ROWS:
            del self._history[10]  # keep the life's first rows (its baseline) and the latest
        return pd.DataFrame(self._history).assign(**{LIFE: f"life#{self.life}"})
