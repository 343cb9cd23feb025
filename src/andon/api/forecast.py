"""Forecast routes: the next shift's energy and downtime of a line, from the historian.

``GET /api/v1/forecast/next-shift?line=acme/plant1/forming/line2`` forecasts the next shift
of the plant calendar (the next 8 h from the next full hour when no shifts are set) from
the last four weeks: energy in kWh (``null`` when the line has no power or energy tags)
and downtime in machine-minutes (as the MES policy classifies states), each as a total
with an interval at ``level`` and hour by hour, with the method chosen (a seasonal profile,
or LightGBM on lags and the calendar once the line has two weeks of history; its fits are
cached per line and hour), how it did on past windows of the same length, and the
same-hours-yesterday baseline's error::

    {"line": "...", "machines": [...], "shift": "2026-01-02/early", "start_ms": ...,
     "end_ms": ..., "now_ms": ..., "level": 0.8,
     "energy": {"name": "energy", "unit": "kWh", "forecast": 812.4, "lower": 700.1,
                "upper": 924.7, "method": "same hour, last 7 days",
                "interval": "split conformal on 310 past windows", "history_hours": 672,
                "backtest_windows": 310, "backtest_mae": 61.2, "naive_mae": 88.0,
                "hours": [{"ts_ms": ..., "forecast": ..., "lower": ..., "upper": ...}]},
     "downtime": {... "unit": "machine-min" ...}}
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from andon import mes
from andon.api.deps import HistorianDep, NowDep
from andon.errors import InvalidRequest, NotFound
from andon.mes.policy import DEFAULT_POLICY
from andon.ml.forecast import next_shift
from andon.namespace import validate_path

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/forecast", tags=["forecast"])


class HourOut(BaseModel):
    ts_ms: int = Field(description="start of the hour (epoch ms)")
    forecast: float
    lower: float
    upper: float


class QuantityOut(BaseModel):
    name: str
    unit: str
    forecast: float = Field(description="total over the shift")
    lower: float
    upper: float
    method: str = Field(description="the forecast method chosen on past windows")
    interval: str = Field(description="how the interval was sized")
    history_hours: int
    backtest_windows: int
    backtest_mae: float | None = Field(description="the method's mean error on past windows")
    naive_mae: float | None = Field(description="the same hours yesterday, on the same windows")
    hours: list[HourOut]


class ShiftForecastOut(BaseModel):
    line: str
    machines: list[str]
    shift: str
    start_ms: int
    end_ms: int
    now_ms: int
    level: float = Field(description="nominal coverage of the intervals")
    energy: QuantityOut | None = Field(description="null when the line has no kW/kWh tags")
    downtime: QuantityOut


@router.get("/next-shift")
def forecast_next_shift(
    historian: HistorianDep,
    now: NowDep,
    line: Annotated[str, Query(description="line (or any asset) path: its machines below it")],
    level: Annotated[float, Query(gt=0.5, lt=1.0, description="interval coverage")] = 0.8,
    lookback_days: Annotated[int, Query(ge=1, le=90, description="history to learn from")] = 28,
) -> ShiftForecastOut:
    """The next shift's energy (kWh) and downtime (machine-minutes) of a line, with intervals."""
    validate_path(line)
    calendar = mes.load_calendar(historian)
    window = None
    for shift in calendar.shifts_between(now, now + 8 * 86_400_000):
        if shift.start_ms >= now:
            window = (shift.label, shift.start_ms, shift.end_ms)
            break
    try:
        result = next_shift(
            historian,
            line,
            now,
            is_downtime=lambda code: DEFAULT_POLICY.classify(code) == "downtime",
            window=window,
            lookback_days=lookback_days,
            level=level,
        )
    except LookupError as exc:
        raise NotFound(str(exc)) from exc
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from exc
    return ShiftForecastOut.model_validate(result.to_dict())
