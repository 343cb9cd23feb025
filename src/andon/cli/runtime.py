"""Running parts of andon side by side in one process: ingestion, the API, a live pulse,
live scoring.

The CLI commands (``demo``, ``serve``) assemble these; each part starts and stops cleanly
and in order, so Ctrl-C never leaves a batch unwritten or a broker behind.

Live scoring needs the records as they are written. ``andon demo`` hands the scorer its
ingest stream. ``andon serve`` runs no ingestion: :class:`HistorianTail` reads what another
process (``andon ingest``) writes into the same historian every few seconds and scores it.
That needs a historian two processes can open at once, PostgreSQL; a DuckDB file is locked
by the process that writes it, so ``andon serve`` over DuckDB scores the history already on
file (the last minutes at start) and nothing newer.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn

from andon.api import create_app
from andon.api.ml import publish_alert
from andon.config import MlSettings, Settings
from andon.errors import AndonError
from andon.historian import DuckDBHistorian, Historian
from andon.ingest import Pipeline
from andon.ml.learn import learn_from_history, recent_records
from andon.ml.live import LiveScorer, ScoringConfig
from andon.signals import Record, RecordStream, StateChange, state_category

__all__ = [
    "ApiServer",
    "GatedStream",
    "HistorianTail",
    "PlantPulse",
    "RateMeter",
    "alike_machines",
    "live_scorer",
]

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


class GatedStream:
    """Hands records to ``stream`` once :meth:`open` (e.g. live scoring after a backfill)."""

    def __init__(self, stream: RecordStream | None) -> None:
        self.stream = stream
        self._open = threading.Event()

    def open(self) -> None:
        self._open.set()

    def publish(self, records: list[Record]) -> None:
        if self.stream is not None and self._open.is_set():
            self.stream.publish(records)


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
    """uvicorn serving the API and dashboard from a background thread.

    With a live ``scorer``, its alerts go out on the API's live stream as they happen.
    """

    def __init__(
        self,
        settings: Settings,
        historian: DuckDBHistorian,
        pipeline: Pipeline | None = None,
        scorer: LiveScorer | None = None,
    ) -> None:
        app = create_app(
            settings,
            historian=historian,
            ingest_stats=None if pipeline is None else pipeline.stats,
        )
        if scorer is not None:
            app.state.scorer = scorer
            scorer.book.subscribe(lambda alert: publish_alert(app, alert))
        self.app = app
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


_HOUR_MS = 3_600_000
LEARN_WINDOW_MS = 24 * _HOUR_MS  # the history models learn from: the last day at most
REPLAY_MS = 15 * 60_000  # scored at once when scoring starts: a trend, warm detectors


def live_scorer(settings: Settings, historian: Historian) -> LiveScorer | None:
    """The scorer the settings' ``ml:`` section asks for: None when it attaches no model,
    learns none and runs no anomaly detector (nothing to score)."""
    ml = settings.ml
    if not (ml.failure or ml.rul or ml.learn or ml.anomaly):
        return None
    return LiveScorer(historian, ScoringConfig.from_settings(ml))


def alike_machines(historian: Historian) -> dict[str, list[str]]:
    """Machines grouped by the tags they measure (alike machines share models), each group
    named by its machines' common name without numbers (``cnc1``, ``cnc2`` -> ``cnc``).

    >>> from andon.historian import DuckDBHistorian
    >>> h = DuckDBHistorian(":memory:")
    >>> h.define_tags([("a/p/m/l/cnc1", "rpm", None), ("a/p/m/l/cnc2", "rpm", None),
    ...                ("a/p/m/l/press1", "force", None)])
    >>> alike_machines(h)
    {'cnc': ['a/p/m/l/cnc1', 'a/p/m/l/cnc2'], 'press': ['a/p/m/l/press1']}
    """
    tags: dict[str, set[str]] = {}
    for tag in historian.tags():
        if not tag.name.startswith("ml_"):
            tags.setdefault(tag.asset, set()).add(tag.name)
    by_tags: dict[frozenset[str], list[str]] = {}
    for asset in sorted(tags):
        by_tags.setdefault(frozenset(tags[asset]), []).append(asset)
    groups: dict[str, list[str]] = {}
    for assets in by_tags.values():
        stems = {re.sub(r"[\d_-]+$", "", a.rsplit("/", 1)[-1]) or "machine" for a in assets}
        name = stems.pop() if len(stems) == 1 else "machines"
        while name in groups:
            name += "x"
        groups[name] = assets
    return dict(sorted(groups.items()))


class HistorianTail:
    """Scores what other processes write into the historian (``andon serve``'s live scoring).

    On start, the models are learned (or loaded: :func:`andon.ml.learn.learn_from_history`)
    when the settings ask for it, and attached; the last ``REPLAY_MS`` of history are scored.
    Then every ``every_s`` the producing metrics newer than the last ones read, up to
    ``lag_ms`` before the newest time on file (records still in flight land first), go to
    the scorer with each machine's current state.
    """

    def __init__(
        self,
        historian: Historian,
        scorer: LiveScorer,
        *,
        learn: bool = False,
        models_dir: Path | None = None,
        every_s: float = 5.0,
        lag_ms: int = 2_000,
        say: Callable[[str], None] = _logger.info,
    ) -> None:
        self.historian = historian
        self.scorer = scorer
        self.learn = learn
        self.models_dir = models_dir
        self.every_s = every_s
        self.lag_ms = lag_ms
        self.say = say
        self.read_to_ms: int | None = None  # metrics before this have been scored
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="andon-ml-tail", daemon=True)

    @classmethod
    def from_settings(
        cls, historian: Historian, scorer: LiveScorer, ml: MlSettings, say: Callable[[str], None]
    ) -> HistorianTail:
        """The tail the ``ml:`` settings ask for: learning or not, polling every ``every_ms``."""
        return cls(
            historian,
            scorer,
            learn=ml.learn,
            models_dir=Path(ml.models_dir),
            every_s=max(1.0, ml.every_ms / 1000),
            say=say,
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=60)  # it uses the historian the caller closes next

    def poll(self) -> int:
        """Score the metrics written since the last poll; returns how many records."""
        latest = self.historian.latest_ts()
        if latest is None:
            return 0
        end = latest - self.lag_ms + 1
        start = end - REPLAY_MS if self.read_to_ms is None else self.read_to_ms
        if end <= start:
            return 0
        assets = sorted({t.asset for t in self.historian.tags() if not t.name.startswith("ml_")})
        # The state changes in the window too, so a machine that restarts in it is scored.
        records: list[Record] = [
            s
            for asset in assets
            for s in self.historian.state_timeline(asset, start, end)
            if start <= s.ts_ms < end
        ]
        records += recent_records(self.historian, assets, start, end)  # states at end: last
        self.scorer.publish(sorted(records, key=lambda r: r.ts_ms))
        self.read_to_ms = end
        return len(records)

    def _run(self) -> None:
        try:
            if self.learn and self.models_dir is not None:
                self._learn(self.models_dir)
            while not self._stop.is_set():
                self.poll()
                self._stop.wait(self.every_s)
        except AndonError as exc:  # a closing or unreachable historian: stop scoring, say why
            self.say(f"live scoring stopped: {exc}")

    def _learn(self, models_dir: Path) -> None:
        end = self.historian.latest_ts()
        if end is None:
            return
        started = time.monotonic()
        learned = learn_from_history(
            self.historian,
            alike_machines(self.historian),
            models_dir,
            end + 1 - LEARN_WINDOW_MS,
            end + 1,
            stop=self._stop,
        )
        config = self.scorer.config
        self.scorer.attach(
            failure=(*config.failure, *learned.failure),
            rul=(*config.rul, *learned.rul),
            models=learned.models,
        )
        self.say(
            f"live scoring: learned in {time.monotonic() - started:.0f} s: "
            f"{'; '.join(learned.notes) or 'no machines'}"
        )
