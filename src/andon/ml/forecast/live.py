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

From two weeks of known hours on, the chosen profile races LightGBM on lags and the
calendar (:mod:`~andon.ml.forecast.shift_gbm`), which learns from the hours before the
last week and forecasts the shifts starting in that week. Both are judged on those
holdout origins only (like for like; a tie keeps the profile). A winning LightGBM is refit
on every hour for the forecast, and its holdout errors size the interval; a losing one
leaves the profile's forecast, interval and figures as they were.

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
from andon.ml.forecast.shift_gbm import GBM_MIN_HOURS, shift_gbm

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
    "gbm": "gradient boosting (LightGBM) on lags and the calendar",
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


Errors = dict[int, float]  # origin (hours known) -> shift-total error


def _profiles(
    x: Floats, origins: npt.NDArray[np.intp], method: str, gap: int, hours: int, count: int = 0
) -> Floats:
    """:func:`_profile` from every origin at once, one row each (the backtest's)."""
    if method == "level":
        index = origins[:, None] - hours + np.arange(hours)
        return np.repeat(_finite_mean(x, index), hours, axis=1)
    season = 24 if method == "day" else 168
    count = count or (7 if method == "day" else 4)
    ahead = gap + np.arange(hours)  # target - origin
    back = season * np.maximum(1, -(-(ahead + 1) // season))
    index = (ahead - back)[:, None] - season * np.arange(count)
    return _finite_mean(x, origins[:, None, None] + index[None])[..., 0]


def _finite_mean(x: Floats, index: npt.NDArray[np.intp]) -> Floats:
    """Mean of the known ``x[index]`` along the last axis (kept), NaN where none is."""
    values = np.where(index >= 0, x[np.maximum(index, 0)], np.nan)
    known = np.isfinite(values)
    total = np.where(known, values, 0.0).sum(axis=-1, keepdims=True)
    seen = known.sum(axis=-1, keepdims=True)
    return np.where(seen > 0, total / np.maximum(seen, 1), np.nan)


def _backtest(x: Floats, gap: int, hours: int) -> tuple[dict[str, Errors], Errors]:
    """Each profile method's shift-total errors on past windows, and yesterday's."""
    n = len(x)
    methods = ["level"] + [m for m, need in (("day", 24), ("week", 168)) if n >= need + hours]
    origins = np.arange(hours, max(hours, n - gap - hours + 1), dtype=np.intp)
    truth = x[origins[:, None] + gap + np.arange(hours)]
    known = np.isfinite(truth).all(axis=1)
    origins, totals = origins[known], truth[known].sum(axis=1)

    def errors(method: str, count: int = 0) -> Errors:
        guess = _profiles(x, origins, method, gap, hours, count)
        ok = np.isfinite(guess).all(axis=1)
        missed = (guess[ok].sum(axis=1) - totals[ok]).tolist()
        return dict(zip(origins[ok].tolist(), missed, strict=True))

    return {m: errors(m) for m in methods}, errors("day", count=1)


def _mae(errors: Errors) -> float:
    return float(np.mean(np.abs(list(errors.values()))))


def _holdout_race(profile: Errors, gbm: Errors, naive: Errors) -> tuple[Errors, Errors] | None:
    """LightGBM's errors and yesterday's on the origins it shares with the profile, if it wins.

    Like for like: both are judged on the holdout origins both forecast; a tie goes to the
    profile. None when LightGBM loses or too few origins are shared.
    """
    common = sorted(set(profile) & set(gbm))
    if len(common) < _MIN_BACKTESTS:
        return None
    won = {o: gbm[o] for o in common}
    if _mae(won) >= _mae({o: profile[o] for o in common}):
        return None
    return won, {o: naive[o] for o in common if o in naive}


def _forecast(
    x: Floats,
    gap: int,
    hours: int,
    level: float,
    cap: float | None,
    what: tuple[str, str],
    start_ms: int,
    *,
    line: str = "",
    gbm: bool = True,
) -> Quantity:
    """The shift forecast of the hourly history ``x``; the shift starts ``gap`` h after it.

    ``gbm`` lets LightGBM race the profiles when the history is long enough; ``line``
    names the history in the cache of its fits.
    """
    errors, naive = _backtest(x, gap, hours)
    usable = {m: e for m, e in errors.items() if len(e) >= _MIN_BACKTESTS}
    method = min(usable, key=lambda m: _mae(usable[m])) if usable else "level"
    past = errors.get(method, {})
    hourly = _profile(x, len(x), method, gap, hours)
    if gbm and method in usable and np.isfinite(x).sum() >= GBM_MIN_HOURS:
        learned = shift_gbm(x, gap, hours, start_ms, (line, what[0]))
        won = _holdout_race(past, learned.holdout, naive)
        if won is not None:
            method, (past, naive) = "gbm", won
            hourly = learned.forecast()
    fallback = float(np.nanmean(x[-hours:])) if np.isfinite(x[-hours:]).any() else 0.0
    hourly = np.where(np.isfinite(hourly), hourly, fallback)
    point = float(hourly.sum())
    missed = np.abs(np.asarray(list(past.values()), dtype=float))
    if len(missed) >= _MIN_BACKTESTS:
        rank = min(1.0, np.ceil((len(missed) + 1) * level) / len(missed))
        radius = float(np.quantile(missed, rank))
        lower, upper = point - radius, point + radius
        interval = f"split conformal on {len(missed)} past windows"
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
        backtest_windows=len(missed),
        backtest_mae=round(float(np.mean(missed)), 3) if len(missed) else None,
        naive_mae=round(float(np.mean(np.abs(list(naive.values())))), 3) if naive else None,
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
    gbm: bool = True,
) -> ShiftForecast:
    """Forecast the next shift of ``line`` from the ``lookback_days`` before ``now_ms``.

    ``is_downtime`` says which state codes are downtime (the MES policy's verdict);
    ``window`` is the next shift (label, start, end) from the plant calendar, by default
    the ``hours`` from the next full hour. ``gbm=False`` leaves LightGBM out of the race
    (profiles only).

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

    def quantity(x: Floats, cap: float | None, what: tuple[str, str]) -> Quantity:
        return _forecast(x, gap, shift_hours, level, cap, what, start_ms, line=line, gbm=gbm)

    return ShiftForecast(
        line=line,
        machines=machines,
        shift=label,
        start_ms=start_ms,
        end_ms=start_ms + shift_hours * HOUR_MS,
        now_ms=now_ms,
        level=level,
        energy=None if energy is None else quantity(energy[first:], None, ("energy", "kWh")),
        downtime=quantity(downtime, cap, ("downtime", "machine-min")),
    )
