"""Next-shift forecasts of a line's energy and downtime minutes, from the historian.

A line is an asset path prefix (``acme/plant1/forming/line2``); its machines are the assets
under it. Their history becomes two hourly series: energy in kWh (the mean of each
machine's ``kW`` tags times the bucket's hours, or the rise of its ``kWh`` counter when it
has no power tag) and downtime machine-minutes (state time the MES policy counts as
downtime, summed over the machines). Each is forecast for every hour of the next shift of
the plant calendar the caller passes (the next 8 h from the next full hour without one).
Which states are downtime is the MES policy's call, passed in as a function: ``andon.ml``
stands beside ``andon.mes`` and does not import it.

The forecast is a seasonal profile, chosen per request from what the history supports: the
mean of the same hour of the week over the last weeks, of the same hour of the day over
the last days, or the recent level. The method with the smallest error on past shifts of
the same length (rolling origins, each using only the hours before it) wins; those errors
also give the interval of the shift total (split conformal at ``level``). With too short a
history for such a backtest, the interval is the range of the past shift-length totals.

>>> day = np.r_[np.ones(12), np.full(12, 3.0)]
>>> _profile(np.tile(day, 7), 3 * 24, "day", 10, 4).tolist()
[1.0, 1.0, 3.0, 3.0]
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from andon.historian.protocol import Historian

__all__ = ["Quantity", "ShiftForecast", "line_machines", "next_shift"]

_logger = logging.getLogger(__name__)
Floats = npt.NDArray[np.float64]
HOUR_MS = 3_600_000
_MIN_BACKTESTS = 8
_LOOKBACK_DAYS = 28


@dataclass(frozen=True, slots=True)
class HourForecast:
    """One hour of the shift: its start and the forecast with its interval."""

    ts_ms: int
    forecast: float
    lower: float
    upper: float


@dataclass(frozen=True, slots=True)
class Quantity:
    """The forecast of one quantity over the whole shift, and per hour."""

    name: str
    unit: str
    forecast: float
    lower: float
    upper: float
    method: str
    interval: str
    history_hours: int
    backtest_windows: int
    backtest_mae: float | None
    naive_mae: float | None
    hours: list[HourForecast]


@dataclass(frozen=True, slots=True)
class ShiftForecast:
    """What the next shift of a line will draw (kWh) and lose (downtime machine-minutes)."""

    line: str
    machines: list[str]
    shift: str
    start_ms: int
    end_ms: int
    now_ms: int
    level: float
    energy: Quantity | None
    downtime: Quantity

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def line_machines(db: Historian, line: str) -> list[str]:
    """The assets under ``line`` (or ``line`` itself) that have states or tags."""
    prefix = line.rstrip("/") + "/"
    known = {a.path for a in db.assets()} | {t.asset for t in db.tags()}
    return sorted(a for a in known if a == line.rstrip("/") or a.startswith(prefix))


def _next_window(now_ms: int, hours: int) -> tuple[str, int, int]:
    start = -(-now_ms // HOUR_MS) * HOUR_MS
    return f"next {hours} h", start, start + hours * HOUR_MS


def _energy(db: Historian, machines: list[str], edges: npt.NDArray[np.int64]) -> Floats | None:
    """kWh per hourly bucket ``[edges[i], edges[i+1])`` of the machines; None without tags."""
    total = np.zeros(len(edges) - 1)
    seen = np.zeros(len(edges) - 1, dtype=bool)
    found = False
    for machine in machines:
        tags = db.tags(machine)
        power = [t for t in tags if t.unit == "kW"]
        counters = [t for t in tags if t.unit == "kWh"]
        for tag in power or counters[:1]:
            found = True
            buckets = db.aggregate(tag.id, int(edges[0]), int(edges[-1]), HOUR_MS)
            for bucket in buckets:
                i = (bucket.ts_ms - int(edges[0])) // HOUR_MS
                if not 0 <= i < len(total):
                    continue
                value = bucket.avg if tag.unit == "kW" else bucket.max - bucket.min
                total[i] += max(value, 0.0)
                seen[i] = True
    if not found:
        return None
    return np.where(seen, total, np.nan)


def _downtime(
    db: Historian,
    machines: list[str],
    edges: npt.NDArray[np.int64],
    is_downtime: Callable[[int], bool],
) -> Floats:
    """Downtime machine-minutes per hourly bucket (NaN where no machine had a state yet)."""
    total = np.zeros(len(edges) - 1)
    covered = np.zeros(len(edges) - 1)
    for machine in machines:
        states = db.state_timeline(machine, int(edges[0]), int(edges[-1]))
        if not states:
            continue
        codes = np.array([s.code for s in states])
        verdict = {code: is_downtime(code) for code in np.unique(codes).tolist()}
        stop = np.array([verdict[c] for c in codes.tolist()], dtype=bool)
        starts = np.clip(np.array([s.ts_ms for s in states], dtype=np.int64), edges[0], edges[-1])
        ends = np.append(starts[1:], edges[-1])
        total += _overlap(starts[stop], ends[stop], edges) / 60_000
        covered += _overlap(starts[:1], ends[-1:], edges)
    return np.where(covered > 0, total, np.nan)


def _overlap(
    starts: npt.NDArray[np.int64], ends: npt.NDArray[np.int64], edges: npt.NDArray[np.int64]
) -> Floats:
    """Milliseconds of the intervals ``[starts, ends)`` inside each bucket of ``edges``."""
    lo = np.maximum(starts[:, None], edges[None, :-1])
    hi = np.minimum(ends[:, None], edges[None, 1:])
    return np.asarray(np.maximum(hi - lo, 0).sum(axis=0), dtype=np.float64)


_METHODS = {
    "level": "recent level",
    "day": "same hour, last 7 days",
    "week": "same hour of the week, last 4 weeks",
}


def _profile(x: Floats, origin: int, method: str, gap: int, hours: int, count: int = 0) -> Floats:
    """Hourly forecasts of ``x[origin + gap : origin + gap + hours]`` from ``x[:origin]``.

    ``level`` repeats the mean of the last ``hours`` known hours; ``day`` and ``week``
    average the same hour one to ``count`` seasons back (7 days, 4 weeks by default),
    stepping back whole seasons until the hour is known.
    """
    known = x[:origin]
    if method == "level":
        recent = known[-hours:]
        recent = recent[np.isfinite(recent)]
        return np.full(hours, float(recent.mean()) if len(recent) else np.nan)
    season = 24 if method == "day" else 168
    count = count or (7 if method == "day" else 4)
    out = np.full(hours, np.nan)
    for j in range(hours):
        t = origin + gap + j
        back = season * max(1, -(-(t - origin + 1) // season))
        picked = [t - back - season * k for k in range(count)]
        values = np.array([known[i] for i in picked if 0 <= i < origin])
        values = values[np.isfinite(values)]
        if len(values):
            out[j] = values.mean()
    return out


def _clip(value: float, cap: float | None) -> float:
    return round(float(np.clip(value, 0.0, np.inf if cap is None else cap)), 3)


def _forecast(
    x: Floats,
    gap: int,
    hours: int,
    level: float,
    cap: float | None,
    what: tuple[str, str],
    start_ms: int,
) -> Quantity:
    """The shift forecast of the hourly history ``x``; the shift starts ``gap`` h after it."""
    n = len(x)
    methods = ["level"] + [m for m, need in (("day", 24), ("week", 168)) if n >= need + hours]
    errors: dict[str, list[float]] = {m: [] for m in methods}
    naive: list[float] = []
    for origin in range(hours, n - gap - hours + 1):
        truth = x[origin + gap : origin + gap + hours]
        if not np.isfinite(truth).all():
            continue
        for method in methods:
            guess = _profile(x, origin, method, gap, hours)
            if np.isfinite(guess).all():
                errors[method].append(float(guess.sum() - truth.sum()))
        yesterday = _profile(x, origin, "day", gap, hours, count=1)
        if np.isfinite(yesterday).all():
            naive.append(float(yesterday.sum() - truth.sum()))
    usable = {m: e for m, e in errors.items() if len(e) >= _MIN_BACKTESTS}
    method = min(usable, key=lambda m: float(np.mean(np.abs(usable[m])))) if usable else "level"
    hourly = _profile(x, n, method, gap, hours)
    fallback = float(np.nanmean(x[-hours:])) if np.isfinite(x[-hours:]).any() else 0.0
    hourly = np.where(np.isfinite(hourly), hourly, fallback)
    point = float(hourly.sum())
    past = np.abs(np.asarray(errors[method], dtype=float))
    if len(past) >= _MIN_BACKTESTS:
        rank = min(1.0, np.ceil((len(past) + 1) * level) / len(past))
        radius = float(np.quantile(past, rank))
        lower, upper = point - radius, point + radius
        interval = f"split conformal on {len(past)} past windows"
    else:
        totals = _rolling_totals(x, hours)
        tail = (1 - level) / 2
        lower, upper = (
            (float(np.quantile(totals, tail)), float(np.quantile(totals, 1 - tail)))
            if len(totals)
            else (0.0, 2 * point)
        )
        lower, upper = min(lower, point), max(upper, point)
        interval = f"range of the {len(totals)} past {hours} h totals"
    share = hourly / point if point > 0 else np.full(hours, 1.0 / hours)
    hour_cap = None if cap is None else cap / hours
    return Quantity(
        name=what[0],
        unit=what[1],
        forecast=_clip(point, cap),
        lower=_clip(lower, cap),
        upper=_clip(upper, cap),
        method=_METHODS[method],
        interval=interval,
        history_hours=int(np.isfinite(x).sum()),
        backtest_windows=len(past),
        backtest_mae=round(float(np.mean(past)), 3) if len(past) else None,
        naive_mae=round(float(np.mean(np.abs(naive))), 3) if naive else None,
        hours=[
            HourForecast(
                start_ms + i * HOUR_MS,
                _clip(hourly[i], hour_cap),
                _clip(lower * share[i], hour_cap),
                _clip(upper * share[i], hour_cap),
            )
            for i in range(hours)
        ],
    )


def _rolling_totals(x: Floats, hours: int) -> Floats:
    finite = np.isfinite(x)
    sums = np.convolve(np.where(finite, x, 0.0), np.ones(hours), mode="valid")
    full = np.convolve(finite.astype(float), np.ones(hours), mode="valid") == hours
    return np.asarray(sums[full], dtype=np.float64)


def next_shift(
    db: Historian,
    line: str,
    now_ms: int,
    *,
    is_downtime: Callable[[int], bool],
    window: tuple[str, int, int] | None = None,
    hours: int = 8,
    lookback_days: int = _LOOKBACK_DAYS,
    level: float = 0.8,
) -> ShiftForecast:
    """Forecast the next shift of ``line`` from the ``lookback_days`` before ``now_ms``.

    ``is_downtime`` says which state codes are downtime (the MES policy's verdict);
    ``window`` is the next shift (label, start, end) from the plant calendar, by default
    the ``hours`` from the next full hour.

    Raises ``LookupError`` when no asset is under ``line`` and ``ValueError`` when it has
    less than an hour of history.
    """
    machines = line_machines(db, line)
    if not machines:
        raise LookupError(f"no asset under {line!r}")
    label, start_ms, end_ms = window or _next_window(now_ms, hours)
    shift_hours = max(1, round((end_ms - start_ms) / HOUR_MS))
    last = now_ms // HOUR_MS * HOUR_MS  # the hours before it are complete
    edges = np.arange(last - lookback_days * 24 * HOUR_MS, last + 1, HOUR_MS, dtype=np.int64)
    gap = max(0, round((start_ms - last) / HOUR_MS))  # hours between history and shift
    downtime = _downtime(db, machines, edges, is_downtime)
    energy = _energy(db, machines, edges)
    seen = np.isfinite(downtime) | (np.isfinite(energy) if energy is not None else False)
    if not seen.any():
        raise ValueError(f"no complete hour of history under {line!r} before {now_ms}")
    first = int(np.flatnonzero(seen)[0])
    downtime = downtime[first:]
    cap = float(len(machines) * 60 * shift_hours)
    return ShiftForecast(
        line=line,
        machines=machines,
        shift=label,
        start_ms=start_ms,
        end_ms=start_ms + shift_hours * HOUR_MS,
        now_ms=now_ms,
        level=level,
        energy=None
        if energy is None
        else _forecast(energy[first:], gap, shift_hours, level, None, ("energy", "kWh"), start_ms),
        downtime=_forecast(
            downtime, gap, shift_hours, level, cap, ("downtime", "machine-min"), start_ms
        ),
    )
