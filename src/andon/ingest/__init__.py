"""Ingestion: raw messages -> validated, deduplicated records -> historian, in batches."""

from __future__ import annotations

from andon.ingest.decode import MAX_PAYLOAD_BYTES, Decoder
from andon.ingest.dedupe import SeenWindow
from andon.ingest.pipeline import IngestStats, Pipeline

__all__ = ["MAX_PAYLOAD_BYTES", "Decoder", "IngestStats", "Pipeline", "SeenWindow"]
