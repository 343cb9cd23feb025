"""Store-and-forward: batches the historian could not take wait on disk, in arrival order.

Each batch is one file named by a rising sequence number, written to a temporary name,
flushed to the disk and renamed, so a crash leaves either the whole batch or nothing. The
ingestion writer spills here while the historian is unavailable and drains the oldest file
first once it is back; files left by a previous run are drained after a restart. A file that
can no longer be read (a damaged disk) moves to ``corrupt/``; a batch the historian refuses
for good (not an outage) moves to ``quarantine/`` with the reason beside it. Nothing is
deleted until the historian has committed it.

>>> import tempfile
>>> from andon.signals import Metrics
>>> folder = tempfile.TemporaryDirectory()
>>> buffer = DiskBuffer(folder.name)
>>> batch = WriteBatch.empty()
>>> batch.metrics.append(Metrics("acme/p1/a/l1/m1", 1763700000000, {"temp_c": 21.5}, 7))
>>> buffer.push(batch, [], {"mqtt": 1})
1
>>> len(buffer), buffer.records
(1, 1)
>>> seq, again, rejected, sources = buffer.peek()
>>> again.metrics
[Metrics(asset='acme/p1/a/l1/m1', ts_ms=1763700000000, values={'temp_c': 21.5}, seq=7)]
>>> buffer.pop(seq); len(buffer)
0
>>> folder.cleanup()
"""

from __future__ import annotations

import base64
import logging
import os
import re
import threading
import time
from pathlib import Path
from typing import Any

import orjson

from andon.historian import WriteBatch
from andon.signals import CountUpdate, Event, Metrics, Rejected, Sample, StateChange

__all__ = ["DiskBuffer"]

_logger = logging.getLogger(__name__)
_SUFFIX = ".batch"
_NAME = re.compile(r"^(\d{16})-(\d+)$")  # sequence number, records
_FORMAT = 1


