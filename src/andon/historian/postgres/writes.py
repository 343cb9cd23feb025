"""Idempotent upserts of states, counts and events (the low-volume records of a batch).

Each kind goes in one statement from arrays (``unnest``), keyed by its natural key: a state
``(asset, start)`` and counts ``(asset, ts)`` are replaced by a later copy (the last one in
a batch wins); an identical event ``(asset, ts, kind, data)`` is stored once.
"""

from __future__ import annotations

from typing import Any

import orjson
import psycopg

from andon.historian.postgres.schema import AT
from andon.signals import CountUpdate, Event, StateChange

__all__ = ["columns", "upsert_counts", "upsert_events", "upsert_states"]


def columns(items: list[Any], names: tuple[str, ...]) -> list[list[Any]]:
    return [[getattr(item, name) for item in items] for name in names]


def upsert_states(conn: psycopg.Connection[Any], states: list[StateChange]) -> None:
    if states:
        conn.execute(
            f"INSERT INTO states SELECT DISTINCT ON (a, s) a, {AT.format('s')}, c, r, 'mqtt' "
            "FROM unnest(%s::text[], %s::bigint[], %s::int[], %s::text[]) WITH ORDINALITY "
            "AS x(a, s, c, r, o) ORDER BY a, s, o DESC "
            "ON CONFLICT (asset, start) DO UPDATE SET code = excluded.code, "
            "reason = excluded.reason",
            columns(states, ("asset", "ts_ms", "code", "reason")),
        )


def upsert_counts(conn: psycopg.Connection[Any], counts: list[CountUpdate]) -> None:
    if counts:
        conn.execute(
            f"INSERT INTO counts SELECT DISTINCT ON (a, t) a, {AT.format('t')}, n, g, s "
            "FROM unnest(%s::text[], %s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[]) "
            "WITH ORDINALITY AS x(a, t, n, g, s, o) ORDER BY a, t, o DESC "
            "ON CONFLICT (asset, ts) DO UPDATE SET total = excluded.total, "
            "good = excluded.good, scrap = excluded.scrap",
            columns(counts, ("asset", "ts_ms", "total", "good", "scrap")),
        )


def upsert_events(conn: psycopg.Connection[Any], events: list[Event]) -> None:
    if events:
        data = [orjson.dumps(e.data).decode() for e in events]
        conn.execute(
            f"INSERT INTO events SELECT DISTINCT a, {AT.format('t')}, k, d::jsonb "
            "FROM unnest(%s::text[], %s::bigint[], %s::text[], %s::text[]) AS x(a, t, k, d) "
            "ON CONFLICT (asset, ts, kind, md5(data::text)) DO NOTHING",
            [*columns(events, ("asset", "ts_ms", "kind")), data],
        )
