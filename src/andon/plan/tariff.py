"""Time-of-use electricity tariffs: a price per kWh for each planning period.

A tariff is either one price per period, or bands of the local day (``"07:00"`` to
``"11:00"``, an end at or before the start wraps past midnight) on all days, weekdays or
weekends; the first band that holds a period's start sets its price, ``default_price``
covers the rest. Periods are placed in the plant's time zone, so a DST day has 23 or 25
hourly periods priced by the local clock.

>>> tariff = Tariff(default_price=0.10, bands=[Band(start="17:00", end="20:00", price=0.30)])
>>> tariff.prices("2025-03-03T15:00:00+00:00", periods=6, period_minutes=60)
[0.1, 0.1, 0.3, 0.3, 0.3, 0.1]
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, field_validator

from andon.errors import InvalidRequest

__all__ = ["Band", "Tariff", "period_starts"]

_FROZEN = ConfigDict(frozen=True, extra="forbid")


def _minutes(text: str) -> int:
    hours, _, minutes = text.partition(":")
    value = int(hours) * 60 + int(minutes or 0)
    if not 0 <= value <= 24 * 60:
        raise ValueError(f"{text!r} is not a time of day HH:MM")
    return value


class Band(BaseModel):
    """A price from ``start`` to ``end`` (local HH:MM) on the given days."""

    model_config = _FROZEN
    start: str
    end: str
    price: NonNegativeFloat
    days: Literal["all", "weekdays", "weekends"] = "all"

    @field_validator("start", "end")
    @classmethod
    def _time_of_day(cls, value: str) -> str:
        _minutes(value)
        return value

    def covers(self, moment: datetime) -> bool:
        weekend = moment.weekday() >= 5
        if (self.days == "weekdays" and weekend) or (self.days == "weekends" and not weekend):
            return False
        now = moment.hour * 60 + moment.minute
        start, end = _minutes(self.start), _minutes(self.end)
        if start < end:
            return start <= now < end
        return now >= start or now < end  # wraps past midnight


class Tariff(BaseModel):
    """Prices per kWh: a list per period, or time-of-use bands with a default."""

    model_config = _FROZEN
    prices_per_period: list[NonNegativeFloat] | None = None
    bands: list[Band] = Field(default_factory=list)
    default_price: NonNegativeFloat | None = None

    def prices(
        self, start: str | None, periods: int, period_minutes: int, timezone: str = "UTC"
    ) -> list[float]:
        """The price of each of ``periods`` periods from ``start`` (ISO-8601)."""
        if self.prices_per_period is not None:
            if len(self.prices_per_period) < periods:
                raise InvalidRequest(
                    f"the tariff has {len(self.prices_per_period)} prices for {periods} periods"
                )
            return list(self.prices_per_period[:periods])
        if start is None:
            raise InvalidRequest("time-of-use bands need the start time of the horizon")
        return [self._price(m) for m in period_starts(start, periods, period_minutes, timezone)]

    def _price(self, moment: datetime) -> float:
        for band in self.bands:
            if band.covers(moment):
                return band.price
        if self.default_price is None:
            raise InvalidRequest(f"no tariff band covers {moment.isoformat()} and no default")
        return self.default_price


def period_starts(
    start: str, periods: int, period_minutes: int, timezone: str = "UTC"
) -> list[datetime]:
    """Local start times of the periods (naive ``start`` is taken in ``timezone``)."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidRequest(f"unknown time zone {timezone!r}") from exc
    try:
        first = datetime.fromisoformat(start)
    except ValueError as exc:
        raise InvalidRequest(f"start {start!r} is not ISO-8601") from exc
    first = first.replace(tzinfo=zone) if first.tzinfo is None else first
    step = timedelta(minutes=period_minutes)
    # Step in absolute (UTC) time, then read the local clock: DST days get 23 or 25 hours.
    # (Adding to a zoned datetime would step the wall clock, into hours that do not exist.)
    origin = first.astimezone(UTC)
    return [(origin + k * step).astimezone(zone) for k in range(periods)]
