"""The ingestion pipeline: validate -> dedupe -> batch -> write, with back-pressure.

Any thread may :meth:`Pipeline.submit` raw messages (an MQTT client's network thread, a
backfill). Messages are decoded on the caller's thread, collected into a batch, and handed
to one writer thread through a bounded queue: when the historian falls behind, ``submit``
blocks, which pushes back on the broker instead of growing memory. Rejected messages are
kept with their raw bytes and reason in the historian's dead letters.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field

from andon.config import IngestSettings
from andon.errors import HistorianError, HistorianUnavailable, PayloadRejected
from andon.historian import Historian, WriteBatch
from andon.ingest.decode import Decoder
from andon.ingest.dedupe import SeenWindow
from andon.signals import (
    CountUpdate,
    Event,
    Metrics,
    Record,
    RecordStream,
    Rejected,
    Sample,
    StateChange,
)

__all__ = ["IngestStats", "Pipeline"]

_logger = logging.getLogger(__name__)
_STOP = object()
_RETRY_MAX_S = 10.0

_LISTS: dict[type, str] = {
    Metrics: "metrics",
    Sample: "samples",
    StateChange: "states",
    CountUpdate: "counts",
    Event: "events",
}


@dataclass
class IngestStats:
    """Counters since start; read them for rates and health."""

    received: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    samples_written: int = 0
    records_written: int = 0
    batches_written: int = 0
    write_retries: int = 0
    write_failures: int = 0
    by_source: dict[str, int] = field(default_factory=dict)


@dataclass
class _Pending:
    batch: WriteBatch = field(default_factory=WriteBatch.empty)
    rejected: list[Rejected] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.batch) + len(self.rejected)


class Pipeline:
    """Batches accepted records into the historian from one writer thread."""

    def __init__(
        self,
        historian: Historian,
        settings: IngestSettings | None = None,
        *,
        streams: list[RecordStream] | None = None,
    ) -> None:
        self.settings = settings or IngestSettings()
        self.stats = IngestStats()
        self._historian = historian
        self._streams = list(streams or [])
        self._decoder = Decoder()
        self._seen = SeenWindow()
        self._lock = threading.Lock()
        self._open = _Pending()
        self._queue: queue.Queue[object] = queue.Queue(maxsize=self.settings.queue_batches)
        self._writer: threading.Thread | None = None

    def __enter__(self) -> Pipeline:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def start(self) -> None:
        """Start the writer thread."""
        self._writer = threading.Thread(target=self._write_loop, name="andon-writer", daemon=True)
        self._writer.start()

    def submit(self, topic: str, payload: bytes, *, source: str = "mqtt") -> None:
        """Accept one raw message; blocks while the writer is behind (back-pressure)."""
        try:
            record = self._decoder.decode(topic, payload)
        except PayloadRejected as exc:
            self._reject(source, topic, payload, exc.reason)
            return
        full: _Pending | None = None
        with self._lock:
            stats = self.stats
            stats.received += 1
            if not self._seen.is_new(topic, record.seq, record.ts_ms):
                stats.duplicates += 1
                return
            stats.accepted += 1
            getattr(self._open.batch, _LISTS[type(record)]).append(record)
            if len(self._open) >= self.settings.batch_size:
                full, self._open = self._open, _Pending()
        if full is not None:
            self._queue.put(full)

    def flush(self) -> None:
        """Write everything submitted so far; returns when it is in the historian."""
        self._hand_over_open()
        self._queue.join()

    def close(self) -> None:
        """Flush and stop the writer thread."""
        if self._writer is None:
            return
        self.flush()
        self._queue.put(_STOP)
        self._writer.join()
        self._writer = None

    def _reject(self, source: str, topic: str, payload: bytes, reason: str) -> None:
        rejected = Rejected(int(time.time() * 1000), source, topic, payload, reason)
        with self._lock:
            self.stats.received += 1
            self.stats.rejected += 1
            self._open.rejected.append(rejected)

    def _hand_over_open(self) -> None:
        with self._lock:
            pending, self._open = self._open, _Pending()
        if len(pending):
            self._queue.put(pending)

    def _write_loop(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=self.settings.max_delay_s)
            except queue.Empty:
                self._hand_over_open()
                continue
            try:
                if item is _STOP:
                    return
                assert isinstance(item, _Pending)
                self._write_with_retry(item)
            except Exception:  # a bug must not stop the writer: later batches still land
                self.stats.write_failures += 1
                _logger.exception("writing a batch failed")
            finally:
                self._queue.task_done()

    def _write_with_retry(self, pending: _Pending) -> None:
        delay = 0.2
        while True:
            try:
                self._write(pending)
                return
            except HistorianUnavailable as exc:
                # Keep the batch and block the queue: back-pressure, never a silent drop.
                self.stats.write_retries += 1
                if self.stats.write_retries == 1 or delay >= _RETRY_MAX_S:
                    _logger.warning("historian unavailable, retrying in %.1f s: %s", delay, exc)
                time.sleep(delay)
                delay = min(delay * 2, _RETRY_MAX_S)
            except HistorianError:
                self.stats.write_failures += 1
                _logger.exception("historian rejected a batch of %d records", len(pending))
                return

    def _write(self, pending: _Pending) -> None:
        written = self._historian.write(pending.batch) if len(pending.batch) else 0
        self._historian.write_dead_letters(pending.rejected)
        stats = self.stats
        stats.samples_written += written
        stats.records_written += len(pending.batch)
        stats.batches_written += 1
        if self._streams:
            records = _records_of(pending.batch)
            for stream in self._streams:
                stream.publish(records)


def _records_of(batch: WriteBatch) -> list[Record]:
    records: list[Record] = []
    for name in _LISTS.values():
        records.extend(getattr(batch, name))
    return records
