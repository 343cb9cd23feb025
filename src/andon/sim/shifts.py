"""The shift calendar: when the plant works, breaks, or has no shift.

Shift and break times are local wall-clock times in the scenario's time zone, so a shift
starting at 06:00 starts at 06:00 local time on DST days too (and then lasts 7 or 9 hours).
Breaks belong to the shift they fall in; a night shift's 02:00 break is on the next day.

>>> from datetime import time
>>> from zoneinfo import ZoneInfo
>>> from andon.sim.scenario import BreakSpec, ShiftSpec
>>> early = ShiftSpec("early", time(6), 8.0, (BreakSpec(time(9, 45), 30.0),))
>>> calendar = ShiftCalendar((early,), ZoneInfo("UTC"))
>>> at = lambda hh, mm: (hh * 60 + mm) * 60_000  # 1970-01-01 in UTC
>>> calendar.state_at(at(9, 50)), calendar.state_at(at(10, 15)), calendar.state_at(at(15, 0))
('break', None, 'no_shift')
>>> calendar.next_change(at(10, 0)) == at(10, 15)
True
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from andon.sim.scenario import ShiftSpec

__all__ = ["Period", "ShiftCalendar"]

_FOREVER = 1 << 62


@dataclass(frozen=True, slots=True)
class Period:
    """``[start_ms, end_ms)`` spent in one planned state (``None``: production time)."""

    start_ms: int
    end_ms: int
    state: str | None


class ShiftCalendar:
    """Answers "is the plant on a break, off shift or producing at this instant?"."""

    def __init__(self, shifts: tuple[ShiftSpec, ...], tz: ZoneInfo) -> None:
        self._shifts = shifts
        self._tz = tz
        self._cached = Period(0, 0, None)

    def state_at(self, ts_ms: int) -> str | None:
        """``"break"``, ``"no_shift"`` or ``None`` (planned production) at ``ts_ms``."""
        cached = self._cached
        if not cached.start_ms <= ts_ms < cached.end_ms:
            cached = self._cached = self._period_at(ts_ms)
        return cached.state

    def next_change(self, ts_ms: int) -> int:
        """The first instant after ``ts_ms`` at which the planned state changes."""
        self.state_at(ts_ms)
        return self._cached.end_ms

    def timeline(self, start_ms: int, end_ms: int) -> list[Period]:
        """Consecutive periods covering ``[start_ms, end_ms)``, clipped to it."""
        periods, ts = [], start_ms
        while ts < end_ms:
            period = self._period_at(ts)
            periods.append(Period(ts, min(period.end_ms, end_ms), period.state))
            ts = period.end_ms
        return periods

    def _period_at(self, ts_ms: int) -> Period:
        """The period around ``ts_ms``, extended over boundaries that do not change state."""
        period = self._raw_period_at(ts_ms)
        while period.end_ms < _FOREVER:
            following = self._raw_period_at(period.end_ms)
            if following.state != period.state:
                break
            period = Period(period.start_ms, following.end_ms, period.state)
        return period

    def _raw_period_at(self, ts_ms: int) -> Period:
        if not self._shifts:
            return Period(-_FOREVER, _FOREVER, None)
        shifts, breaks = self._intervals(ts_ms)
        state: str | None = "no_shift"
        if any(s <= ts_ms < e for s, e in shifts):
            state = "break" if any(s <= ts_ms < e for s, e in breaks) else None
        bounds = [b for s, e in shifts + breaks for b in (s, e)]
        start = max((b for b in bounds if b <= ts_ms), default=-_FOREVER)
        end = min((b for b in bounds if b > ts_ms), default=_FOREVER)
        return Period(start, end, state)

    def _intervals(self, ts_ms: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """Shift and break intervals of the shifts starting from two days before ``ts_ms``."""
        today = datetime.fromtimestamp(ts_ms / 1000, self._tz).date()
        shifts: list[tuple[int, int]] = []
        breaks: list[tuple[int, int]] = []
        for offset in (-2, -1, 0, 1):
            for shift in self._shifts:
                span, shift_breaks = self._shift_on(shift, today + timedelta(days=offset))
                shifts.append(span)
                breaks.extend(shift_breaks)
        return shifts, breaks

    def _shift_on(
        self, shift: ShiftSpec, day: date
    ) -> tuple[tuple[int, int], list[tuple[int, int]]]:
        start = datetime.combine(day, shift.start, self._tz)
        end = start + timedelta(hours=shift.hours)  # wall-clock arithmetic on aware datetimes
        breaks = []
        for brk in shift.breaks:
            brk_start = datetime.combine(day, brk.start, self._tz)
            if brk_start < start:
                brk_start = datetime.combine(day + timedelta(days=1), brk.start, self._tz)
            brk_end = brk_start + timedelta(minutes=brk.minutes)
            breaks.append((_ms(brk_start), min(_ms(brk_end), _ms(end))))
        return (_ms(start), _ms(end)), breaks


def _ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)
