"""Ingestion: raw messages -> validated, deduplicated records -> historian, in batches.

Batches the historian cannot take right now wait on disk (store-and-forward) and drain in
order; rejected messages are kept as dead letters, listable and replayable.
"""

from __future__ import annotations

from andon.ingest.buffer import DiskBuffer
from andon.ingest.decode import MAX_PAYLOAD_BYTES, Decoder
from andon.ingest.dedupe import SeenWindow
from andon.ingest.pipeline import Pipeline, ReplayResult
from andon.ingest.service import IngestService, default_buffer, load_ingest_settings
from andon.ingest.stats import IngestStats, SourceStats, prometheus_text

__all__ = [
    "MAX_PAYLOAD_BYTES",
    "Decoder",
    "DiskBuffer",
    "IngestService",
    "IngestStats",
    "Pipeline",
    "ReplayResult",
    "SeenWindow",
    "SourceStats",
    "default_buffer",
    "load_ingest_settings",
    "prometheus_text",
]
