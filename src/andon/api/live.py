"""One Server-Sent Events stream for every page: ``GET /api/v1/live``.

The pages do not poll on timers. One hub per app watches the historian's data clock (one
cheap query per second, shared by every connected screen, and none while nobody listens) and
sends a ``tick`` when new data has arrived; each page then re-reads what it shows, with
``If-None-Match``, so an unchanged view costs a 304. Other parts of andon push their own
events onto the same stream with :func:`publish` (alerts, order changes), from any thread.

Frames follow the SSE format: ``id``, ``event`` and one JSON ``data`` line. A comment line
every ``heartbeat_s`` keeps proxies from closing an idle stream. Each stream ends after
``max_stream_s`` and the browser's ``EventSource`` reconnects by itself (``retry`` is sent
first): a server restart or shutdown then never waits on an open screen for long.

A client that goes away is forgotten at once: the response closes its frame generator
itself (:class:`EventStreamResponse`) instead of leaving that to the garbage collector,
which would keep a dead listener (and the data clock's polling) alive for a while.

>>> frame("tick", {"latest_ts": 5}, 7)
b'id: 7\\nevent: tick\\ndata: {"latest_ts":5}\\n\\n'
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from andon.api.deps import clock_of
from andon.errors import AndonError

__all__ = [
    "EventStreamResponse",
    "LiveConfig",
    "LiveHub",
    "frame",
    "hub_of",
    "publish",
    "router",
]

_logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1", tags=["live"])
_UNSET = object()


@dataclass(frozen=True, slots=True)
class LiveConfig:
    period_s: float = 1.0  # how often the data clock is checked
    heartbeat_s: float = 10.0
    max_stream_s: float = 15.0
    retry_ms: int = 1000
    queue: int = 64  # frames buffered per slow client before the oldest are dropped


def frame(event: str, data: Any, seq: int) -> bytes:
    """One SSE frame."""
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (seq, event.encode(), orjson.dumps(data))


class LiveHub:
    """Fans events out to every open stream; polls the data clock while anyone listens."""

    def __init__(self, latest_ts: Callable[[], int | None], config: LiveConfig) -> None:
        self._latest_ts = latest_ts
        self.config = config
        self._queues: set[asyncio.Queue[bytes]] = set()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._seq = 0
        self._last_tick: bytes | None = None
        self._last_ts: object = _UNSET  # the first check always ticks, even with no data

    @property
    def listeners(self) -> int:
        return len(self._queues)

    async def stream(self) -> AsyncGenerator[bytes, None]:
        """The frames of one client: ``retry``, the last tick, then live events."""
        queue: asyncio.Queue[bytes] = asyncio.Queue(self.config.queue)
        self._queues.add(queue)
        self._start()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.max_stream_s
        try:
            yield b"retry: %d\n\n" % self.config.retry_ms
            if self._last_tick is not None:
                yield self._last_tick
            while (left := deadline - loop.time()) > 0:
                try:
                    yield await asyncio.wait_for(queue.get(), min(self.config.heartbeat_s, left))
                except TimeoutError:
                    if deadline - loop.time() > 0:
                        yield b": keep-alive\n\n"
        finally:
            self._queues.discard(queue)

    def publish(self, event: str, data: Any) -> None:
        """Send ``event`` to every open stream; safe to call from any thread."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return  # nobody has ever listened: nothing to deliver
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._broadcast(event, data)
        else:
            loop.call_soon_threadsafe(self._broadcast, event, data)

    def _broadcast(self, event: str, data: Any) -> bytes:
        self._seq += 1
        message = frame(event, data, self._seq)
        for queue in list(self._queues):
            if queue.full():  # a stalled screen loses its oldest frames, not the server memory
                queue.get_nowait()
            queue.put_nowait(message)
        return message

    def _start(self) -> None:
        self._loop = asyncio.get_running_loop()
        if self._task is None or self._task.done():
            self._task = self._loop.create_task(self._watch(), name="andon-live-clock")

    async def _watch(self) -> None:
        """Tick while anyone listens; stop when the last stream closes."""
        while self._queues:
            try:
                latest = await asyncio.to_thread(self._latest_ts)
            except AndonError as exc:  # the historian is down or closing: say so, keep going
                _logger.warning("live: data clock unavailable: %s", exc)
                self._broadcast("status", {"ok": False, "message": str(exc)})
            else:
                if latest != self._last_ts:
                    self._last_ts = latest
                    tick = {"latest_ts": latest, "now": int(time.time() * 1000)}
                    self._last_tick = self._broadcast("tick", tick)
            await asyncio.sleep(self.config.period_s)


def hub_of(app: FastAPI) -> LiveHub:
    """The app's hub, created on first use."""
    hub: LiveHub | None = getattr(app.state, "live", None)
    if hub is None:
        config: LiveConfig = getattr(app.state, "live_config", None) or LiveConfig()
        # The data clock the requests share: the hub's read serves them too, and theirs it.
        hub = app.state.live = LiveHub(clock_of(app).latest_ts, config)
    return hub


def publish(app: FastAPI, event: str, data: Any) -> None:
    """Push ``event`` (JSON-serialisable ``data``) to every page listening on ``app``."""
    hub_of(app).publish(event, data)


_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class EventStreamResponse(StreamingResponse):
    """A ``text/event-stream`` response that closes its generator when it ends, whatever
    ended it: the stream's own end, the client leaving, or the server shutting down.

    When the client leaves, Starlette cancels the response; if the cancellation lands while
    the generator is suspended at a ``yield`` (a frame being sent), the generator stays
    open until the garbage collector finalises it, and its ``finally`` (the hub forgetting
    the listener) runs at some unknown later time. Closing it here makes that immediate.
    """

    def __init__(self, frames: AsyncGenerator[bytes, None]) -> None:
        super().__init__(frames, media_type="text/event-stream", headers=_SSE_HEADERS)
        self._frames = frames

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._frames.aclose()


@router.get(
    "/live",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "an endless text/event-stream: `tick` {latest_ts, now} when new "
            "data arrives, `status` when the historian fails, and events of other domains",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        }
    },
)
async def live(request: Request) -> StreamingResponse:
    """The live stream the dashboard pages listen to (Server-Sent Events)."""
    return EventStreamResponse(hub_of(request.app).stream())
