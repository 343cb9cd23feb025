"""Routes about ingestion: live counters, Prometheus metrics, dead letters.

The counters are those of the ingestion running in this process (``andon ingest
--http-port``, ``andon demo``); a process that only serves the API reports ``running:
false`` and an empty exposition. Dead letters come from the historian, so any process sees
them; they carry raw payloads, so listing them needs the ``engineer`` role.
"""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel

from andon.api.auth import requires
from andon.api.credentials import Role
from andon.api.deps import HistorianDep
from andon.ingest import IngestStats, prometheus_text

__all__ = ["router"]

router = APIRouter(tags=["ingest"])

_PROMETHEUS = "text/plain; version=0.0.4; charset=utf-8"


class SourceCounters(BaseModel):
    received: int
    accepted: int
    duplicates: int
    rejected: int
    samples_written: int
    last_written_ms: int | None


class IngestCounters(BaseModel):
    running: bool
    received: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    samples_written: int = 0
    records_written: int = 0
    batches_written: int = 0
    write_retries: int = 0
    write_failures: int = 0
    spilled_batches: int = 0
    drained_batches: int = 0
    quarantined_batches: int = 0
    buffered_batches: int = 0
    buffered_records: int = 0
    buffered_bytes: int = 0
    historian_available: bool = True
    lag_s: float = 0.0
    started_ms: int | None = None
    by_source: dict[str, SourceCounters] = {}


class DeadLetter(BaseModel):
    received_ms: int
    source: str
    topic: str
    error: str
    payload_b64: str
    payload_text: str | None  # the payload as text when it is UTF-8


def _stats(request: Request) -> IngestStats | None:
    stats: IngestStats | None = getattr(request.app.state, "ingest_stats", None)
    return stats


@router.get("/api/v1/ingest/stats")
def ingest_stats(request: Request) -> IngestCounters:
    """Messages in, samples written, rejected, buffered and lag, overall and per source."""
    stats = _stats(request)
    if stats is None:
        return IngestCounters(running=False)
    return IngestCounters.model_validate({"running": True, **stats.to_dict()})


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(request: Request) -> PlainTextResponse:
    """The ingestion counters in Prometheus' text format."""
    stats = _stats(request)
    text = (
        "# andon: no ingestion runs in this process\n" if stats is None else prometheus_text(stats)
    )
    return PlainTextResponse(text, media_type=_PROMETHEUS)


@router.get("/api/v1/deadletters", dependencies=[requires(Role.ENGINEER)])
def dead_letters(
    historian: HistorianDep,
    limit: Annotated[int, Query(ge=1, le=10_000, description="the newest N are looked at")] = 100,
    source: Annotated[str | None, Query(description="only this source")] = None,
    topic_prefix: Annotated[str | None, Query(description="only topics starting so")] = None,
) -> list[DeadLetter]:
    """Rejected messages, newest first, with the reason and the raw payload (base64)."""
    letters = historian.dead_letters(limit)
    return [
        DeadLetter(
            received_ms=letter.received_ms,
            source=letter.source,
            topic=letter.topic,
            error=letter.error,
            payload_b64=base64.b64encode(letter.payload).decode(),
            payload_text=_text(letter.payload),
        )
        for letter in letters
        if (source is None or letter.source == source)
        and (topic_prefix is None or letter.topic.startswith(topic_prefix))
    ]


def _text(payload: bytes) -> str | None:
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        return None
