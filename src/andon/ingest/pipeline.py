"""The ingestion pipeline: validate -> dedupe -> batch -> write, with back-pressure.

Any thread may :meth:`Pipeline.submit` raw messages (an MQTT client's network thread, a
backfill) or :meth:`Pipeline.submit_records` records a connector decoded itself (OPC UA,
Modbus, Sparkplug B). Messages are decoded on the caller's thread and collected into a
batch; one writer thread takes full batches, or the open batch after ``max_delay_s``, in
order. When ``queue_batches`` batches wait, submitters block: that pushes back on the
broker instead of growing memory. Rejected messages go to the historian's dead letters with
their raw bytes and the reason.

When the historian is unavailable, batches spill to a :class:`~andon.ingest.buffer.DiskBuffer`
(store-and-forward) and drain oldest first once it is back; new batches queue behind the
backlog so order is kept. Without a buffer the writer holds the batch and retries with
back-off, and back-pressure does the rest.

A message may come with an ``ack``: a callable the writer calls once the message's batch is
committed to the historian or written durably to the disk buffer, never before (the MQTT
source sends its QoS 1 PUBACK so, and the broker redelivers whatever a killed process had
not acknowledged). Acks go out in the order the messages came, duplicates and dead letters
included.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from andon.config import IngestSettings
from andon.errors import HistorianError, HistorianUnavailable, PayloadRejected
from andon.historian import Historian, WriteBatch
from andon.ingest.buffer import DiskBuffer
from andon.ingest.decode import Decoder
from andon.ingest.dedupe import SeenWindow
from andon.ingest.stats import IngestStats
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

__all__ = ["IngestStats", "Pipeline", "ReplayResult"]

_logger = logging.getLogger(__name__)
Ack = Callable[[], object]
_RETRY_MIN_S = 0.2
_RETRY_MAX_S = 10.0

_LISTS: dict[type, str] = {
    Metrics: "metrics",
    Sample: "samples",
    StateChange: "states",
    CountUpdate: "counts",
    Event: "events",
}


class _Pending:
    """A batch being filled: records by kind, dead letters, samples per source, acks."""

    __slots__ = ("acks", "batch", "count", "lists", "rejected", "samples_by_source")

    def __init__(
        self,
        batch: WriteBatch | None = None,
        rejected: list[Rejected] | None = None,
        samples_by_source: dict[str, int] | None = None,
    ) -> None:
        self.batch = batch or WriteBatch.empty()
        self.rejected = rejected or []
        self.samples_by_source = samples_by_source or {}
        self.count = len(self.batch) + len(self.rejected)
        self.acks: list[Ack] = []  # to call once the batch is committed or on disk
        self.lists: dict[type, list[Any]] = {
            kind: getattr(self.batch, name) for kind, name in _LISTS.items()
        }

    def __len__(self) -> int:
        return self.count

    def add(self, record: Record, source: str) -> None:
        # The hot path: one dict lookup per record, samples counted per source.
        self.lists[type(record)].append(record)
        self.count += 1
        kind = type(record)
        samples = len(record.values) if kind is Metrics else kind is Sample  # type: ignore[union-attr]
        if samples:
            self.samples_by_source[source] = self.samples_by_source.get(source, 0) + samples

    def reject(self, letter: Rejected) -> None:
        self.rejected.append(letter)
        self.count += 1


@dataclass(frozen=True)
class ReplayResult:
    """Dead letters that went through on replay, and those rejected again (with reasons)."""

    accepted: list[Rejected]
    still_rejected: list[Rejected]


class Pipeline:
    """Batches accepted records into the historian from one writer thread."""

    def __init__(
        self,
        historian: Historian,
        settings: IngestSettings | None = None,
        *,
        streams: list[RecordStream] | None = None,
        buffer: DiskBuffer | None = None,
    ) -> None:
        self.settings = settings or IngestSettings()
        self._batch_size = self.settings.batch_size
        self.stats = IngestStats()
        self.buffer = buffer
        self._historian = historian
        self._streams = list(streams or [])
        self._decoder = Decoder()
        self._seen = SeenWindow()
        self._cond = threading.Condition(threading.Lock())  # a plain lock: cheaper than RLock
        self._open = _Pending()
        self._ready: deque[_Pending] = deque()
        self._in_flight = 0
        self._stopping = False
        self._writer: threading.Thread | None = None
        self._retry_delay = _RETRY_MIN_S
        self._retry_at = 0.0
        self._down_since: float | None = None
        self._refresh_buffer_stats()

    def __enter__(self) -> Pipeline:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def start(self) -> None:
        """Start the writer thread."""
        self._stopping = False
        self._writer = threading.Thread(target=self._write_loop, name="andon-writer", daemon=True)
        self._writer.start()

    # -- intake (any thread) ----------------------------------------------------------------

    def submit(
        self, topic: str, payload: bytes, *, source: str = "mqtt", ack: Ack | None = None
    ) -> bool:
        """Accept one raw message; False when it was dead-lettered. Blocks while behind.

        ``ack`` is called (on the writer thread) once the message is safe: committed, kept
        as a dead letter, known as a duplicate of a safe one, or spilled to disk.
        """
        try:
            record = self._decoder.decode(topic, payload)
        except PayloadRejected as exc:
            self.reject(source, topic, payload, exc.reason, ack=ack)
            return False
        except Exception as exc:  # a decoder bug: keep the message, say what happened
            _logger.exception("decoding a message on %s failed", topic)
            self.reject(source, topic, payload, f"decoder failed: {exc!r}", ack=ack)
            return False
        with self._cond:
            counters = self.stats.by_source.get(source) or self.stats.source(source)
            counters.received += 1
            self.stats.received += 1
            if ack is not None:
                self._open.acks.append(ack)  # a duplicate too: acks keep the arrival order
            if not self._seen.is_new(topic, record.seq, record.ts_ms):
                counters.duplicates += 1
                self.stats.duplicates += 1
                return True
            counters.accepted += 1
            self.stats.accepted += 1
            self._open.add(record, source)
            if self._open.count >= self._batch_size:
                self._enqueue_open(wait=True)
        return True

    def submit_records(self, records: Iterable[Record], *, source: str) -> None:
        """Accept records a connector decoded itself; duplicates (same seq and ts) drop."""
        with self._cond:
            counters = self.stats.source(source)
            for record in records:
                counters.received += 1
                self.stats.received += 1
                key = f"{source}|{record.asset}|{type(record).__name__}"
                if not self._seen.is_new(key, record.seq, record.ts_ms):
                    counters.duplicates += 1
                    self.stats.duplicates += 1
                    continue
                counters.accepted += 1
                self.stats.accepted += 1
                self._open.add(record, source)
            if len(self._open) >= self.settings.batch_size:
                self._enqueue_open(wait=True)

    def reject(
        self, source: str, topic: str, payload: bytes, reason: str, *, ack: Ack | None = None
    ) -> None:
        """Dead-letter a message with its raw bytes and the reason (``ack``: see submit)."""
        now_ms = int(time.time() * 1000)
        with self._cond:
            if ack is not None:
                self._open.acks.append(ack)
            counters = self.stats.source(source)
            counters.received += 1
            counters.rejected += 1
            self.stats.received += 1
            self.stats.rejected += 1
            self._open.reject(Rejected(now_ms, source, topic, payload, reason))
            if len(self._open) >= self.settings.batch_size:
                self._enqueue_open(wait=True)

    def flush(self) -> None:
        """Return once everything submitted so far is in the historian or spilled to disk."""
        with self._cond:
            self._enqueue_open(wait=False)
            self._cond.wait_for(lambda: not self._ready and not self._in_flight)

    def drain(self, timeout_s: float) -> bool:
        """Flush, then wait until the disk buffer is empty; False if it is not by then."""
        self.flush()
        deadline = time.monotonic() + timeout_s
        while self.buffer is not None and len(self.buffer):
            if time.monotonic() > deadline:
                return False
            with self._cond:
                self._cond.notify_all()  # wake the writer to retry now
            time.sleep(0.02)
        return True

    def close(self) -> None:
        """Flush and stop the writer thread (a backlog stays on disk for the next run)."""
        if self._writer is None:
            return
        self.flush()
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._writer.join()
        self._writer = None

    def replay(self, letters: list[Rejected]) -> ReplayResult:
        """Submit dead letters again (oldest first); those accepted leave the dead letters.

        For letters rejected for a reason that has since been fixed (a decoder, a mapping).
        Those still rejected stay where they are, with the new reason in the result.
        """
        accepted: list[Rejected] = []
        still: list[Rejected] = []
        for letter in sorted(letters, key=lambda r: r.received_ms):
            try:
                record = self._decoder.decode(letter.topic, letter.payload)
            except PayloadRejected as exc:
                still.append(
                    Rejected(
                        letter.received_ms, letter.source, letter.topic, letter.payload, exc.reason
                    )
                )
                continue
            self.submit_records([record], source=letter.source)
            accepted.append(letter)
        self.flush()
        self._historian.delete_dead_letters(accepted)
        return ReplayResult(accepted, still)

    def _enqueue_open(self, *, wait: bool) -> None:
        """Hand the open batch to the writer (lock held); optionally wait for room."""
        if len(self._open):
            self._ready.append(self._open)
            self._open = _Pending()
            self._cond.notify_all()
        while wait and len(self._ready) > self.settings.queue_batches and not self._stopping:
            self._cond.wait()  # back-pressure: the caller (a network thread) waits

    # -- the writer thread ------------------------------------------------------------------

    def _write_loop(self) -> None:
        while True:
            pending = self._next_batch()
            if pending is None:
                if self._stopping:
                    return
            else:
                try:
                    self._accept(pending)
                    self._acknowledge(pending)
                except Exception:  # a bug must not stop the writer: later batches still land
                    self.stats.write_failures += 1  # (unacknowledged: the broker keeps them)
                    _logger.exception("writing a batch failed")
                finally:
                    with self._cond:
                        self._in_flight -= 1
                        self._cond.notify_all()
            self._drain_some()

    def _acknowledge(self, pending: _Pending) -> None:
        """The batch is safe (committed, on disk, or refused for good): ack its messages."""
        acks, pending.acks = pending.acks, []
        for ack in acks:
            ack()
        self.stats.acknowledged += len(acks)

    def _next_batch(self) -> _Pending | None:
        with self._cond:
            if not self._ready and not self._stopping:
                self._cond.wait(self._wait_s())
            if not self._ready:
                self._enqueue_open(wait=False)
            if not self._ready:
                return None
            self._in_flight += 1
            self._cond.notify_all()
            return self._ready.popleft()

    def _wait_s(self) -> float:
        if self.buffer is None or not len(self.buffer):
            return self.settings.max_delay_s
        return max(0.0, min(self.settings.max_delay_s, self._retry_at - time.monotonic()))

    def _accept(self, pending: _Pending) -> None:
        if self.buffer is None:
            self._write_holding(pending)
            return
        if not len(self.buffer) and self._down_since is None:
            try:
                self._write(pending)
                return
            except HistorianUnavailable as exc:
                self._outage(exc)
            except HistorianError as exc:  # refused for good: kept aside on disk, not dropped
                self.stats.write_failures += 1
                self.buffer.quarantine(self._spill(pending), str(exc))
                self.stats.quarantined_batches += 1
                self._refresh_buffer_stats()
                return
        self._spill(pending)

    def _write_holding(self, pending: _Pending) -> None:
        """No disk buffer: keep the batch and retry; the full queue pushes back."""
        while True:
            try:
                self._write(pending)
                self._recovered()
                return
            except HistorianUnavailable as exc:
                self._outage(exc)
                time.sleep(self._retry_delay)
            except HistorianError:
                self.stats.write_failures += 1
                _logger.exception("historian rejected a batch of %d records", len(pending))
                return

    def _spill(self, pending: _Pending) -> int:
        buffer = self.buffer
        assert buffer is not None
        while buffer.full():  # the disk budget is spent: hold the batch, push back
            self._drain_some()
            if buffer.full():
                time.sleep(min(self._retry_delay, 1.0))
        seq = buffer.push(pending.batch, pending.rejected, pending.samples_by_source)
        self.stats.spilled_batches += 1
        self._refresh_buffer_stats()
        return seq

    def _drain_some(self) -> None:
        """Write buffered batches, oldest first, for up to ``max_delay_s``."""
        buffer = self.buffer
        if buffer is None or not len(buffer) or time.monotonic() < self._retry_at:
            return
        deadline = time.monotonic() + self.settings.max_delay_s
        while len(buffer) and time.monotonic() < deadline:
            seq, batch, rejected, sources = buffer.peek()
            try:
                self._write(_Pending(batch, rejected, sources))
            except HistorianUnavailable as exc:
                self._outage(exc)
                break
            except HistorianError as exc:
                buffer.quarantine(seq, str(exc))
                self.stats.quarantined_batches += 1
                continue
            buffer.pop(seq)
            self.stats.drained_batches += 1
            self._recovered()
        self._refresh_buffer_stats()

    def _outage(self, exc: HistorianUnavailable) -> None:
        self.stats.write_retries += 1
        self.stats.historian_available = False
        if self._down_since is None:
            self._down_since = time.monotonic()
            self._retry_delay = _RETRY_MIN_S
            _logger.warning("historian unavailable, retrying with back-off: %s", exc)
        else:
            self._retry_delay = min(self._retry_delay * 2, _RETRY_MAX_S)
        self._retry_at = time.monotonic() + self._retry_delay

    def _recovered(self) -> None:
        if self._down_since is not None:
            _logger.warning(
                "historian available again after %.1f s", time.monotonic() - self._down_since
            )
            self._down_since = None
            self._retry_at = 0.0
            self.stats.historian_available = True

    def _refresh_buffer_stats(self) -> None:
        buffer, stats = self.buffer, self.stats
        if buffer is not None:
            stats.buffered_batches = len(buffer)
            stats.buffered_records = buffer.records
            stats.buffered_bytes = buffer.bytes
            stats.lag_s = round(buffer.oldest_age_s(), 3)

    def _write(self, pending: _Pending) -> None:
        written = self._historian.write(pending.batch) if len(pending.batch) else 0
        self._historian.write_dead_letters(pending.rejected)
        stats = self.stats
        stats.samples_written += written
        stats.records_written += len(pending.batch)
        stats.batches_written += 1
        now_ms = int(time.time() * 1000)
        for source, samples in pending.samples_by_source.items():
            counters = stats.source(source)
            counters.samples_written += samples
            counters.last_written_ms = now_ms
        if self._streams:
            records = _records_of(pending.batch)
            for stream in self._streams:
                stream.publish(records)


def _records_of(batch: WriteBatch) -> list[Record]:
    records: list[Record] = []
    for name in _LISTS.values():
        records.extend(getattr(batch, name))
    return records
