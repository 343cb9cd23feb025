"""A forecast's input: one regularly spaced series, read from the user's table.

Timestamps are parsed (ISO, or day-first such as ``31-01-2018 00:15`` when that is the only
reading that makes a regular grid), the step is the most common spacing, and short gaps
are filled by linear interpolation (counted, so the card can say so).

Some meter exports label each day's closing midnight with the day that ends (``01-01-2018
00:00`` after ``01-01-2018 23:45``): the times go back 24 h once a day. When rows are
complete and in order, their times are rebuilt from the first one and the step, which
the time of day of every row confirms.

>>> frame = pd.DataFrame({"t": ["2024-01-01 00:00", "2024-01-01 00:15", "2024-01-01 00:45"],
...                       "kwh": [1.0, 2.0, 4.0]})
>>> series = regular_series(frame, "t", "kwh")
>>> series.values.tolist(), series.step, series.filled
([1.0, 2.0, 3.0, 4.0], Timedelta('0 days 00:15:00'), 1)
>>> series.steps_per_day
96
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from andon.ml.tables import TableError, require_columns

__all__ = ["RegularSeries", "parse_times", "regular_series"]

_DAY = pd.Timedelta(days=1)
_MAX_GAP_FILL = 0.05  # share of missing grid points interpolation may fill


@dataclass(frozen=True)
class RegularSeries:
    """Values on the grid ``start + i * step``; ``filled`` of them were interpolated."""

    values: npt.NDArray[np.float64]
    start: pd.Timestamp
    step: pd.Timedelta
    filled: int = 0

    @property
    def times(self) -> pd.DatetimeIndex:
        return pd.date_range(self.start, periods=len(self.values), freq=self.step)

    @property
    def steps_per_day(self) -> int:
        """Grid points per day (at least 1)."""
        return max(1, round(float(_DAY / self.step)))

    @property
    def end(self) -> pd.Timestamp:
        """The time of the last value."""
        return self.start + (len(self.values) - 1) * self.step

    def index_of(self, when: pd.Timestamp) -> int:
        """The position of the first grid point at or after ``when``."""
        return int(np.ceil((when - self.start) / self.step))


def _parse(text: pd.Series, dayfirst: bool) -> pd.DatetimeIndex | None:
    """The column read with the format pandas infers from its first value, or None."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "could not infer format": that reading loses
            return pd.DatetimeIndex(pd.to_datetime(text, dayfirst=dayfirst))
    except (ValueError, TypeError, OverflowError):
        return None


def _regularity(times: pd.DatetimeIndex) -> float:
    diffs = np.diff(times.asi8)
    if len(diffs) == 0:
        return 0.0
    values, counts = np.unique(diffs, return_counts=True)
    return float(counts.max() / len(diffs)) if values[counts.argmax()] > 0 else 0.0


def parse_times(column: pd.Series) -> pd.DatetimeIndex:
    """Timestamps of a column, month-first or day-first, whichever gives the more regular grid.

    >>> parse_times(pd.Series(["01-02-2018 00:00", "02-02-2018 00:00", "03-02-2018 00:00"]))[1]
    Timestamp('2018-02-02 00:00:00')
    """
    if pd.api.types.is_datetime64_any_dtype(column):
        return (
            pd.DatetimeIndex(column).tz_localize(None) if column.dt.tz else pd.DatetimeIndex(column)
        )
    if pd.api.types.is_numeric_dtype(column):
        raise TableError(f"--time {column.name!r}: expected timestamps, not numbers")
    text = column.astype(str)
    candidates = [t for t in (_parse(text, False), _parse(text, True)) if t is not None]
    if not candidates:
        raise TableError(f"--time {column.name!r}: cannot read {text.iloc[0]!r} as a timestamp")
    best = max(candidates, key=_regularity)
    return best.tz_convert(None) if best.tz is not None else best


def _step(times: pd.DatetimeIndex) -> pd.Timedelta:
    diffs = np.diff(times.asi8)
    positive = diffs[diffs > 0]
    if len(positive) == 0:
        raise TableError("--time: the timestamps do not advance")
    values, counts = np.unique(positive, return_counts=True)
    return pd.Timedelta(int(values[counts.argmax()]), unit="ns")


def _positional(times: pd.DatetimeIndex, step: pd.Timedelta) -> pd.DatetimeIndex | None:
    """Times rebuilt from the first row when every row's time of day agrees with it."""
    rebuilt = pd.date_range(times[0], periods=len(times), freq=step)
    offset = (rebuilt.asi8 - times.asi8) % _DAY.value
    return rebuilt if bool(np.all(offset == 0)) else None


def regular_series(frame: pd.DataFrame, time: str, target: str) -> RegularSeries:
    """``target`` over ``time`` on a regular grid (see the module docstring)."""
    require_columns(frame, [time, target], "--time/--target")
    times = parse_times(frame[time])
    values = pd.to_numeric(frame[target], errors="coerce").to_numpy(dtype=float)
    if len(values) < 3:
        raise TableError("a forecast needs at least 3 rows of history")
    step = _step(times)
    if not times.is_monotonic_increasing:
        rebuilt = _positional(times, step)
        if rebuilt is None:
            raise TableError(f"--time {time!r}: the timestamps are out of order")
        times = rebuilt
    series = pd.Series(values, index=times)
    series = series[~series.index.duplicated(keep="last")]
    grid = pd.date_range(series.index[0], series.index[-1], freq=step)
    on_grid = series.reindex(grid)
    missing = int(on_grid.isna().sum())
    if missing > max(2, _MAX_GAP_FILL * len(grid)):
        raise TableError(
            f"{missing} of {len(grid)} points of {target!r} on the {step} grid are missing "
            "(off-grid timestamps or long gaps): resample the data first"
        )
    filled = on_grid.interpolate(limit_direction="both").to_numpy(dtype=np.float64)
    return RegularSeries(filled, pd.Timestamp(grid[0]), step, missing)
