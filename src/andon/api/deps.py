"""Dependencies shared by the routers: the historian and time windows from query strings."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, FastAPI, Query, Request

from andon.errors import InvalidRequest
from andon.historian import DuckDBHistorian
from andon.signals import parse_ts

__all__ = ["DataClock", "HistorianDep", "NowDep", "Window", "WindowDep", "clock_of", "data_now"]

DEFAULT_WINDOW_MS = 3_600_000
MAX_WINDOW_MS = 366 * 86_400_000


def _historian(request: Request) -> DuckDBHistorian:
    historian: DuckDBHistorian = request.app.state.historian
    return historian


HistorianDep = Annotated[DuckDBHistorian, Depends(_historian)]


def data_now(historian: DuckDBHistorian) -> int:
    """'Now' for dashboards: the newest data, or the wall clock when there is none yet.

    An accelerated simulator runs ahead of the wall clock; its data defines the present.
    """
    latest = historian.latest_ts()
    return latest + 1 if latest is not None else int(time.time() * 1000)


class DataClock:
    """``data_now`` shared by every request and the live stream, read at most once a second.

    The newest timestamp costs a scan of the states and counts tables (tens of ms on months
    of data); fifty screens asking within the same second share one read.
    """

    def __init__(self, historian: DuckDBHistorian, max_age_s: float = 1.0) -> None:
        self._historian = historian
        self._max_age_s = max_age_s
        self._lock = threading.Lock()
        self._read_at = -1e18
        self._latest: int | None = None

    def latest_ts(self) -> int | None:
        """The newest timestamp of any data (None when empty), at most ``max_age_s`` old."""
        with self._lock:
            if time.monotonic() - self._read_at > self._max_age_s:
                self._latest = self._historian.latest_ts()
                self._read_at = time.monotonic()
            return self._latest

    def now(self) -> int:
        """As :func:`data_now`: the newest data + 1 ms, or the wall clock when there is none."""
        latest = self.latest_ts()
        return latest + 1 if latest is not None else int(time.time() * 1000)


def clock_of(app: FastAPI) -> DataClock:
    """The app's data clock, created on first use."""
    clock: DataClock | None = getattr(app.state, "data_clock", None)
    if clock is None:
        # As fresh as the live stream polls (``live.LiveConfig.period_s``, 1 s by default).
        period = getattr(getattr(app.state, "live_config", None), "period_s", 1.0)
        clock = app.state.data_clock = DataClock(app.state.historian, max_age_s=period)
    return clock


def _now(request: Request) -> int:
    return clock_of(request.app).now()


NowDep = Annotated[int, Depends(_now)]
"""'Now' of the data (see :func:`data_now`), shared across requests for up to a second."""


@dataclass(frozen=True, slots=True)
class Window:
    """A half-open time window ``[start_ms, end_ms)``."""

    start_ms: int
    end_ms: int


def _time(value: str | None, name: str) -> int | None:
    if value is None:
        return None
    try:
        return parse_ts(value)
    except ValueError as exc:
        raise InvalidRequest(f"{name}: {exc}") from exc


def _window(
    request: Request,
    start: Annotated[
        str | None, Query(alias="from", description="epoch ms or ISO-8601; default to - 1 h")
    ] = None,
    end: Annotated[
        str | None, Query(alias="to", description="epoch ms or ISO-8601; default newest data")
    ] = None,
) -> Window:
    end_ms = _time(end, "to")
    start_ms = _time(start, "from")
    if end_ms is None:
        end_ms = clock_of(request.app).now() if start_ms is None else start_ms + DEFAULT_WINDOW_MS
    if start_ms is None:
        start_ms = end_ms - DEFAULT_WINDOW_MS
    if end_ms <= start_ms:
        raise InvalidRequest("'to' must be after 'from'")
    if end_ms - start_ms > MAX_WINDOW_MS:
        raise InvalidRequest("windows are limited to 366 days")
    return Window(start_ms, end_ms)


WindowDep = Annotated[Window, Depends(_window)]
