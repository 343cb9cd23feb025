"""Shift calendar: midnight, DST days of 23/25 h, holidays, weekdays, breaks, overlays."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from andon.errors import InvalidRequest
from andon.mes import Calendar, compute_oee
from andon.mes.calendar import BREAK, NO_SHIFT
from andon.mes.timeline import Timeline
from andon.signals import StateChange

BERLIN = ZoneInfo("Europe/Berlin")
HOUR = 3_600_000
THREE_SHIFTS = {
    "timezone": "Europe/Berlin",
    "shifts": [
        {
            "name": "early",
            "start": "06:00",
            "hours": 8,
            "breaks": [{"start": "09:45", "minutes": 30}],
        },
        {
            "name": "late",
            "start": "14:00",
            "hours": 8,
            "breaks": [{"start": "17:45", "minutes": 30}],
        },
        {
            "name": "night",
            "start": "22:00",
            "hours": 8,
            "breaks": [{"start": "01:45", "minutes": 30}],
        },
    ],
}


def local(*args: int) -> int:
    return round(datetime(*args, tzinfo=BERLIN).timestamp() * 1000)  # type: ignore[misc]


def test_a_night_shift_crosses_midnight_with_its_break_on_the_next_day() -> None:
    cal = Calendar.from_mapping(THREE_SHIFTS)
    night = next(
        w
        for w in cal.shifts_between(local(2025, 3, 10), local(2025, 3, 11))
        if w.label == "2025-03-10/night"
    )
    assert (night.start_ms, night.end_ms) == (local(2025, 3, 10, 22), local(2025, 3, 11, 6))
    assert night.breaks == ((local(2025, 3, 11, 1, 45), local(2025, 3, 11, 2, 15)),)


@pytest.mark.parametrize(
    ("day", "night_hours", "day_hours"),
    [
        (date(2025, 3, 29), 7.0, 24.0),
        (date(2025, 3, 30), 8.0, 23.0),
        (date(2025, 10, 25), 9.0, 24.0),
        (date(2025, 10, 26), 8.0, 25.0),
    ],
)
def test_dst_nights_and_days_have_their_real_length(
    day: date, night_hours: float, day_hours: float
) -> None:
    cal = Calendar.from_mapping(THREE_SHIFTS)
    lo, hi = cal.day_bounds(day)
    assert (hi - lo) / HOUR == day_hours
    assert len(cal.windows("hour", lo, hi)) == day_hours
    night = next(w for w in cal.shifts_between(lo, hi) if w.label == f"{day.isoformat()}/night")
    assert night.hours == night_hours


def test_shift_windows_cover_every_hour_of_a_dst_day_exactly_once() -> None:
    cal = Calendar.from_mapping(THREE_SHIFTS)
    lo, hi = cal.day_bounds(date(2025, 10, 26))
    windows = cal.windows("shift", lo, hi)
    assert [w.label for w in windows] == [
        "2025-10-25/night",
        "2025-10-26/early",
        "2025-10-26/late",
        "2025-10-26/night",
    ]
    assert windows[0].start_ms == lo
    assert windows[-1].end_ms == hi
    assert sum(w.end_ms - w.start_ms for w in windows) == hi - lo == 25 * HOUR


def test_holidays_and_weekdays_take_shifts_off() -> None:
    cal = Calendar.from_mapping(
        {
            "timezone": "UTC",
            "shifts": [{"name": "day", "start": "08:00", "hours": 8, "weekdays": [0, 1, 2, 3, 4]}],
            "holidays": ["2025-12-25"],
        }
    )
    week = cal.windows("shift", *(_utc(2025, 12, 22), _utc(2025, 12, 29)))
    assert [w.label for w in week] == [
        "2025-12-22/day",
        "2025-12-23/day",
        "2025-12-24/day",
        "2025-12-26/day",
    ]


def _utc(*args: int) -> int:
    return round(datetime(*args, tzinfo=UTC).timestamp() * 1000)  # type: ignore[misc]


def test_planned_intervals_are_breaks_and_time_outside_shifts() -> None:
    cal = Calendar.from_mapping(
        {
            "timezone": "UTC",
            "shifts": [
                {
                    "name": "day",
                    "start": "08:00",
                    "hours": 8,
                    "breaks": [{"start": "12:00", "minutes": 30}],
                }
            ],
        }
    )
    day = _utc(2025, 1, 6)
    assert cal.planned(day, day + 24 * HOUR) == [
        (day, day + 8 * HOUR, NO_SHIFT, "no_shift"),
        (day + 12 * HOUR, day + 12 * HOUR + 1_800_000, BREAK, "break"),
        (day + 16 * HOUR, day + 24 * HOUR, NO_SHIFT, "no_shift"),
    ]
    assert Calendar().planned(day, day + HOUR) == []  # 24/7


def test_the_calendar_lays_planned_time_over_whatever_the_machine_did() -> None:
    cal = Calendar.from_mapping(
        {
            "timezone": "UTC",
            "shifts": [
                {
                    "name": "day",
                    "start": "08:00",
                    "hours": 8,
                    "breaks": [{"start": "12:00", "minutes": 30}],
                }
            ],
        }
    )
    day = _utc(2025, 1, 6)
    machine = Timeline.of([StateChange("m", day, 10000)])  # ran all day, breaks included
    laid = machine.overlay(cal.planned(day, day + 24 * HOUR))
    r = compute_oee("m", laid, [], day, day + 24 * HOUR, ideal_cycle_time_s=None)
    assert (r.planned_downtime_s, r.apt_s, r.pbt_s) == (16.5 * 3600, 7.5 * 3600, 7.5 * 3600)
    assert r.time_by_state == {"running": 27_000.0, "break": 1800.0, "no_shift": 57_600.0}


def test_weeks_start_on_monday_local_time() -> None:
    cal = Calendar.from_mapping({"timezone": "Europe/Berlin"})
    weeks = cal.windows("week", local(2025, 3, 26), local(2025, 4, 2))
    assert [w.label for w in weeks] == ["2025-03-24", "2025-03-31"]
    assert weeks[0].start_ms == local(2025, 3, 26)  # clipped to the asked range


@pytest.mark.parametrize(
    "data",
    [
        {"timezone": "Mars/Olympus"},
        {"shifts": [{"name": "a", "start": "25:00", "hours": 8}]},
        {
            "shifts": [
                {"name": "a", "start": "06:00", "hours": 9},
                {"name": "b", "start": "14:00", "hours": 8},
            ]
        },
        {
            "shifts": [
                {"name": "a", "start": "06:00", "hours": 8},
                {"name": "a", "start": "14:00", "hours": 8},
            ]
        },
        {
            "shifts": [
                {
                    "name": "a",
                    "start": "06:00",
                    "hours": 1,
                    "breaks": [{"start": "06:10", "minutes": 90}],
                }
            ]
        },
        {"holidays": ["christmas"]},
    ],
    ids=["zone", "time", "overlap", "names", "break", "holiday"],
)
def test_invalid_calendars_are_refused(data: dict[str, object]) -> None:
    with pytest.raises(InvalidRequest):
        Calendar.from_mapping(data)


def test_a_calendar_survives_its_mapping() -> None:
    cal = Calendar.from_mapping({**THREE_SHIFTS, "holidays": ["2025-12-25"]})
    assert Calendar.from_mapping(cal.to_mapping()) == cal


def test_unknown_period_is_refused() -> None:
    with pytest.raises(InvalidRequest):
        Calendar().windows("month", 0, HOUR)  # type: ignore[arg-type]  # deliberately wrong