class DiskBuffer:
    """An on-disk FIFO of write batches in ``directory`` (created if needed).

    ``max_bytes`` bounds the disk used: beyond it :meth:`full` is true and the pipeline
    stops spilling and pushes back on its sources instead.
    """

    def __init__(self, directory: str | Path, *, max_bytes: int = 4 * 1024**3) -> None:
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._files: dict[int, tuple[int, int, float]] = {}  # seq -> (records, bytes, mtime)
        self._records = self._bytes = 0
        for path in sorted(self.directory.glob(f"*{_SUFFIX}")):
            name = _NAME.match(path.stem)
            if name is None:
                _logger.warning("ignoring %s: not a batch file of andon", path)
                continue
            self._add(int(name[1]), int(name[2]), *_size_and_mtime(path))
        for leftover in self.directory.glob("*.tmp"):  # a crash while writing: never renamed
            leftover.unlink()
        self._next = max(self._files, default=0) + 1
        if self._files:
            _logger.warning(
                "store-and-forward buffer %s holds %d batches from an earlier run; draining",
                self.directory,
                len(self._files),
            )

    def __len__(self) -> int:
        return len(self._files)

    @property
    def records(self) -> int:
        """Records waiting on disk."""
        return self._records

    @property
    def bytes(self) -> int:
        """Disk space used by waiting batches."""
        return self._bytes

    def full(self) -> bool:
        return self.bytes >= self.max_bytes

    def oldest_age_s(self) -> float:
        """Seconds the oldest waiting batch has waited (0 when empty)."""
        with self._lock:
            oldest = min((mtime for _, _, mtime in self._files.values()), default=None)
        return 0.0 if oldest is None else max(0.0, time.time() - oldest)

    def push(
        self, batch: WriteBatch, rejected: list[Rejected], sources: dict[str, int] | None = None
    ) -> int:
        """Append a batch durably (on disk when this returns); returns its sequence number.

        ``sources`` (samples per source) travels with the batch for the counters.
        """
        data = orjson.dumps(_encode(batch, rejected, sources or {}))
        records = len(batch) + len(rejected)
        with self._lock:
            seq = self._next
            self._next += 1
        final = self.directory / f"{seq:016d}-{records}{_SUFFIX}"
        _write_durably(final, data)
        with self._lock:
            self._add(seq, records, len(data), time.time())
        return seq

    def peek(self) -> tuple[int, WriteBatch, list[Rejected], dict[str, int]]:
        """The oldest batch (seq, batch, rejected, sources); ``IndexError`` when empty."""
        while True:
            with self._lock:
                if not self._files:
                    raise IndexError("the buffer is empty")
                seq = min(self._files)
            path = self._path(seq)
            try:
                return (seq, *_decode(orjson.loads(path.read_bytes())))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                self._set_aside(seq, "corrupt", f"unreadable: {exc}")

    def pop(self, seq: int) -> None:
        """Forget batch ``seq`` once the historian has committed it."""
        self._path(seq).unlink(missing_ok=True)
        with self._lock:
            self._forget(seq)

    def quarantine(self, seq: int, reason: str) -> None:
        """Move batch ``seq`` aside: the historian refuses it for good (kept for a person)."""
        self._set_aside(seq, "quarantine", reason)

    def _set_aside(self, seq: int, folder: str, reason: str) -> None:
        path = self._path(seq)
        target = self.directory / folder
        target.mkdir(exist_ok=True)
        if path.exists():
            path.replace(target / path.name)
        (target / f"{path.name}.reason.txt").write_text(reason + "\n", encoding="utf-8")
        _logger.error("batch %s moved to %s: %s", path.name, target, reason)
        with self._lock:
            self._forget(seq)

    def _add(self, seq: int, records: int, size: int, mtime: float) -> None:
        self._files[seq] = (records, size, mtime)
        self._records += records
        self._bytes += size

    def _forget(self, seq: int) -> None:
        records, size, _ = self._files.pop(seq, (0, 0, 0.0))
        self._records -= records
        self._bytes -= size

    def _path(self, seq: int) -> Path:
        with self._lock:
            records = self._files.get(seq, (0, 0, 0.0))[0]
        return self.directory / f"{seq:016d}-{records}{_SUFFIX}"


def _size_and_mtime(path: Path) -> tuple[int, float]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime


def _write_durably(path: Path, data: bytes) -> None:
    temporary = path.with_suffix(".tmp")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    temporary.replace(path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself must survive a power cut
    finally:
        os.close(directory)


def _encode(batch: WriteBatch, rejected: list[Rejected], sources: dict[str, int]) -> dict[str, Any]:
    return {
        "format": _FORMAT,
        "sources": sources,
        "metrics": [(m.asset, m.ts_ms, m.values, m.seq) for m in batch.metrics],
        "samples": [(s.asset, s.tag, s.ts_ms, s.value, s.seq) for s in batch.samples],
        "states": [(s.asset, s.ts_ms, s.code, s.reason, s.seq) for s in batch.states],
        "counts": [(c.asset, c.ts_ms, c.total, c.good, c.scrap, c.seq) for c in batch.counts],
        "events": [(e.asset, e.ts_ms, e.kind, e.data, e.seq) for e in batch.events],
        "rejected": [
            (r.received_ms, r.source, r.topic, base64.b64encode(r.payload).decode(), r.error)
            for r in rejected
        ],
    }


def _decode(data: dict[str, Any]) -> tuple[WriteBatch, list[Rejected], dict[str, int]]:
    if data.get("format") != _FORMAT:
        raise ValueError(f"unknown buffer format {data.get('format')!r}")
    batch = WriteBatch(
        [Metrics(*row) for row in data["metrics"]],
        [Sample(*row) for row in data["samples"]],
        [StateChange(*row) for row in data["states"]],
        [CountUpdate(*row) for row in data["counts"]],
        [Event(*row) for row in data["events"]],
    )
    rejected = [
        Rejected(received, source, topic, base64.b64decode(payload), error)
        for received, source, topic, payload, error in data["rejected"]
    ]
    return batch, rejected, dict(data["sources"])
