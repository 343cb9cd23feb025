"""What every connector shares: the sink it feeds and the supervised loop it runs in.

A connector is an async source: ``await source.run()`` connects, subscribes or polls, and
hands what it reads to a :class:`RecordSink` (the ingestion pipeline) until cancelled. When
the machine, server or broker goes away, :func:`supervise` reconnects with exponential
back-off and logs the outage once when it starts and once when it ends, never per attempt.

>>> backoff = Backoff(initial_s=1, maximum_s=8)
>>> [backoff.delay(attempt) for attempt in range(6)]
[1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from andon.errors import ConfigError
from andon.signals import Record

__all__ = ["Backoff", "Link", "RecordSink", "Source", "supervise"]

_logger = logging.getLogger(__name__)


class RecordSink(Protocol):
    """Where connectors deliver what they read (the ingestion pipeline implements it)."""

    def submit(self, topic: str, payload: bytes, *, source: str = "mqtt") -> bool:
        """A raw unified-namespace message, decoded and validated by the sink."""

    def submit_records(self, records: Iterable[Record], *, source: str) -> None:
        """Records the connector decoded itself."""

    def reject(self, source: str, topic: str, payload: bytes, reason: str) -> None:
        """A message that cannot be accepted, kept with its raw bytes as a dead letter."""


class Source(Protocol):
    """An async connector; ``name`` labels its counters and logs."""

    name: str

    async def run(self) -> None:
        """Read until cancelled, reconnecting by itself."""


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential back-off between reconnect attempts."""

    initial_s: float = 0.5
    maximum_s: float = 30.0
    factor: float = 2.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based)."""
        return float(min(self.maximum_s, self.initial_s * self.factor**attempt))


class Link:
    """The state of one connector's link, told by its session, logged once per change."""

    def __init__(self, name: str, on_state: Callable[[bool], None] | None = None) -> None:
        self.name = name
        self.is_up = False
        self.outages = 0
        self._down_since: float | None = None
        self._on_state = on_state

    def up(self) -> None:
        """The session is connected and subscribed (or polled successfully)."""
        if self.is_up:
            return
        self.is_up = True
        if self._down_since is not None:
            _logger.warning(
                "%s: link up again after %.1f s", self.name, time.monotonic() - self._down_since
            )
            self._down_since = None
        if self._on_state is not None:
            self._on_state(True)

    def down(self, reason: str) -> bool:
        """The link is lost; True when this starts a new outage (logged once)."""
        if not self.is_up and self._down_since is not None:
            return False
        self.is_up = False
        self.outages += 1
        self._down_since = time.monotonic()
        _logger.warning("%s: link down (%s); reconnecting with back-off", self.name, reason)
        if self._on_state is not None:
            self._on_state(False)
        return True


async def supervise(
    link: Link, session: Callable[[Link], Awaitable[None]], backoff: Backoff | None = None
) -> None:
    """Run ``session(link)`` forever; it connects, calls ``link.up()``, and returns or raises
    when the link is lost.

    Configuration errors end the loop (retrying cannot fix them); anything else is an
    outage, retried with back-off until cancelled.
    """
    backoff = backoff or Backoff()
    attempt = 0
    while True:
        try:
            await session(link)
            reason = "connection closed"
        except (asyncio.CancelledError, ConfigError):
            raise
        except Exception as exc:  # the wire, the server, the library: all outages to us
            reason = _reason(exc)
        if link.down(reason):
            attempt = 0
        await asyncio.sleep(backoff.delay(attempt))
        attempt += 1


def _reason(exc: BaseException) -> str:
    """A readable cause, the first real one inside task-group wrappers."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
