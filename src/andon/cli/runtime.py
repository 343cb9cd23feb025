"""Running parts of andon side by side in one process: ingestion, the API, a live pulse.

The CLI commands (``demo``, ``serve``) assemble these; each part starts and stops cleanly
and in order, so Ctrl-C never leaves a batch unwritten or a broker behind.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

import uvicorn

from andon.api import create_app
from andon.config import Settings
from andon.errors import AndonError
from andon.historian import DuckDBHistorian
from andon.ingest import Pipeline
from andon.signals import Record, StateChange, state_category

__all__ = ["ApiServer", "PlantPulse", "RateMeter"]

_logger = logging.getLogger(__name__)
_PRODUCING = frozenset({10000, 20000})


@dataclass
class PlantPulse:
    """A live consumer of the ingest stream: which machines are in which state right now."""

    states: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def publish(self, records: list[Record]) -> None:
        with self._lock:
            for record in records:
                if isinstance(record, StateChange):
                    self.states[record.asset] = record.code

    def running(self) -> tuple[int, int]:
        """(machines producing, machines seen)."""
        with self._lock:
            codes = list(self.states.values())
        return sum(state_category(c) in _PRODUCING for c in codes), len(codes)


class RateMeter:
    """Messages per second between two readings of a counter."""

    def __init__(self) -> None:
        self._last = (time.monotonic(), 0)

    def rate(self, count: int) -> float:
        now = time.monotonic()
        then, before = self._last
        self._last = (now, count)
        return (count - before) / max(now - then, 1e-9)


class ApiServer:
    """uvicorn serving the API and dashboard from a background thread."""

    def __init__(
        self, settings: Settings, historian: DuckDBHistorian, pipeline: Pipeline | None = None
    ) -> None:
        app = create_app(
            settings,
            historian=historian,
            ingest_stats=None if pipeline is None else pipeline.stats,
        )
        config = uvicorn.Config(
            app,
            host=settings.http_host,
            port=settings.http_port,
            log_level="warning",
            timeout_graceful_shutdown=3,  # open live streams must not hold Ctrl-C hostage
        )
        self.url = f"http://{settings.http_host}:{settings.http_port}"
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="andon-api", daemon=True)

    def start(self, timeout_s: float = 15.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise AndonError(f"the API could not start on {self.url} (port in use?)")
            time.sleep(0.05)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
