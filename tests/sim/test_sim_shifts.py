"""The shift calendar: breaks, off-shift time, midnight and DST."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from andon.sim import load_scenario
from andon.sim.scenario import BreakSpec, ShiftSpec
from andon.sim.shifts import ShiftCalendar

BERLIN = ZoneInfo("Europe/Berlin")


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def demo_calendar() -> ShiftCalendar:
    scenario = load_scenario("demo")
    return ShiftCalendar(scenario.shifts, ZoneInfo(scenario.timezone))


def test_demo_day_has_three_half_hour_breaks_and_no_gaps() -> None:
    day = datetime(2025, 11, 21, tzinfo=UTC)
    periods = demo_calendar().timeline(ms(day), ms(day + timedelta(days=1)))
    breaks = [(p.start_ms, p.end_ms) for p in periods if p.state == "break"]
    expected = [(1, 45), (9, 45), (17, 45)]
    assert breaks == [
        (ms(day.replace(hour=h, minute=m)), ms(day.replace(hour=h, minute=m)) + 1_800_000)
        for h, m in expected
    ]
    assert {p.state for p in periods} == {None, "break"}
    assert all(a.end_ms == b.start_ms for a, b in itertools.pairwise(periods))


def test_state_at_and_next_change_agree_with_the_timeline() -> None:
    calendar = demo_calendar()
    noon = ms(datetime(2025, 11, 21, 12, tzinfo=UTC))
    assert calendar.state_at(noon) is None
    assert calendar.next_change(noon) == ms(datetime(2025, 11, 21, 17, 45, tzinfo=UTC))
    assert calendar.state_at(ms(datetime(2025, 11, 22, 2, 14, 59, tzinfo=UTC))) == "break"
    assert calendar.state_at(ms(datetime(2025, 11, 22, 2, 15, tzinfo=UTC))) is None


def test_hours_without_a_shift_are_no_shift() -> None:
    day = ShiftSpec("day", time(8), 8.0, (BreakSpec(time(12), 30.0),))
    calendar = ShiftCalendar((day,), BERLIN)
    morning = datetime(2025, 6, 2, 7, 59, tzinfo=BERLIN)
    assert calendar.state_at(ms(morning)) == "no_shift"
    assert calendar.state_at(ms(morning + timedelta(minutes=1))) is None
    assert calendar.state_at(ms(datetime(2025, 6, 2, 12, 10, tzinfo=BERLIN))) == "break"
    assert calendar.state_at(ms(datetime(2025, 6, 2, 16, 0, tzinfo=BERLIN))) == "no_shift"


def test_shifts_keep_wall_clock_times_across_dst() -> None:
    night = ShiftSpec("night", time(22), 8.0, (BreakSpec(time(1, 45), 30.0),))
    calendar = ShiftCalendar((night,), BERLIN)
    # 2025-03-30: clocks jump from 02:00 to 03:00; the night shift lasts 7 real hours.
    start = ms(datetime(2025, 3, 29, 22, tzinfo=BERLIN))
    periods = calendar.timeline(start, start + 12 * 3_600_000)
    worked = [p for p in periods if p.state != "no_shift"]
    assert worked[0].start_ms == start
    assert worked[-1].end_ms == ms(datetime(2025, 3, 30, 6, tzinfo=BERLIN))
    assert worked[-1].end_ms - start == 7 * 3_600_000
    (brk,) = [p for p in periods if p.state == "break"]
    assert brk.start_ms == ms(datetime(2025, 3, 30, 1, 45, tzinfo=BERLIN))


def test_without_shifts_the_plant_always_produces() -> None:
    calendar = ShiftCalendar((), BERLIN)
    assert calendar.state_at(0) is None
    assert calendar.next_change(0) > ms(datetime.combine(date(2100, 1, 1), time(), UTC))
