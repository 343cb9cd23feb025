"""The PostgreSQL historian itself: connections, the write path, the queries."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from itertools import repeat
from typing import Any

import numpy as np
import psycopg
from psycopg import errors as pg_errors
from psycopg import sql as pg_sql

from andon.errors import HistorianUnavailable, NotFound
from andon.historian.postgres.schema import AT, MIGRATION_LOCK, MS, STAGE, migrate, partition_ddl
from andon.historian.postgres.wire import (
    copy_buffer,
    latest_per_tag,
    redacted,
    split_url,
    to_psycopg,
    translated,
)
from andon.historian.postgres.writes import columns, upsert_counts, upsert_events, upsert_states
from andon.historian.protocol import AssetInfo, Bucket, SqlParams, SqlRunner, TagInfo, WriteBatch
from andon.namespace import is_under, unit_of
from andon.signals import CountUpdate, Rejected, StateChange

__all__ = ["PostgresHistorian"]

_logger = logging.getLogger(__name__)
_DAY_MS = 86_400_000


class PostgresHistorian:
    """Historian on a PostgreSQL database (``postgresql://user@host:port/db[?schema=name]``).

    ``schema`` (or ``?schema=`` in the URL) keeps andon's tables in a schema of their own,
    created if needed; several plants or test runs can share one database that way.
    ``lazy`` lets ingestion start while the database is down (batches wait on disk): the
    schema is migrated on the first successful connection instead of here.
    """

    def __init__(
        self,
        url: str,
        *,
        schema: str | None = None,
        connect_timeout_s: float = 5.0,
        lazy: bool = False,
    ) -> None:
        self._conninfo, url_schema = split_url(url)
        self.url = redacted(url)
        self.schema = schema or url_schema
        self._timeout = max(1, round(connect_timeout_s))
        self._write_lock = threading.Lock()
        self._writer: psycopg.Connection[Any] | None = None
        self._readers: list[psycopg.Connection[Any]] = []
        self._readers_lock = threading.Lock()
        self._ids_by_asset: dict[str, dict[str, int]] = {}
        self._partitions: set[int] = set()
        self._ready = False  # migrated and catalog loaded (on the first connection)
        try:
            with self._write_lock, translated("connect"):
                self._writer_conn()
        except HistorianUnavailable as exc:
            if not lazy:
                raise
            _logger.warning("PostgreSQL not reachable yet (%s); will retry on first write", exc)

    # -- connections ------------------------------------------------------------------------

    def _connect(self) -> psycopg.Connection[Any]:
        conn = psycopg.connect(self._conninfo, autocommit=True, connect_timeout=self._timeout)
        if self.schema:
            name = pg_sql.Identifier(self.schema)
            conn.execute(pg_sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(name))
            conn.execute(pg_sql.SQL("SET search_path TO {}").format(name))
        return conn

    def _writer_conn(self) -> psycopg.Connection[Any]:
        if self._writer is None or self._writer.broken or self._writer.closed:
            conn = self._connect()
            if not self._ready:
                migrate(conn)
                self._load_catalog(conn)
                self._ready = True
            conn.execute(STAGE)
            self._writer = conn
        return self._writer

    @contextmanager
    def _reader(self) -> Iterator[psycopg.Connection[Any]]:
        with self._readers_lock:
            conn = self._readers.pop() if self._readers else None
        if conn is None or conn.broken or conn.closed:
            conn = self._connect()
        try:
            yield conn
        finally:
            if not conn.broken and not conn.closed:
                with self._readers_lock:
                    self._readers.append(conn)

    def _load_catalog(self, conn: psycopg.Connection[Any]) -> None:
        self._partitions.clear()
        for tag_id, asset, name in conn.execute("SELECT id, asset, name FROM tags").fetchall():
            self._ids_by_asset.setdefault(asset, {})[name] = tag_id
        rows = conn.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'samples'::regclass"
        ).fetchall()
        self._partitions = {int(name[len("samples_d") :]) for (name,) in rows}

    # -- writes -----------------------------------------------------------------------------

    def write(self, batch: WriteBatch) -> int:
        """Write every record of ``batch`` in one transaction; returns samples newly stored."""
        with self._write_lock, translated("write"):
            conn = self._writer_conn()
            ids, stamps, values = self._samplecolumns(conn, batch)
            self._ensure_partitions(conn, stamps)
            try:
                return self._write_all(conn, batch, ids, stamps, values)
            except pg_errors.CheckViolation:  # a partition was dropped behind our back
                self._load_catalog(conn)
                self._ensure_partitions(conn, stamps)
                return self._write_all(conn, batch, ids, stamps, values)

    def _write_all(
        self,
        conn: psycopg.Connection[Any],
        batch: WriteBatch,
        ids: np.ndarray,
        stamps: np.ndarray,
        values: np.ndarray,
    ) -> int:
        with conn.transaction():
            written = self._insert_samples(conn, ids, stamps, values)
            upsert_states(conn, batch.states)
            upsert_counts(conn, batch.counts)
            upsert_events(conn, batch.events)
        return written

    def _samplecolumns(
        self, conn: psycopg.Connection[Any], batch: WriteBatch
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        ids: list[int] = []
        stamps: list[int] = []
        values: list[float] = []
        by_asset = self._ids_by_asset
        for metrics in batch.metrics:
            named = metrics.values
            known = by_asset.get(metrics.asset)
            if known is None or not known.keys() >= named.keys():
                known = self._register_tags(conn, metrics.asset, named)
            ids.extend(map(known.__getitem__, named))
            values.extend(named.values())
            stamps.extend(repeat(metrics.ts_ms, len(named)))
        for sample in batch.samples:
            ids.append(self._register_tags(conn, sample.asset, (sample.tag,))[sample.tag])
            stamps.append(sample.ts_ms)
            values.append(sample.value)
        return (
            np.array(ids, np.int32),
            np.array(stamps, np.int64),
            np.array(values, np.float64),
        )

    def _register_tags(
        self, conn: psycopg.Connection[Any], asset: str, names: Iterable[str]
    ) -> dict[str, int]:
        known = self._ids_by_asset.setdefault(asset, {})
        new = [name for name in names if name not in known]
        if new:  # ON CONFLICT ... RETURNING: another worker may have created some already
            rows = conn.execute(
                "INSERT INTO tags (asset, name, unit) SELECT %s, n, u "
                "FROM unnest(%s::text[], %s::text[]) AS x(n, u) "
                "ON CONFLICT (asset, name) DO UPDATE SET asset = excluded.asset "
                "RETURNING name, id",
                [asset, new, [unit_of(name) for name in new]],
            ).fetchall()
            known.update(rows)
        return known

    def _ensure_partitions(self, conn: psycopg.Connection[Any], stamps: np.ndarray) -> None:
        if not len(stamps):
            return
        days = {int(day) for day in np.unique(stamps // _DAY_MS)} - self._partitions
        for day in sorted(days):
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", [MIGRATION_LOCK])
                conn.execute(partition_ddl(day))
            self._partitions.add(day)

    def _insert_samples(
        self, conn: psycopg.Connection[Any], ids: np.ndarray, stamps: np.ndarray, values: np.ndarray
    ) -> int:
        if not len(ids):
            return 0
        data = copy_buffer(ids, stamps, values)
        with conn.cursor() as cur:
            try:
                # A savepoint: new rows (the usual case) COPY straight in.
                with (
                    conn.transaction(),
                    cur.copy("COPY samples FROM STDIN (FORMAT BINARY)") as copy,
                ):
                    copy.write(data)
                written = len(ids)
            except pg_errors.UniqueViolation:  # a replay or another worker's copy: skip those
                with cur.copy("COPY _stage_samples FROM STDIN (FORMAT BINARY)") as copy:
                    copy.write(data)
                cur.execute(
                    "INSERT INTO samples SELECT * FROM _stage_samples ON CONFLICT DO NOTHING"
                )
                written = max(cur.rowcount, 0)
            tags, newest, last = latest_per_tag(ids, stamps, values)
            cur.execute(  # ordered by tag: concurrent workers lock rows in the same order
                f"INSERT INTO latest SELECT t, {AT.format('s')}, v "
                "FROM unnest(%s::int[], %s::bigint[], %s::float8[]) AS x(t, s, v) "
                "ON CONFLICT (tag_id) DO UPDATE SET ts = excluded.ts, value = excluded.value "
                "WHERE excluded.ts >= latest.ts",
                [tags.tolist(), newest.tolist(), last.tolist()],
            )
        return written

    def write_dead_letters(self, rejected: list[Rejected]) -> None:
        if not rejected:
            return
        with self._write_lock, translated("dead-letter write"):
            self._writer_conn().execute(
                f"INSERT INTO dead_letters (received_at, source, topic, payload, error) "
                f"SELECT {AT.format('r')}, s, t, p, e "
                "FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::bytea[], %s::text[]) "
                "AS x(r, s, t, p, e)",
                columns(rejected, ("received_ms", "source", "topic", "payload", "error")),
            )

    def delete_dead_letters(self, letters: list[Rejected]) -> int:
        if not letters:
            return 0
        with self._write_lock, translated("dead-letter delete"):
            cur = self._writer_conn().execute(
                f"DELETE FROM dead_letters d USING unnest(%s::bigint[], %s::text[], "
                "%s::text[], %s::bytea[]) AS x(r, s, t, p) "
                f"WHERE d.received_at = {AT.format('x.r')} AND d.source = x.s "
                "AND d.topic = x.t AND d.payload = x.p",
                columns(letters, ("received_ms", "source", "topic", "payload")),
            )
            return max(cur.rowcount, 0)

    def define_tags(self, tags: list[tuple[str, str, str | None]]) -> None:
        if not tags:
            return
        with self._write_lock, translated("tag definition"):
            rows = (
                self._writer_conn()
                .execute(
                    "INSERT INTO tags (asset, name, unit) SELECT DISTINCT ON (a, n) a, n, u "
                    "FROM unnest(%s::text[], %s::text[], %s::text[]) AS x(a, n, u) "
                    "ON CONFLICT (asset, name) DO UPDATE SET unit = excluded.unit "
                    "RETURNING asset, name, id",
                    [list(column) for column in zip(*tags, strict=True)],
                )
                .fetchall()
            )
            for asset, name, tag_id in rows:
                self._ids_by_asset.setdefault(asset, {})[name] = tag_id

    def upsert_assets(self, assets: list[AssetInfo]) -> None:
        if not assets:
            return
        with self._write_lock, translated("asset upsert"):
            self._writer_conn().execute(
                "INSERT INTO assets SELECT DISTINCT ON (p) p, n, c FROM unnest(%s::text[], "
                "%s::text[], %s::float8[]) WITH ORDINALITY AS x(p, n, c, o) ORDER BY p, o DESC "
                "ON CONFLICT (path) DO UPDATE SET display_name = excluded.display_name, "
                "ideal_cycle_time_s = excluded.ideal_cycle_time_s",
                columns(assets, ("path", "display_name", "ideal_cycle_time_s")),
            )

    # -- reads ------------------------------------------------------------------------------

    def assets(self) -> list[AssetInfo]:
        rows = self._query(
            "WITH seen AS (SELECT asset AS path FROM tags UNION SELECT asset FROM states "
            "UNION SELECT asset FROM counts UNION SELECT path FROM assets) "
            "SELECT seen.path, a.ideal_cycle_time_s, a.display_name "
            "FROM seen LEFT JOIN assets a USING (path) ORDER BY seen.path"
        )
        return [AssetInfo(path, ict, name) for path, ict, name in rows]

    def tags(self, asset: str | None = None) -> list[TagInfo]:
        rows = self._query("SELECT id, asset, name, unit, kind FROM tags ORDER BY asset, name")
        infos = [TagInfo(*row) for row in rows]
        return [t for t in infos if asset is None or is_under(t.asset, asset)]

    def tag(self, tag_id: int) -> TagInfo:
        """One tag by id; :class:`NotFound` when it does not exist."""
        rows = self._query("SELECT id, asset, name, unit, kind FROM tags WHERE id = %s", [tag_id])
        if not rows:
            raise NotFound(f"no tag with id {tag_id}")
        return TagInfo(*rows[0])

    def latest(self, asset: str | None = None) -> dict[str, tuple[int, float]]:
        rows = self._query(
            f"SELECT t.asset, t.name, {MS.format('l.ts')}, l.value FROM latest l "
            "JOIN tags t ON t.id = l.tag_id"
        )
        return {
            f"{a}/{n}": (int(ts), value)
            for a, n, ts, value in rows
            if asset is None or is_under(a, asset)
        }

    def series(self, tag_id: int, start_ms: int, end_ms: int) -> list[tuple[int, float]]:
        rows = self._query(
            f"SELECT {MS.format('ts')}, value FROM samples WHERE tag_id = %s "
            f"AND ts >= {AT.format('%s')} AND ts < {AT.format('%s')} ORDER BY ts",
            [tag_id, start_ms, end_ms],
        )
        return [(int(ts), float(v)) for ts, v in rows]

    def aggregate(self, tag_id: int, start_ms: int, end_ms: int, bucket_ms: int) -> list[Bucket]:
        rows = self._query(
            f"SELECT ({MS.format('ts')} - %(s)s) / %(b)s * %(b)s + %(s)s AS k, avg(value), "
            "min(value), max(value), count(*) FROM samples WHERE tag_id = %(tag)s "
            f"AND ts >= {AT.format('%(s)s')} AND ts < {AT.format('%(e)s')} "
            "GROUP BY k ORDER BY k",
            {"s": start_ms, "e": end_ms, "b": bucket_ms, "tag": tag_id},
        )
        return [Bucket(int(k), avg, lo, hi, int(n)) for k, avg, lo, hi, n in rows]

    def state_timeline(self, asset: str, start_ms: int, end_ms: int) -> list[StateChange]:
        rows = self._query(
            _carried_in("start", "code, reason", "states"), _window(asset, start_ms, end_ms)
        )
        return [StateChange(asset, int(t), int(code), reason) for t, code, reason in rows]

    def count_totals(self, asset: str, start_ms: int, end_ms: int) -> list[CountUpdate]:
        rows = self._query(
            _carried_in("ts", "total, good, scrap", "counts"), _window(asset, start_ms, end_ms)
        )
        return [CountUpdate(asset, int(t), *map(int, rest)) for t, *rest in rows]

    def dead_letters(self, limit: int = 100) -> list[Rejected]:
        rows = self._query(
            f"SELECT {MS.format('received_at')}, source, topic, payload, error "
            "FROM dead_letters ORDER BY received_at DESC, id DESC LIMIT %s",
            [limit],
        )
        return [Rejected(int(t), s, topic, bytes(p), e) for t, s, topic, p, e in rows]

    def latest_ts(self) -> int | None:
        (value,) = self._query(
            f"SELECT greatest((SELECT max({MS.format('ts')}) FROM latest), "
            f"(SELECT max({MS.format('start')}) FROM states), "
            f"(SELECT max({MS.format('ts')}) FROM counts))"
        )[0]
        return None if value is None else int(value)

    # -- domain tables ----------------------------------------------------------------------

    def sql(self, statement: str, params: SqlParams = None) -> list[tuple[Any, ...]]:
        with self._write_lock, translated("statement"):
            return _run(self._writer_conn(), statement, params)

    @contextmanager
    def transaction(self) -> Iterator[SqlRunner]:
        with self._write_lock, translated("transaction"):
            conn = self._writer_conn()
            with conn.transaction():
                yield _Runner(conn)

    def close(self) -> None:
        with self._write_lock:
            if self._writer is not None:
                self._writer.close()
                self._writer = None
        with self._readers_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()

    def _query(self, statement: str, params: Any = None) -> list[tuple[Any, ...]]:
        with translated("query"), self._reader() as conn:
            return conn.execute(statement, params).fetchall()


class _Runner:
    """Statements of a domain module inside an open transaction."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def sql(self, statement: str, params: SqlParams = None) -> list[tuple[Any, ...]]:
        return _run(self._conn, statement, params)


def _run(conn: psycopg.Connection[Any], statement: str, params: SqlParams) -> list[tuple[Any, ...]]:
    cur = conn.execute(statement if params is None else to_psycopg(statement), params)
    return cur.fetchall() if cur.description is not None else []


def _carried_in(column: str, rest: str, table: str) -> str:
    """Rows of ``table`` in the window, preceded by the last one at or before its start."""
    at = f"{column} <= {AT.format('%(s)s')}"
    inside = f"{column} > {AT.format('%(s)s')} AND {column} < {AT.format('%(e)s')}"
    return (
        f"(SELECT {MS.format(column)} AS t, {rest} FROM {table} WHERE asset = %(a)s AND {at} "
        f"ORDER BY {column} DESC LIMIT 1) UNION ALL "
        f"(SELECT {MS.format(column)}, {rest} FROM {table} WHERE asset = %(a)s AND {inside}) "
        "ORDER BY t"
    )


def _window(asset: str, start_ms: int, end_ms: int) -> dict[str, Any]:
    return {"a": asset, "s": start_ms, "e": end_ms}
