"""Routes over stored history: tag series (raw or bucketed) and state timelines."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from andon.api.deps import HistorianDep, WindowDep
from andon.errors import InvalidRequest
from andon.signals import STATE_NAMES, state_category

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["history"])

MAX_RAW_POINTS = 100_000
MAX_BUCKETS = 20_000


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
    bucket_s: float | None
    points: list[Point]


class Span(BaseModel):
    start: int
    end: int
    code: int
    state: str
    reason: str | None


class Timeline(BaseModel):
    asset: str
    start: int = Field(serialization_alias="from")
    end: int = Field(serialization_alias="to")
    spans: list[Span]


@router.get("/series", response_model_exclude_none=True)
def series(
    historian: HistorianDep,
    window: WindowDep,
    tag: Annotated[int, Query(description="tag id (see /api/v1/tags)")],
    bucket: Annotated[
        float | None, Query(gt=0, description="bucket width in seconds; raw points if absent")
    ] = None,
) -> Series:
    """One tag's samples in the window: raw, or avg/min/max/count per time bucket."""
    info = historian.tag(tag)
    ref = TagRef(id=info.id, asset=info.asset, name=info.name, unit=info.unit)
    if bucket is None:
        raw = historian.series(tag, window.start_ms, window.end_ms)
        if len(raw) > MAX_RAW_POINTS:
            raise InvalidRequest(f"more than {MAX_RAW_POINTS} points: ask with a bucket")
        points = [Point(ts=ts, value=value) for ts, value in raw]
    else:
        bucket_ms = max(1, round(bucket * 1000))
        if (window.end_ms - window.start_ms) // bucket_ms > MAX_BUCKETS:
            raise InvalidRequest(f"more than {MAX_BUCKETS} buckets: widen the bucket")
        points = [
            Point(ts=b.ts_ms, avg=b.avg, min=b.min, max=b.max, count=b.count)
            for b in historian.aggregate(tag, window.start_ms, window.end_ms, bucket_ms)
        ]
    return Series(tag=ref, start=window.start_ms, end=window.end_ms, bucket_s=bucket, points=points)


@router.get("/states")
def states(
    historian: HistorianDep,
    window: WindowDep,
    asset: Annotated[str, Query(description="asset path of a machine")],
) -> Timeline:
    """The machine's state timeline, each span clipped to the window."""
    changes = historian.state_timeline(asset, window.start_ms, window.end_ms)
    spans: list[Span] = []
    for i, change in enumerate(changes):
        start = max(change.ts_ms, window.start_ms)
        end = changes[i + 1].ts_ms if i + 1 < len(changes) else window.end_ms
        if end > start:
            name = STATE_NAMES.get(state_category(change.code), str(change.code))
            spans.append(
                Span(start=start, end=end, code=change.code, state=name, reason=change.reason)
            )
    return Timeline(asset=asset, start=window.start_ms, end=window.end_ms, spans=spans)
