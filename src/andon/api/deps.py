"""Dependencies shared by the routers: the historian and time windows from query strings."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request

from andon.errors import InvalidRequest
from andon.historian import DuckDBHistorian
from andon.signals import parse_ts

__all__ = ["HistorianDep", "Window", "WindowDep", "data_now"]

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
    historian: HistorianDep,
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
        end_ms = data_now(historian) if start_ms is None else start_ms + DEFAULT_WINDOW_MS
    if start_ms is None:
        start_ms = end_ms - DEFAULT_WINDOW_MS
    if end_ms <= start_ms:
        raise InvalidRequest("'to' must be after 'from'")
    if end_ms - start_ms > MAX_WINDOW_MS:
        raise InvalidRequest("windows are limited to 366 days")
    return Window(start_ms, end_ms)


WindowDep = Annotated[Window, Depends(_window)]
