"""The plant-scale historian: PostgreSQL through psycopg 3, written with binary COPY.

Same protocol as the DuckDB historian. Writes are idempotent on natural keys, so a batch
replayed after an outage (store-and-forward) or written twice by two ingest workers changes
nothing: samples ``(tag_id, ts)`` (the first value is kept), states ``(asset, start)`` and
counts ``(asset, ts)`` (the last one wins), events ``(asset, ts, kind, data)``.

Samples go in with one binary ``COPY`` straight into ``samples`` (partitioned by day, see
:mod:`.schema`); only when that meets rows already stored (a replay) does the batch take the
slower path through a staging table and ``INSERT ... ON CONFLICT DO NOTHING``. The newest
value per tag is computed with numpy and upserted into ``latest``.

Connection failures become :class:`~andon.errors.HistorianUnavailable` and the next call
reconnects, so ingestion spills to disk and drains once the database is back.
"""

from __future__ import annotations

from andon.historian.postgres.historian import PostgresHistorian
from andon.historian.postgres.schema import MIGRATIONS
from andon.historian.postgres.wire import copy_buffer, to_psycopg

__all__ = ["MIGRATIONS", "PostgresHistorian", "copy_buffer", "to_psycopg"]
