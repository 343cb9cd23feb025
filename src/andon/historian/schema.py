"""Tables of the historian (DESIGN.md section 4): narrow, integer ids, UTC timestamps.

Timestamps are stored as ``TIMESTAMP`` holding UTC (no session time zone involved), so BI
tools see real times; the Python side speaks epoch milliseconds.
"""

from __future__ import annotations

__all__ = ["DUCKDB_SCHEMA"]

DUCKDB_SCHEMA = """
CREATE SEQUENCE IF NOT EXISTS tag_ids START 1;
CREATE TABLE IF NOT EXISTS tags (
    id      INTEGER PRIMARY KEY DEFAULT nextval('tag_ids'),
    asset   VARCHAR NOT NULL,
    name    VARCHAR NOT NULL,
    unit    VARCHAR,
    kind    VARCHAR NOT NULL DEFAULT 'metric',
    UNIQUE (asset, name)
);
CREATE TABLE IF NOT EXISTS samples (
    tag_id  INTEGER NOT NULL,
    ts      TIMESTAMP NOT NULL,
    value   DOUBLE NOT NULL
);
CREATE TABLE IF NOT EXISTS latest (
    tag_id  INTEGER PRIMARY KEY,
    ts      TIMESTAMP NOT NULL,
    value   DOUBLE NOT NULL
);
CREATE TABLE IF NOT EXISTS states (
    asset   VARCHAR NOT NULL,
    start   TIMESTAMP NOT NULL,
    code    INTEGER NOT NULL,
    reason  VARCHAR,
    source  VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS counts (
    asset   VARCHAR NOT NULL,
    ts      TIMESTAMP NOT NULL,
    total   BIGINT NOT NULL,
    good    BIGINT NOT NULL,
    scrap   BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    asset   VARCHAR NOT NULL,
    ts      TIMESTAMP NOT NULL,
    kind    VARCHAR NOT NULL,
    data    JSON
);
CREATE TABLE IF NOT EXISTS dead_letters (
    received_at TIMESTAMP NOT NULL,
    source      VARCHAR NOT NULL,
    topic       VARCHAR NOT NULL,
    payload     BLOB NOT NULL,
    error       VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS assets (
    path                VARCHAR PRIMARY KEY,
    display_name        VARCHAR,
    ideal_cycle_time_s  DOUBLE
);
"""
