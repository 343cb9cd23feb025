"""The shift report: one shift of one asset on one page, as HTML or PDF.

KPIs per ISO 22400-2 (from :mod:`andon.mes`), where the planned time went (the six big losses),
the longest stops and the downtime Pareto, produced, good and scrap per machine. The shift is
named as the plant calendar names it, ``YYYY-MM-DD/NAME`` (the date the shift starts, in the
plant's time zone): a night shift ``2025-11-21/night`` runs into the 22nd.

The HTML is self-contained (inline CSS and SVG charts, no script), so it can be mailed,
archived and opened anywhere; the PDF is the same HTML printed by WeasyPrint.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from andon import mes
from andon.errors import InvalidRequest, NotFound
from andon.historian import Historian

__all__ = ["ShiftReport", "StopRow", "build_report", "find_shift"]

TOP_STOPS = 10
_DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class StopRow:
    """One stop in the report (clipped to the shift)."""

    asset: str
    start_ms: int
    end_ms: int | None
    seconds: float
    state: str
    reasons: str
    micro: bool


@dataclass(frozen=True, slots=True)
class ShiftReport:
    """Everything a shift report shows, ready for HTML, PDF or JSON."""

    asset: str
    shift: str
    start_ms: int
    end_ms: int
    timezone: str
    total: mes.OeeResult
    machines: tuple[mes.OeeResult, ...]
    top_stops: tuple[StopRow, ...]
    pareto: tuple[mes.ParetoRow, ...]
    stops: int
    micro_stops: int
    generated_ms: int
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, object]:
        return {
            "asset": self.asset,
            "shift": self.shift,
            "from": self.start_ms,
            "to": self.end_ms,
            "timezone": self.timezone,
            "total": self.total.to_dict(),
            "machines": [m.to_dict() for m in self.machines],
            "top_stops": [_stop_dict(s) for s in self.top_stops],
            "pareto": [row.to_dict() for row in self.pareto],
            "stops": self.stops,
            "micro_stops": self.micro_stops,
            "generated": self.generated_ms,
            "notes": list(self.notes),
        }


def _stop_dict(stop: StopRow) -> dict[str, object]:
    return {
        "asset": stop.asset,
        "from": stop.start_ms,
        "to": stop.end_ms,
        "seconds": stop.seconds,
        "state": stop.state,
        "reasons": stop.reasons,
        "micro": stop.micro,
    }


def _parse_shift(text: str) -> tuple[date, str]:
    day, _, name = text.partition("/")
    try:
        parsed = date.fromisoformat(day)
    except ValueError:
        parsed = None
    if parsed is None or not name:
        raise InvalidRequest(f"shift {text!r}: expected YYYY-MM-DD/NAME, e.g. 2025-11-21/early")
    return parsed, name


def find_shift(calendar: mes.Calendar, text: str) -> mes.Window:
    """The calendar's shift ``YYYY-MM-DD/NAME``; :class:`NotFound` with the shifts it has."""
    day, name = _parse_shift(text)
    start, end = calendar.day_bounds(day)
    found = calendar.shifts_between(start, end + _DAY_MS)
    for window in found:
        if window.label == f"{day.isoformat()}/{name}":
            return window
    if not calendar.shifts:
        raise NotFound(
            "the plant calendar has no shifts: set them first "
            "(PUT /api/v1/shifts, or the shifts command of the CLI)"
        )
    names = sorted({s.name for s in calendar.shifts})
    on_day = sorted(w.label for w in found if w.label.startswith(day.isoformat()))
    raise NotFound(
        f"no shift {text!r} in the plant calendar (shifts: {', '.join(names)}; "
        f"on {day}: {', '.join(on_day) or 'none, a holiday or a day off'})"
    )


def _reasons(event: mes.DowntimeEvent) -> str:
    named = sorted(event.by_reason, key=lambda r: -event.by_reason[r])
    return ", ".join(named) if named else (event.reason or event.state)


def _stop_row(event: mes.DowntimeEvent) -> StopRow:
    return StopRow(
        event.asset,
        event.start_ms,
        event.end_ms,
        event.seconds,
        event.state,
        _reasons(event),
        event.micro,
    )


def build_report(historian: Historian, asset: str, shift: str, now_ms: int) -> ShiftReport:
    """The report of ``asset`` (a machine, or a line/area to roll up) for ``shift``."""
    calendar = mes.load_calendar(historian)
    window = find_shift(calendar, shift)
    start, end = window.start_ms, window.end_ms
    notes: list[str] = []
    if now_ms < end:
        notes.append("The shift was still running when this report was made: figures so far.")
        end = max(start + 1, min(end, now_ms))
    cells = [c.path for c in mes.cells_of(historian.assets(), asset)]
    machines = tuple(mes.oee_for_asset(historian, c, start, end, calendar=calendar) for c in cells)
    total = mes.oee_for_asset(historian, asset, start, end, calendar=calendar)
    events = [e for c in cells for e in mes.downtime.stops(historian, c, start, end)]
    longest = sorted((e for e in events if not e.micro), key=lambda e: -e.seconds)
    return ShiftReport(
        asset=asset,
        shift=window.label,
        start_ms=window.start_ms,
        end_ms=window.end_ms,
        timezone=calendar.timezone,
        total=total,
        machines=machines,
        top_stops=tuple(_stop_row(e) for e in longest[:TOP_STOPS]),
        pareto=tuple(mes.downtime.pareto(events)),
        stops=sum(not e.micro for e in events),
        micro_stops=sum(e.micro for e in events),
        generated_ms=now_ms,
        notes=tuple(notes),
    )
