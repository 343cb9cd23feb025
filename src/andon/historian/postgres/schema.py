"""The PostgreSQL historian's tables and their migrations (DESIGN.md section 4).

Migrations are numbered and run once each, in order, in one transaction under an advisory
lock, so several ingest workers may start together; the applied versions are kept in
``schema_migrations``. A released migration is never edited: add a new one.

``samples`` is partitioned by day (partitions are created when a batch first needs them),
with the primary key ``(tag_id, ts)`` (the natural key that makes replays idempotent, and
the index of per-tag ranges) and a BRIN index on ``ts``. The domains ``double`` and ``blob``
let the DuckDB spellings of domain modules' DDL (``DOUBLE``, ``BLOB``) run unchanged.

>>> partition_ddl(20413).split(" FOR ")[0]
'CREATE TABLE IF NOT EXISTS samples_d20413 PARTITION OF samples'
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg

__all__ = ["AT", "MIGRATIONS", "MIGRATION_LOCK", "MS", "STAGE", "migrate", "partition_ddl"]

_logger = logging.getLogger(__name__)
_DAY_MS = 86_400_000
MIGRATION_LOCK = 0x616E646F6E  # "andon": the advisory lock of schema changes
AT = "(TIMESTAMPTZ 'epoch' + {} * INTERVAL '1 millisecond')"  # ms -> time, exact arithmetic
MS = "(extract(epoch FROM {}) * 1000)::bigint"  # time -> ms (numeric: exact)

_V1 = """
CREATE TABLE IF NOT EXISTS tags (
    id SERIAL PRIMARY KEY, asset TEXT NOT NULL, name TEXT NOT NULL, unit TEXT,
    kind TEXT NOT NULL DEFAULT 'metric', UNIQUE (asset, name));
CREATE TABLE IF NOT EXISTS samples (
    tag_id INTEGER NOT NULL, ts TIMESTAMPTZ NOT NULL, value DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (tag_id, ts)) PARTITION BY RANGE (ts);
CREATE INDEX IF NOT EXISTS samples_ts_brin ON samples USING brin (ts);
CREATE TABLE IF NOT EXISTS latest (
    tag_id INTEGER PRIMARY KEY, ts TIMESTAMPTZ NOT NULL, value DOUBLE PRECISION NOT NULL);
CREATE TABLE IF NOT EXISTS states (
    asset TEXT NOT NULL, start TIMESTAMPTZ NOT NULL, code INTEGER NOT NULL, reason TEXT,
    source TEXT NOT NULL, PRIMARY KEY (asset, start));
CREATE TABLE IF NOT EXISTS counts (
    asset TEXT NOT NULL, ts TIMESTAMPTZ NOT NULL, total BIGINT NOT NULL, good BIGINT NOT NULL,
    scrap BIGINT NOT NULL, PRIMARY KEY (asset, ts));
CREATE TABLE IF NOT EXISTS events (
    asset TEXT NOT NULL, ts TIMESTAMPTZ NOT NULL, kind TEXT NOT NULL, data JSONB);
CREATE UNIQUE INDEX IF NOT EXISTS events_key ON events (asset, ts, kind, md5(data::text));
CREATE TABLE IF NOT EXISTS dead_letters (
    id BIGSERIAL PRIMARY KEY, received_at TIMESTAMPTZ NOT NULL, source TEXT NOT NULL,
    topic TEXT NOT NULL, payload BYTEA NOT NULL, error TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS dead_letters_received ON dead_letters (received_at);
CREATE TABLE IF NOT EXISTS assets (
    path TEXT PRIMARY KEY, display_name TEXT, ideal_cycle_time_s DOUBLE PRECISION);
"""
# DuckDB spellings used by domain modules' DDL (DOUBLE, BLOB) run unchanged on PostgreSQL.
_V2 = """
DO $$ BEGIN CREATE DOMAIN double AS DOUBLE PRECISION;
EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE DOMAIN blob AS BYTEA;
EXCEPTION WHEN duplicate_object THEN NULL; END $$;
"""
MIGRATIONS: tuple[tuple[int, str], ...] = ((1, _V1), (2, _V2))
"""Numbered schema changes, applied once each in order; never edit a released one."""

STAGE = (
    "CREATE TEMPORARY TABLE IF NOT EXISTS _stage_samples "
    "(tag_id INTEGER, ts TIMESTAMPTZ, value DOUBLE PRECISION) ON COMMIT DELETE ROWS"
)


def migrate(conn: psycopg.Connection[Any]) -> None:
    """Bring the schema ``conn`` points at to the newest version."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", [MIGRATION_LOCK])
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
            "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        done = {v for (v,) in conn.execute("SELECT version FROM schema_migrations").fetchall()}
        for version, ddl in MIGRATIONS:
            if version not in done:
                conn.execute(ddl)
                conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", [version])
                _logger.info("historian schema migrated to version %d", version)


def partition_ddl(day: int) -> str:
    """The statement creating the ``samples`` partition of day ``day`` (days since 1970)."""
    start, end = day * _DAY_MS, (day + 1) * _DAY_MS
    return (
        f"CREATE TABLE IF NOT EXISTS samples_d{day} PARTITION OF samples "
        f"FOR VALUES FROM ({AT.format(start)}) TO ({AT.format(end)})"
    )
