"""The plant's shift calendar: shifts with breaks in the plant's time zone, and holidays.

Shift and break times are local wall-clock times, so a shift that starts at 22:00 and lasts
8 hours ends at 06:00 local time the next morning, even across a DST change: that night is 7
or 9 hours long, a DST day has 23 or 25 one-hour windows. Each shift runs on the weekdays it
lists (of the day it starts), except on holidays. A night shift's 01:45 break belongs to the
shift that started the evening before.

For OEE the calendar is planned downtime laid over the machine timeline: breaks count as
``break`` (150000) and time outside every shift as ``no_shift`` (160000), whatever the
machine reported then. A calendar without shifts is a 24/7 plant and lays nothing.

>>> from datetime import date
>>> cal = Calendar.from_mapping({"timezone": "Europe/Berlin", "shifts": [
...     {"name": "night", "start": "22:00", "hours": 8,
...      "breaks": [{"start": "02:00", "minutes": 30}]}]})
>>> [(w.label, w.hours) for w in cal.shifts_between(*cal.day_bounds(date(2025, 10, 25)))]
[('2025-10-24/night', 8.0), ('2025-10-25/night', 9.0)]
>>> [w.hours for w in cal.windows("day", *cal.day_bounds(date(2025, 10, 26)))]
[25.0]
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from andon.errors import InvalidRequest
from andon.historian.protocol import Historian
from andon.mes import audit, store
from andon.mes.timeline import Interval

__all__ = [
    "BREAK",
    "NO_SHIFT",
    "Break",
    "By",
    "Calendar",
    "Shift",
    "Window",
    "load_calendar",
    "save_calendar",
]

BREAK, NO_SHIFT = 150000, 160000
By = Literal["shift", "hour", "day", "week"]
_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_HOUR_MS = 3_600_000


def _clock(text: str, what: str) -> time:
    match = _HHMM.match(str(text).strip())
    if not match:
        raise InvalidRequest(f"{what}: {text!r} is not a time HH:MM")
    return time(int(match[1]), int(match[2]))


def _ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)


@dataclass(frozen=True, slots=True)
class Break:
    """A planned break starting at local ``start`` for ``minutes``."""

    start: time
    minutes: float


@dataclass(frozen=True, slots=True)
class Shift:
    """A shift starting at local ``start`` for ``hours`` on ``weekdays`` (0 = Monday)."""

    name: str
    start: time
    hours: float
    breaks: tuple[Break, ...] = ()
    weekdays: frozenset[int] = frozenset(range(7))

    def __post_init__(self) -> None:
        if not self.name or "/" in self.name:
            raise InvalidRequest(f"shift name {self.name!r} must be non-empty without '/'")
        if not 0 < self.hours <= 24:
            raise InvalidRequest(f"shift {self.name}: hours must be within (0, 24]")
        if any(not 0 < b.minutes <= self.hours * 60 for b in self.breaks):
            raise InvalidRequest(f"shift {self.name}: a break must last within the shift")
        if not self.weekdays <= set(range(7)):
            raise InvalidRequest(f"shift {self.name}: weekdays are 0 (Monday) to 6")


@dataclass(frozen=True, slots=True)
class Window:
    """One window of a period: ``[start_ms, end_ms)`` named by ``label``."""

    label: str
    start_ms: int
    end_ms: int
    breaks: tuple[tuple[int, int], ...] = ()

    @property
    def hours(self) -> float:
        return (self.end_ms - self.start_ms) / _HOUR_MS


@dataclass(frozen=True, slots=True)
class Calendar:
    """Shifts and holidays of a plant in its time zone (an IANA name such as ``Europe/Berlin``)."""

    timezone: str = "UTC"
    shifts: tuple[Shift, ...] = ()
    holidays: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise InvalidRequest(f"unknown time zone {self.timezone!r}") from exc
        names = [s.name for s in self.shifts]
        if len(set(names)) != len(names):
            raise InvalidRequest(f"shift names must be unique, got {names}")
        self._check_overlaps()

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    # -- building ------------------------------------------------------------------------

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Calendar:
        """From ``{"timezone", "shifts": [{"name", "start", "hours", "breaks", "weekdays"}],
        "holidays": ["YYYY-MM-DD", ...]}`` (a scenario file's keys; others are ignored)."""
        try:
            shifts = tuple(_shift(item) for item in data.get("shifts") or ())
            holidays = frozenset(date.fromisoformat(str(d)) for d in data.get("holidays") or ())
        except (TypeError, ValueError, KeyError) as exc:
            raise InvalidRequest(f"invalid calendar: {exc}") from exc
        return cls(str(data.get("timezone") or "UTC"), shifts, holidays)

    def to_mapping(self) -> dict[str, Any]:
        return {
            "timezone": self.timezone,
            "shifts": [
                {
                    "name": s.name,
                    "start": s.start.strftime("%H:%M"),
                    "hours": s.hours,
                    "breaks": [
                        {"start": b.start.strftime("%H:%M"), "minutes": b.minutes} for b in s.breaks
                    ],
                    "weekdays": sorted(s.weekdays),
                }
                for s in self.shifts
            ],
            "holidays": sorted(d.isoformat() for d in self.holidays),
        }

    # -- shifts --------------------------------------------------------------------------

    def _local_date(self, ts_ms: int) -> date:
        return datetime.fromtimestamp(ts_ms / 1000, self.tz).date()

    def _occurrence(self, shift: Shift, day: date) -> Window | None:
        if day in self.holidays or day.weekday() not in shift.weekdays:
            return None
        start = datetime.combine(day, shift.start, self.tz)
        end = start + timedelta(hours=shift.hours)  # wall-clock arithmetic on aware datetimes
        breaks = []
        for brk in shift.breaks:
            at = datetime.combine(day, brk.start, self.tz)
            if at < start:
                at = datetime.combine(day + timedelta(days=1), brk.start, self.tz)
            until = min(at + timedelta(minutes=brk.minutes), end)
            if at < end:
                breaks.append((_ms(at), _ms(until)))
        return Window(f"{day.isoformat()}/{shift.name}", _ms(start), _ms(end), tuple(breaks))

    def _occurrences(self, start_ms: int, end_ms: int) -> Iterator[Window]:
        day = self._local_date(start_ms) - timedelta(days=2)
        last = self._local_date(end_ms)
        while day <= last:
            for shift in sorted(self.shifts, key=lambda s: s.start):
                found = self._occurrence(shift, day)
                if found is not None and found.end_ms > start_ms and found.start_ms < end_ms:
                    yield found
            day += timedelta(days=1)

    def shifts_between(self, start_ms: int, end_ms: int) -> list[Window]:
        """Every shift that overlaps ``[start_ms, end_ms)``, unclipped, in time order."""
        return sorted(self._occurrences(start_ms, end_ms), key=lambda w: w.start_ms)

    def _check_overlaps(self) -> None:
        if not self.shifts:
            return
        probe = _ms(datetime(2024, 1, 1, tzinfo=self.tz))
        found = self.shifts_between(probe, probe + 9 * 24 * _HOUR_MS)
        for before, after in pairwise(found):
            if after.start_ms < before.end_ms:
                raise InvalidRequest(f"shifts {before.label} and {after.label} overlap")

    # -- windows ---------------------------------------------------------------------------

    def day_bounds(self, day: date) -> tuple[int, int]:
        """``[local midnight, next local midnight)`` of ``day``: 23, 24 or 25 hours."""
        start = datetime.combine(day, time(0), self.tz)
        return _ms(start), _ms(datetime.combine(day + timedelta(days=1), time(0), self.tz))

    def _days(self, start_ms: int, end_ms: int, step: int) -> Iterator[Window]:
        day = self._local_date(start_ms)
        if step == 7:
            day -= timedelta(days=day.weekday())
        while True:
            lo = self.day_bounds(day)[0]
            hi = self.day_bounds(day + timedelta(days=step - 1))[1]
            if lo >= end_ms:
                return
            yield Window(day.isoformat(), lo, hi)
            day += timedelta(days=step)

    def _hours(self, start_ms: int, end_ms: int) -> Iterator[Window]:
        first = datetime.fromtimestamp(start_ms / 1000, self.tz).replace(minute=0, second=0)
        ts = _ms(first.replace(microsecond=0))
        while ts < end_ms:
            local = datetime.fromtimestamp(ts / 1000, self.tz)
            yield Window(local.isoformat(timespec="minutes"), ts, ts + _HOUR_MS)
            ts += _HOUR_MS

    def windows(self, by: By, start_ms: int, end_ms: int) -> list[Window]:
        """The windows of ``by`` that overlap ``[start_ms, end_ms)``, clipped to it.

        ``shift``: each shift (time outside shifts is in no window); ``hour``: local clock
        hours; ``day``: local days; ``week``: Monday-to-Sunday local weeks.
        """
        if by == "shift":
            found = self.shifts_between(start_ms, end_ms)
        elif by == "hour":
            found = list(self._hours(start_ms, end_ms))
        elif by in ("day", "week"):
            found = list(self._days(start_ms, end_ms, 7 if by == "week" else 1))
        else:
            raise InvalidRequest(f"unknown period {by!r}: use shift, hour, day or week")
        clipped = (
            Window(w.label, max(w.start_ms, start_ms), min(w.end_ms, end_ms), w.breaks)
            for w in found
        )
        return [w for w in clipped if w.end_ms > w.start_ms]

    def planned(self, start_ms: int, end_ms: int) -> list[Interval]:
        """Breaks and time outside every shift within ``[start_ms, end_ms)`` as intervals."""
        if not self.shifts:
            return []
        out: list[Interval] = []
        cursor = start_ms
        for shift in self.shifts_between(start_ms, end_ms):
            if shift.start_ms > cursor:
                out.append((cursor, shift.start_ms, NO_SHIFT, "no_shift"))
            out += [(a, b, BREAK, "break") for a, b in shift.breaks if b > a]
            cursor = max(cursor, shift.end_ms)
        if cursor < end_ms:
            out.append((cursor, end_ms, NO_SHIFT, "no_shift"))
        clipped = [(max(a, start_ms), min(b, end_ms), c, r) for a, b, c, r in out]
        return [interval for interval in clipped if interval[1] > interval[0]]


def _shift(item: Mapping[str, Any]) -> Shift:
    breaks = tuple(
        Break(_clock(b["start"], "break start"), float(b["minutes"]))
        for b in item.get("breaks") or ()
    )
    weekdays = frozenset(int(d) for d in item.get("weekdays", range(7)))
    return Shift(
        str(item["name"]),
        _clock(item["start"], "shift start"),
        float(item["hours"]),
        breaks,
        weekdays,
    )


def load_calendar(db: Historian) -> Calendar:
    """The plant's stored calendar; a 24/7 calendar in UTC when none was saved."""
    if not store.ready(db):
        return Calendar()
    rows = db.sql("SELECT value FROM mes_settings WHERE key = ?", ["calendar"])
    return Calendar.from_mapping(store.loads(rows[0][0])) if rows else Calendar()


def save_calendar(db: Historian, calendar: Calendar, actor: str) -> Calendar:
    """Store ``calendar`` as the plant's, with an audit entry of the change."""
    before = load_calendar(db).to_mapping()
    after = calendar.to_mapping()
    with store.transaction(db) as tx:
        tx.sql(
            "INSERT INTO mes_settings (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            ["calendar", store.dumps(after)],
        )
        audit.append(tx, actor, "update", "calendar", "plant", before, after)
    return calendar
