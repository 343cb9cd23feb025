"""Routes over stored history: tag series (raw or bucketed) and state timelines."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from andon.api.deps import HistorianDep, Window, WindowDep
from andon.errors import InvalidRequest
from andon.signals import STATE_NAMES, state_category

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["history"])

MAX_RAW_POINTS = 100_000
MAX_BUCKETS = 20_000
MAX_SPANS = 100_000


class TagRef(BaseModel):
    id: int
    asset: str
    name: str
    unit: str | None


class Point(BaseModel):
    ts: int
    value: float | None = None
    avg: float | None = None
    min: float | None = None
    max: float | None = None
    count: int | None = None


class Series(BaseModel):
    tag: TagRef
    start: int = Field(serialization_alias="from")
    end: int = Field(serialization_alias="to")
    bucket_s: float | None = Field(default=None, description="absent for raw points")
    points: list[Point]


class Span(BaseModel):
    start: int
    end: int
    code: int
    state: str
    reason: str | None = None


class Timeline(BaseModel):
    asset: str
    start: int = Field(serialization_alias="from")
    end: int = Field(serialization_alias="to")
    resolution_ms: int | None = Field(
        default=None, description="bucket width when downsampled with 'points'"
    )
    spans: list[Span]


@router.get("/series", response_model_exclude_none=True)
def series(
    historian: HistorianDep,
    window: WindowDep,
    tag: Annotated[int, Query(description="tag id (see /api/v1/tags)")],
    bucket: Annotated[
        float | None, Query(gt=0, description="bucket width in seconds; raw points if absent")
    ] = None,
    points: Annotated[
        int | None,
        Query(
            ge=1,
            le=MAX_BUCKETS,
            description="about this many buckets over the window (one per pixel of a chart): "
            "min/max/avg per bucket, so 30 days of 1 Hz data draw from a few thousand rows",
        ),
    ] = None,
) -> Series:
    """One tag's samples in the window: raw, or avg/min/max/count per time bucket."""
    info = historian.tag(tag)
    ref = TagRef(id=info.id, asset=info.asset, name=info.name, unit=info.unit)
    if points is not None:
        if bucket is not None:
            raise InvalidRequest("ask with either 'bucket' or 'points', not both")
        bucket = -(-(window.end_ms - window.start_ms) // points) / 1000  # ceil, in seconds
    found = (
        _raw(historian, tag, window)
        if bucket is None
        else _bucketed(historian, tag, window, max(1, round(bucket * 1000)))
    )
    return Series(tag=ref, start=window.start_ms, end=window.end_ms, bucket_s=bucket, points=found)


def _raw(historian: HistorianDep, tag: int, window: Window) -> list[Point]:
    raw = historian.series(tag, window.start_ms, window.end_ms)
    if len(raw) > MAX_RAW_POINTS:
        raise InvalidRequest(f"more than {MAX_RAW_POINTS} points: ask with a bucket")
    return [Point(ts=ts, value=value) for ts, value in raw]


def _bucketed(historian: HistorianDep, tag: int, window: Window, bucket_ms: int) -> list[Point]:
    if (window.end_ms - window.start_ms) // bucket_ms > MAX_BUCKETS:
        raise InvalidRequest(f"more than {MAX_BUCKETS} buckets: widen the bucket")
    return [
        Point(ts=b.ts_ms, avg=b.avg, min=b.min, max=b.max, count=b.count)
        for b in historian.aggregate(tag, window.start_ms, window.end_ms, bucket_ms)
    ]


@router.get("/states", response_model_exclude_none=True)
def states(
    historian: HistorianDep,
    window: WindowDep,
    asset: Annotated[str, Query(description="asset path of a machine")],
    points: Annotated[
        int | None,
        Query(
            ge=1,
            le=MAX_BUCKETS,
            description="about this many buckets over the window (one per pixel of a chart): "
            "each shows the state that held longest in it, so a week of micro-stops still "
            "draws as a timeline instead of 30,000 slivers",
        ),
    ] = None,
) -> Timeline:
    """The machine's state timeline, each span clipped to the window."""
    changes = historian.state_timeline(asset, window.start_ms, window.end_ms)
    if len(changes) > MAX_SPANS:
        raise InvalidRequest(f"more than {MAX_SPANS} state changes: narrow the window")
    spans: list[_Span] = []
    for i, change in enumerate(changes):
        start = max(change.ts_ms, window.start_ms)
        end = changes[i + 1].ts_ms if i + 1 < len(changes) else window.end_ms
        if end > start:
            spans.append((start, end, change.code, change.reason))
    resolution = None
    if points is not None and len(spans) > points:
        resolution = -(-(window.end_ms - window.start_ms) // points)
        spans = _dominant(spans, window.start_ms, window.end_ms, resolution)
    return Timeline(
        asset=asset,
        start=window.start_ms,
        end=window.end_ms,
        resolution_ms=resolution,
        spans=[  # models only for what is sent: a week holds thousands of raw spans
            Span(
                start=a,
                end=b,
                code=code,
                state=STATE_NAMES.get(state_category(code), str(code)),
                reason=reason,
            )
            for a, b, code, reason in spans
        ],
    )


_Span = tuple[int, int, int, str | None]
"""``(start, end, code, reason)`` of a span while it is computed."""


def _dominant(spans: list[_Span], start: int, end: int, width: int) -> list[_Span]:
    """One span per ``width`` bucket, the one that held longest there; equal neighbours merge.

    >>> _dominant([(0, 80, 10000, None), (80, 100, 50000, None)], 0, 100, 50)
    [(0, 100, 10000, None)]
    """
    out: list[_Span] = []
    first = 0
    for lo in range(start, end, width):
        hi = min(end, lo + width)
        while first < len(spans) and spans[first][1] <= lo:
            first += 1
        best, held = None, -1
        for span in spans[first:]:
            if span[0] >= hi:
                break
            overlap = min(span[1], hi) - max(span[0], lo)
            if overlap > held:
                best, held = span, overlap
        if best is None:
            continue
        if out and out[-1][2] == best[2] and out[-1][1] == lo:
            out[-1] = (out[-1][0], hi, out[-1][2], out[-1][3])
        else:
            out.append((lo, hi, best[2], best[3]))
    return out
