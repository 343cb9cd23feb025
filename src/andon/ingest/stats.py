"""Counters of ingestion, overall and per source, and their Prometheus text exposition.

The pipeline updates the counters in place (cheap integer additions on the hot path); the
API reads them as JSON (:meth:`IngestStats.to_dict`) or as Prometheus text
(:func:`prometheus_text`).

>>> stats = IngestStats()
>>> stats.source("mqtt").received += 3
>>> print(prometheus_text(stats).splitlines()[2])
andon_ingest_messages_received_total{source="mqtt"} 3
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["IngestStats", "SourceStats", "prometheus_text"]


@dataclass(slots=True)
class SourceStats:
    """Counters of one source (``mqtt``, ``sparkplug``, ``opcua``, ``modbus``, ``backfill``)."""

    received: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    samples_written: int = 0
    last_written_ms: int | None = None  # wall clock of the last write with its samples


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
    spilled_batches: int = 0
    drained_batches: int = 0
    quarantined_batches: int = 0
    acknowledged: int = 0  # messages acknowledged to the broker once safe
    buffered_batches: int = 0
    buffered_records: int = 0
    buffered_bytes: int = 0
    historian_available: bool = True
    lag_s: float = 0.0  # age of the oldest record not yet in the historian (buffered)
    started_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    by_source: dict[str, SourceStats] = field(default_factory=dict)

    def source(self, name: str) -> SourceStats:
        """The counters of source ``name``, created on first use."""
        counters = self.by_source.get(name)
        if counters is None:
            counters = self.by_source[name] = SourceStats()
        return counters

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy (a snapshot: the pipeline keeps counting)."""
        data = asdict(self)
        data["by_source"] = {name: asdict(s) for name, s in list(self.by_source.items())}
        return data


# (metric name, help, type, attribute) for the totals and gauges of the whole pipeline.
_GLOBAL: tuple[tuple[str, str, str, str], ...] = (
    ("records_written_total", "Records committed to the historian", "counter", "records_written"),
    ("batches_written_total", "Batches committed to the historian", "counter", "batches_written"),
    ("write_retries_total", "Failed historian writes later retried", "counter", "write_retries"),
    ("write_failures_total", "Batches the historian refused", "counter", "write_failures"),
    ("spilled_batches_total", "Batches spilled to the disk buffer", "counter", "spilled_batches"),
    ("drained_batches_total", "Batches drained from the buffer", "counter", "drained_batches"),
    ("quarantined_batches_total", "Batches set aside", "counter", "quarantined_batches"),
    ("acknowledged_total", "Messages acknowledged once safe", "counter", "acknowledged"),
    ("buffered_batches", "Batches waiting on disk", "gauge", "buffered_batches"),
    ("buffered_records", "Records waiting on disk", "gauge", "buffered_records"),
    ("buffered_bytes", "Bytes waiting on disk", "gauge", "buffered_bytes"),
    ("historian_up", "1 when the historian accepts writes", "gauge", "historian_available"),
    ("lag_seconds", "Age of the oldest record not yet written", "gauge", "lag_s"),
)
_PER_SOURCE: tuple[tuple[str, str, str], ...] = (
    ("messages_received_total", "Messages received", "received"),
    ("messages_accepted_total", "Messages accepted", "accepted"),
    ("messages_duplicate_total", "Duplicate messages dropped", "duplicates"),
    ("messages_rejected_total", "Messages dead-lettered", "rejected"),
    ("samples_written_total", "Samples committed to the historian", "samples_written"),
)


def prometheus_text(stats: IngestStats) -> str:
    """The counters in Prometheus' text exposition format (version 0.0.4)."""
    lines: list[str] = []
    sources = sorted(list(stats.by_source.items()))
    for name, help_text, attribute in _PER_SOURCE:
        lines += [f"# HELP andon_ingest_{name} {help_text}", f"# TYPE andon_ingest_{name} counter"]
        lines += [
            f'andon_ingest_{name}{{source="{_label(source)}"}} {getattr(counters, attribute)}'
            for source, counters in sources
        ]
    for name, help_text, kind, attribute in _GLOBAL:
        value = getattr(stats, attribute)
        lines += [
            f"# HELP andon_ingest_{name} {help_text}",
            f"# TYPE andon_ingest_{name} {kind}",
            f"andon_ingest_{name} {int(value) if isinstance(value, bool) else value}",
        ]
    return "\n".join(lines) + "\n"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
