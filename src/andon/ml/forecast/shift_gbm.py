"""The gradient-boosted candidate of the next-shift forecast, and the cache of its fits.

:func:`~andon.ml.forecast.live.next_shift` races the best seasonal profile against LightGBM
on lags and the calendar (:class:`~andon.ml.forecast.models.GbmForecaster`, direct
multi-step with the horizon a feature) once a line has :data:`GBM_MIN_HOURS` known hours.
The model learns from the hours before the last week (:data:`HOLDOUT_HOURS`) and forecasts
every shift that starts in that week from the hours before it, as the profiles' backtest
does; those errors decide the race and, if it wins, size its interval. Only then is it
refit on the whole history for the forecast itself.

The API forecasts at every load of the orders page: fits are kept per line, quantity and
history (the same complete hours give the same models) in a small in-process LRU cache,
so the calls within one hour fit once.

>>> hourly = np.array([1.0, np.nan, np.nan, 4.0])
>>> _carried(hourly).tolist()
[1.0, 1.0, 1.0, 4.0]
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from andon.ml.forecast.models import Calendar, GbmForecaster

__all__ = ["GBM_MIN_HOURS", "HOLDOUT_HOURS", "HourlyGbm", "ShiftGbm", "cache", "shift_gbm"]

Floats = npt.NDArray[np.float64]
HOUR_MS = 3_600_000
GBM_MIN_HOURS = 14 * 24
"""Known hours before LightGBM enters the race: a week to learn from before the holdout
week, and lags a week back need a week of their own."""
HOLDOUT_HOURS = 7 * 24
"""The last week: every shift starting in it is forecast by a model that never saw it."""


def _carried(y: Floats) -> Floats:
    """``y`` with each unknown hour set to the last known one (causal; leading NaNs stay)."""
    position = np.where(np.isfinite(y), np.arange(len(y)), 0)
    filled = y[np.maximum.accumulate(position)] if len(y) else y
    return np.where(np.isfinite(y), y, filled)


@dataclass
class HourlyGbm(GbmForecaster):
    """:class:`GbmForecaster` for an hourly history with gaps, sized for a few weeks of it.

    An unknown hour (NaN) is never a target. Its features see the gap carried forward from
    the last known hour: the rolling means of :func:`lag_features` would otherwise be
    unknown from the first gap on. The series must start with a known hour.
    """

    day: int = 24
    n_estimators: int = 150
    learning_rate: float = 0.08
    num_leaves: int = 7
    min_child_samples: int = 10
    n_jobs: int = 1
    max_bin: int = 63

    def inputs(self, y: Floats) -> Floats:
        return _carried(y)

    def fit(self, y: Floats, calendar: Calendar, end: int) -> HourlyGbm:
        """Fit on the known targets at positions ``< end`` (and count the fit)."""
        super().fit(y, calendar, end)
        cache.fits += 1
        return self


@dataclass
class ShiftGbm:
    """What one history taught LightGBM about the next shift (``gap`` h after it).

    ``holdout`` maps each holdout origin (the hours known, as positions of the history
    given to :func:`shift_gbm`) to the shift-total error there; :meth:`forecast` refits
    on everything once, when the race is won.
    """

    history: Floats
    calendar: Calendar
    gap: int
    hours: int
    lead: int
    holdout: dict[int, float]
    final: HourlyGbm | None = field(default=None, repr=False)

    def forecast(self) -> Floats:
        """The shift hour by hour (negatives clipped), from the model refit on every hour."""
        if self.final is None:
            horizon = self.gap + self.hours
            self.final = HourlyGbm(horizon).fit(self.history, self.calendar, len(self.history))
        origin = np.array([len(self.history) - 1], dtype=np.intp)
        steps = self.final.forecast_many(self.history, origin, self.gap + self.hours, self.calendar)
        return np.maximum(steps[0, self.gap :], 0.0)


def _learn(x: Floats, gap: int, hours: int, start_ms: int) -> ShiftGbm:
    lead = int(np.flatnonzero(np.isfinite(x))[0])
    history = x[lead:]
    n = len(history)
    first_ms = start_ms - (gap + n) * HOUR_MS  # the start of history[0]
    calendar = (pd.Timestamp(first_ms, unit="ms"), pd.Timedelta(hours=1))
    cut = n - HOLDOUT_HOURS
    origins = np.array(
        [
            o
            for o in range(cut, n - gap - hours + 1)
            if np.isfinite(history[o + gap : o + gap + hours]).all()
        ],
        dtype=np.intp,
    )
    holdout: dict[int, float] = {}
    if len(origins) and cut - 1 - (gap + hours) >= HourlyGbm.day:  # a day of targets to learn
        model = HourlyGbm(gap + hours).fit(history, calendar, cut)
        steps = model.forecast_many(history, origins - 1, gap + hours, calendar)
        totals = np.maximum(steps[:, gap:], 0.0).sum(axis=1)
        for o, total in zip(origins.tolist(), totals.tolist(), strict=True):
            holdout[o + lead] = total - float(history[o + gap : o + gap + hours].sum())
    return ShiftGbm(history, calendar, gap, hours, lead, holdout)


class _Cache:
    """A small LRU of :class:`ShiftGbm` by (line, quantity, shift start, gap, hours, data)."""

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self.fits = 0  # LightGBM fits made, cached or not (for tests and benches)
        self._entries: OrderedDict[tuple[object, ...], ShiftGbm] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[object, ...]) -> ShiftGbm | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, key: tuple[object, ...], entry: ShiftGbm) -> None:
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


cache = _Cache()
"""The fits of this process (an in-process cache, not shared between workers)."""


def shift_gbm(x: Floats, gap: int, hours: int, start_ms: int, key: tuple[str, str]) -> ShiftGbm:
    """LightGBM's holdout errors on the history ``x`` (ends ``gap`` h before ``start_ms``).

    ``key`` (line, quantity) and the history itself find earlier fits in :data:`cache`.
    ``x`` needs a known hour.
    """
    digest = hashlib.blake2b(np.ascontiguousarray(x, dtype=np.float64).tobytes()).hexdigest()
    full_key = (*key, start_ms, gap, hours, digest)
    entry = cache.get(full_key)
    if entry is None:
        entry = _learn(x, gap, hours, start_ms)
        cache.put(full_key, entry)
    return entry
