"""The embedded historian: one DuckDB file, written through Arrow in bulk.

One writer at a time (a lock), any number of readers (a cursor per call, DuckDB's MVCC keeps
them consistent with the writer). DuckDB allows one process per file: a second process gets
:class:`~andon.errors.HistorianUnavailable` naming the holder.

Samples are idempotent by ``(tag, ts)`` as on PostgreSQL, without a unique index (an ART
index over every sample costs memory without bound and makes inserts about 6x slower): the
historian remembers the newest committed time of each tag, so a batch whose samples are all
newer, the usual case of a live stream, goes straight in. A batch with late samples, or with
the same tag and time twice, takes the careful path: repeats within the batch collapse (the
first wins) and rows already stored are left out by an anti-join over the batch's time range,
which DuckDB's zone maps keep short. The first copy stored wins, as PostgreSQL's
``ON CONFLICT DO NOTHING`` does.

``memory_limit`` bounds DuckDB's buffer pool, which otherwise keeps the blocks it has written
cached until the limit: an ingest worker sets it low (see :mod:`andon.ingest.service`).

A long-running writer also sets ``reopen_writes`` / ``reopen_rows``: DuckDB (2.0) keeps memory
outside its buffer pool that grows with every commit that updates ``latest`` (about 5 KB, not
returned by checkpoints) and with every row appended (about 0.25 byte), until the connection
closes. The historian closes and reopens its file after that many writes or sample rows,
between two writes and with no reader inside DuckDB, then hands the freed pages back to the
system (glibc's ``malloc_trim``), so a worker's memory stays flat however long it runs. An
in-memory database is never reopened (it would be lost).
"""

from __future__ import annotations

import ctypes
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import cache, partial
from itertools import repeat
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import orjson
import pyarrow as pa

from andon.errors import HistorianError, HistorianUnavailable, NotFound
from andon.historian.protocol import AssetInfo, Bucket, SqlParams, SqlRunner, TagInfo, WriteBatch
from andon.historian.schema import DUCKDB_SCHEMA
from andon.namespace import is_under, unit_of
from andon.signals import CountUpdate, Rejected, StateChange

__all__ = ["DuckDBHistorian"]

_logger = logging.getLogger(__name__)
_TS = pa.timestamp("ms")
_MS = "epoch_ms({col})"
_NEVER = np.iinfo(np.int64).min  # the newest time of a tag without samples


class DuckDBHistorian:
    """Historian on a DuckDB file (``":memory:"`` for tests)."""

    def __init__(
        self,
        path: str | Path,
        *,
        read_only: bool = False,
        memory_limit: str = "1GB",
        threads: int = 2,
        reopen_writes: int | None = None,
        reopen_rows: int | None = None,
    ):
        self.path = str(path)
        if self.path != ":memory:" and not read_only:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._open = partial(
            _connect, self.path, read_only=read_only, memory_limit=memory_limit, threads=threads
        )
        self._con = self._open()
        if not read_only:
            self._con.execute(DUCKDB_SCHEMA)
        self._write_lock = threading.Lock()
        reopens = not read_only and self.path != ":memory:"
        self._reopen_at = (reopen_writes, reopen_rows) if reopens else (None, None)
        self._since_open = [0, 0]  # writes and sample rows since the connection opened
        self.reopens = 0
        self._gate = threading.Condition()  # readers inside DuckDB, and a reopen waiting
        self._readers = 0
        self._reopening = False
        self._ids_by_asset: dict[str, dict[str, int]] = {}  # asset -> tag name -> tag id
        for tag_id, asset, name in self._con.execute("SELECT id, asset, name FROM tags").fetchall():
            self._ids_by_asset.setdefault(asset, {})[name] = tag_id
        self._newest = np.full(1024, _NEVER, np.int64)  # tag id -> newest committed ts (ms)
        rows = self._con.execute("SELECT tag_id, epoch_ms(ts) FROM latest").fetchall()
        self._raise_newest([tag_id for tag_id, _ in rows], [ts for _, ts in rows])

    # -- writes -------------------------------------------------------------------------

    def write(self, batch: WriteBatch) -> int:
        """Write every record of ``batch`` in one transaction; returns samples newly stored.

        Samples already stored (same tag and time) are left out, so a replayed or
        redelivered batch changes nothing.
        """
        with self._write_lock, _translated("write"):
            if self._reopen_due():
                self._reopen()
            samples, careful = self._sample_table(batch)
            self._con.execute("BEGIN TRANSACTION")
            try:
                written, newest = self._insert_samples(samples, careful=careful)
                self._insert_states(batch.states)
                self._insert_counts(batch.counts)
                self._insert_events(batch)
                self._con.execute("COMMIT")
            except BaseException:
                self._con.execute("ROLLBACK")
                raise
            self._raise_newest(*newest)
            self._since_open[0] += 1
            self._since_open[1] += samples.num_rows
            return written

    def _reopen_due(self) -> bool:
        return any(
            limit is not None and done >= limit
            for limit, done in zip(self._reopen_at, self._since_open, strict=True)
        )

    def _reopen(self) -> None:
        """Close and reopen the file (write lock held): what DuckDB kept is given back."""
        with self._gate:
            self._reopening = True
            try:
                self._gate.wait_for(lambda: self._readers == 0)
                self._con.close()
                self._con = self._open()
            except duckdb.Error as exc:  # the next write tries again; the broker waits
                raise HistorianUnavailable(f"cannot reopen {self.path}: {exc}") from exc
            finally:
                self._reopening = False
                self._gate.notify_all()
        self._since_open = [0, 0]
        self.reopens += 1
        _trim_heap()

    def write_dead_letters(self, rejected: list[Rejected]) -> None:
        if not rejected:
            return
        table = pa.table(
            {
                "received_at": pa.array([r.received_ms for r in rejected], _TS),
                "source": [r.source for r in rejected],
                "topic": [r.topic for r in rejected],
                "payload": pa.array([r.payload for r in rejected], pa.binary()),
                "error": [r.error for r in rejected],
            }
        )
        with self._write_lock, _translated("dead-letter write"):
            self._con.register("_dead", table)
            self._con.execute("INSERT INTO dead_letters SELECT * FROM _dead")
            self._con.unregister("_dead")

    def delete_dead_letters(self, letters: list[Rejected]) -> int:
        if not letters:
            return 0
        table = pa.table(
            {
                "received_at": pa.array([r.received_ms for r in letters], _TS),
                "source": [r.source for r in letters],
                "topic": [r.topic for r in letters],
                "payload": pa.array([r.payload for r in letters], pa.binary()),
            }
        )
        with self._write_lock, _translated("dead-letter delete"):
            self._con.register("_gone", table)
            try:
                row = self._con.execute(
                    "DELETE FROM dead_letters d USING _gone g WHERE d.received_at = "
                    "g.received_at AND d.source = g.source AND d.topic = g.topic "
                    "AND d.payload = g.payload"
                ).fetchone()
            finally:
                self._con.unregister("_gone")
        return int(row[0]) if row else 0

    def define_tags(self, tags: list[tuple[str, str, str | None]]) -> None:
        if not tags:
            return
        with self._write_lock, _translated("tag definition"):
            for asset, name, unit in tags:
                row = self._con.execute(
                    "INSERT INTO tags (asset, name, unit) VALUES (?, ?, ?) ON CONFLICT "
                    "(asset, name) DO UPDATE SET unit = excluded.unit RETURNING id",
                    [asset, name, unit],
                ).fetchone()
                assert row is not None  # INSERT ... RETURNING always yields the row
                self._ids_by_asset.setdefault(asset, {})[name] = int(row[0])

    def upsert_assets(self, assets: list[AssetInfo]) -> None:
        rows = [(a.path, a.display_name, a.ideal_cycle_time_s) for a in assets]
        with self._write_lock, _translated("asset upsert"):
            self._con.executemany(  # a handful of rows: no bulk path needed
                "INSERT OR REPLACE INTO assets VALUES (?, ?, ?)", rows
            )

    def _sample_table(self, batch: WriteBatch) -> tuple[pa.Table, bool]:
        """The batch's samples as (tag_id, ts, value) rows, and whether they need care.

        Care means some sample may already be stored or appears twice: a time not after
        the newest committed one of its tag, or a key (asset, or asset and tag) whose time
        does not rise within the batch.
        """
        # The hot path of ingestion: C-level extends per message, not a loop per value.
        ids: list[int] = []
        stamps: list[int] = []
        values: list[float] = []
        by_asset = self._ids_by_asset
        rising: dict[str, int] = {}  # asset -> newest ts so far in this batch
        repeats = False
        for metrics in batch.metrics:
            named, asset, ts = metrics.values, metrics.asset, metrics.ts_ms
            known = by_asset.get(asset)
            if known is None or not known.keys() >= named.keys():
                known = self._register_tags(asset, named)
            if rising.get(asset, _NEVER) >= ts:
                repeats = True
            rising[asset] = ts
            ids.extend(map(known.__getitem__, named))
            values.extend(named.values())
            stamps.extend(repeat(ts, len(named)))
        single: dict[tuple[str, str], int] = {}  # (asset, tag) -> newest ts in this batch
        for sample in batch.samples:
            ids.append(self._register_tags(sample.asset, (sample.tag,))[sample.tag])
            stamps.append(sample.ts_ms)
            values.append(sample.value)
            key = (sample.asset, sample.tag)
            if single.get(key, _NEVER) >= sample.ts_ms or sample.asset in rising:
                repeats = True  # (also a tag written both ways in one batch: rare, be safe)
            single[key] = sample.ts_ms
        tag_ids = np.array(ids, np.int32)
        ts_ms = np.array(stamps, np.int64)
        table = pa.table(
            {"tag_id": tag_ids, "ts": pa.array(ts_ms, _TS), "value": np.array(values, np.float64)}
        )
        if not len(tag_ids):
            return table, False
        newest = self._newest
        if int(tag_ids.max()) >= len(newest):
            newest = self._grow_newest(int(tag_ids.max()))
        late = bool((ts_ms <= newest[tag_ids]).any())
        return table, late or repeats

    def _grow_newest(self, tag_id: int) -> np.ndarray:
        grown = np.full(max(tag_id + 1, 2 * len(self._newest)), _NEVER, np.int64)
        grown[: len(self._newest)] = self._newest
        self._newest = grown
        return grown

    def _raise_newest(self, tag_ids: list[int], ts_ms: list[int]) -> None:
        """Remember newer committed times (rows of ``latest`` that changed)."""
        if tag_ids:
            ids = np.array(tag_ids, np.int64)
            if int(ids.max()) >= len(self._newest):
                self._grow_newest(int(ids.max()))
            self._newest[ids] = np.maximum(self._newest[ids], np.array(ts_ms, np.int64))

    def _register_tags(self, asset: str, names: Iterable[str]) -> dict[str, int]:
        """The tag ids of ``asset``, creating the tags among ``names`` not seen before."""
        known = self._ids_by_asset.setdefault(asset, {})
        for name in names:
            if name not in known:
                row = self._con.execute(
                    "INSERT INTO tags (asset, name, unit) VALUES (?, ?, ?) RETURNING id",
                    [asset, name, unit_of(name)],
                ).fetchone()
                assert row is not None  # INSERT ... RETURNING always yields the new row
                known[name] = int(row[0])
        return known

    def _insert_samples(
        self, samples: pa.Table, *, careful: bool
    ) -> tuple[int, tuple[list[int], list[int]]]:
        """Insert the rows not stored yet; (rows inserted, (tags, their new newest ts))."""
        if samples.num_rows == 0:
            return 0, ([], [])
        if careful:
            samples = self._unseen(samples)
            if samples.num_rows == 0:
                return 0, ([], [])
        self._con.register("_samples", samples)
        try:
            self._con.execute("INSERT INTO samples SELECT * FROM _samples").fetchall()
            changed = self._con.execute(
                """
                INSERT INTO latest
                SELECT tag_id, max(ts), arg_max(value, ts) FROM _samples GROUP BY tag_id
                ON CONFLICT (tag_id) DO UPDATE SET ts = excluded.ts, value = excluded.value
                WHERE excluded.ts >= latest.ts
                RETURNING tag_id, epoch_ms(ts)
                """
            ).fetchall()
        finally:
            self._con.unregister("_samples")
        return samples.num_rows, ([t for t, _ in changed], [ts for _, ts in changed])

    def _unseen(self, samples: pa.Table) -> pa.Table:
        """The rows of ``samples`` not stored yet, each (tag, ts) once (the first wins)."""
        numbered = samples.append_column("_o", pa.array(np.arange(samples.num_rows)))
        self._con.register("_batch", numbered)
        try:
            return self._con.sql(
                """
                SELECT b.tag_id, b.ts, b.value FROM _batch b
                ANTI JOIN (
                    SELECT tag_id, ts FROM samples
                    WHERE ts >= (SELECT min(ts) FROM _batch)
                      AND ts <= (SELECT max(ts) FROM _batch)
                ) stored USING (tag_id, ts)
                QUALIFY row_number() OVER (PARTITION BY b.tag_id, b.ts ORDER BY b._o) = 1
                ORDER BY b._o
                """
            ).to_arrow_table()
        finally:
            self._con.unregister("_batch")

    def _insert_states(self, states: list[StateChange]) -> None:
        if states:
            self._upsert(
                "states",
                ("asset", "start"),
                {
                    "asset": [s.asset for s in states],
                    "start": pa.array([s.ts_ms for s in states], _TS),
                    "code": pa.array([s.code for s in states], pa.int32()),
                    "reason": pa.array([s.reason for s in states], pa.string()),
                    "source": ["mqtt"] * len(states),
                },
            )

    def _insert_counts(self, counts: list[CountUpdate]) -> None:
        if counts:
            self._upsert(
                "counts",
                ("asset", "ts"),
                {
                    "asset": [c.asset for c in counts],
                    "ts": pa.array([c.ts_ms for c in counts], _TS),
                    "total": pa.array([c.total for c in counts], pa.int64()),
                    "good": pa.array([c.good for c in counts], pa.int64()),
                    "scrap": pa.array([c.scrap for c in counts], pa.int64()),
                },
            )

    def _insert_events(self, batch: WriteBatch) -> None:
        events = batch.events
        if events:
            self._upsert(
                "events",
                ("asset", "ts", "kind", "data"),
                {
                    "asset": [e.asset for e in events],
                    "ts": pa.array([e.ts_ms for e in events], _TS),
                    "kind": [e.kind for e in events],
                    "data": [orjson.dumps(e.data).decode() for e in events],
                },
            )

    def _upsert(self, table: str, key: tuple[str, ...], columns: dict[str, Any]) -> None:
        """Insert rows, replacing those with the same natural ``key`` (the last one wins).

        A batch replayed after an outage or redelivered by the broker changes nothing.
        """
        self._con.register("_rows", pa.table(columns))
        time_col = key[1]
        match = " AND ".join(f"{table}.{col} = r.{col}" for col in key)
        try:
            self._con.execute(  # the time bounds let DuckDB skip row groups by zone maps
                f"DELETE FROM {table} USING _rows r WHERE {match} "
                f"AND {table}.{time_col} >= (SELECT min({time_col}) FROM _rows) "
                f"AND {table}.{time_col} <= (SELECT max({time_col}) FROM _rows)"
            )
            self._con.execute(
                f"INSERT INTO {table} SELECT * EXCLUDE (_o) FROM "
                "(SELECT *, row_number() OVER () AS _o FROM _rows) "
                f"QUALIFY row_number() OVER (PARTITION BY {', '.join(key)} ORDER BY _o DESC) = 1"
            )
        finally:
            self._con.unregister("_rows")

    # -- reads ----------------------------------------------------------------------------

    def assets(self) -> list[AssetInfo]:
        rows = self._query(
            """
            WITH seen AS (
                SELECT DISTINCT asset AS path FROM tags
                UNION SELECT DISTINCT asset FROM states
                UNION SELECT DISTINCT asset FROM counts
                UNION SELECT path FROM assets
            )
            SELECT seen.path, a.ideal_cycle_time_s, a.display_name
            FROM seen LEFT JOIN assets a USING (path) ORDER BY seen.path
            """
        )
        return [AssetInfo(path, ict, name) for path, ict, name in rows]

    def tags(self, asset: str | None = None) -> list[TagInfo]:
        rows = self._query("SELECT id, asset, name, unit, kind FROM tags ORDER BY asset, name")
        infos = [TagInfo(*row) for row in rows]
        return [t for t in infos if asset is None or is_under(t.asset, asset)]

    def tag(self, tag_id: int) -> TagInfo:
        """One tag by id; :class:`NotFound` when it does not exist."""
        rows = self._query("SELECT id, asset, name, unit, kind FROM tags WHERE id = ?", [tag_id])
        if not rows:
            raise NotFound(f"no tag with id {tag_id}")
        return TagInfo(*rows[0])

    def latest(self, asset: str | None = None) -> dict[str, tuple[int, float]]:
        rows = self._query(
            "SELECT t.asset, t.name, epoch_ms(l.ts), l.value FROM latest l JOIN tags t "
            "ON t.id = l.tag_id"
        )
        return {
            f"{a}/{n}": (ts, value)
            for a, n, ts, value in rows
            if asset is None or is_under(a, asset)
        }

    def series(self, tag_id: int, start_ms: int, end_ms: int) -> list[tuple[int, float]]:
        return [
            (int(ts), float(v))
            for ts, v in self._query(
                "SELECT epoch_ms(ts), value FROM samples WHERE tag_id = ? "
                "AND ts >= make_timestamp_ms(?) AND ts < make_timestamp_ms(?) ORDER BY ts",
                [tag_id, start_ms, end_ms],
            )
        ]

    def aggregate(self, tag_id: int, start_ms: int, end_ms: int, bucket_ms: int) -> list[Bucket]:
        rows = self._query(
            """
            SELECT (epoch_ms(ts) - ?) // ? * ? + ? AS b, avg(value), min(value), max(value),
                   count(*)
            FROM samples WHERE tag_id = ?
              AND ts >= make_timestamp_ms(?) AND ts < make_timestamp_ms(?)
            GROUP BY b ORDER BY b
            """,
            [start_ms, bucket_ms, bucket_ms, start_ms, tag_id, start_ms, end_ms],
        )
        return [Bucket(int(b), avg, lo, hi, int(n)) for b, avg, lo, hi, n in rows]

    def state_timeline(self, asset: str, start_ms: int, end_ms: int) -> list[StateChange]:
        rows = self._query(
            """
            (SELECT epoch_ms(start) AS t, code, reason FROM states
              WHERE asset = $asset AND start <= make_timestamp_ms($start)
              ORDER BY start DESC LIMIT 1)
            UNION ALL
            (SELECT epoch_ms(start), code, reason FROM states
              WHERE asset = $asset AND start > make_timestamp_ms($start)
                AND start < make_timestamp_ms($end))
            ORDER BY t
            """,
            {"asset": asset, "start": start_ms, "end": end_ms},
        )
        return [StateChange(asset, int(t), int(code), reason) for t, code, reason in rows]

    def count_totals(self, asset: str, start_ms: int, end_ms: int) -> list[CountUpdate]:
        rows = self._query(
            """
            (SELECT epoch_ms(ts) AS t, total, good, scrap FROM counts
              WHERE asset = $asset AND ts <= make_timestamp_ms($start)
              ORDER BY ts DESC LIMIT 1)
            UNION ALL
            (SELECT epoch_ms(ts), total, good, scrap FROM counts
              WHERE asset = $asset AND ts > make_timestamp_ms($start)
                AND ts < make_timestamp_ms($end))
            ORDER BY t
            """,
            {"asset": asset, "start": start_ms, "end": end_ms},
        )
        return [CountUpdate(asset, int(t), *map(int, rest)) for t, *rest in rows]

    def dead_letters(self, limit: int = 100) -> list[Rejected]:
        rows = self._query(
            "SELECT epoch_ms(received_at), source, topic, payload, error FROM dead_letters "
            "ORDER BY received_at DESC LIMIT ?",
            [limit],
        )
        return [Rejected(int(t), s, topic, bytes(p), e) for t, s, topic, p, e in rows]

    def latest_ts(self) -> int | None:
        row = self._query(
            "SELECT max(t) FROM (SELECT max(epoch_ms(ts)) AS t FROM latest "
            "UNION ALL SELECT max(epoch_ms(start)) FROM states "
            "UNION ALL SELECT max(epoch_ms(ts)) FROM counts)"
        )
        value = row[0][0] if row else None
        return None if value is None else int(value)

    def sql(self, statement: str, params: SqlParams = None) -> list[tuple[Any, ...]]:
        with self._write_lock, _translated("statement"):
            return self._con.execute(statement, params).fetchall()

    def arrow(self, statement: str, params: SqlParams = None) -> pa.Table:
        """A read-only query's result as an Arrow table (columnar fast path for mes)."""
        with _translated("query"), self._cursor() as cursor:
            return cursor.sql(statement, params=params).to_arrow_table()

    @contextmanager
    def transaction(self) -> Iterator[SqlRunner]:
        with self._write_lock, _translated("transaction"):
            self._con.execute("BEGIN TRANSACTION")
            try:
                yield _Runner(self._con)
            except BaseException:
                self._con.execute("ROLLBACK")
                raise
            self._con.execute("COMMIT")

    def close(self) -> None:
        with self._write_lock:
            self._con.close()

    def _query(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        with _translated("query"), self._cursor() as cursor:
            return cursor.execute(sql, params).fetchall()

    @contextmanager
    def _cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor of its own for a reader; a reopen waits until every reader is out."""
        with self._gate:
            self._gate.wait_for(lambda: not self._reopening)
            self._readers += 1
            con = self._con
        try:
            cursor = con.cursor()
            try:
                yield cursor
            finally:
                cursor.close()
        finally:
            with self._gate:
                self._readers -= 1
                self._gate.notify_all()


class _Runner:
    """Statements inside an open transaction (the caller holds the write lock)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con

    def sql(self, statement: str, params: SqlParams = None) -> list[tuple[Any, ...]]:
        return self._con.execute(statement, params).fetchall()


def _connect(
    path: str, *, read_only: bool, memory_limit: str, threads: int
) -> duckdb.DuckDBPyConnection:
    try:
        return duckdb.connect(
            path, read_only=read_only, config={"memory_limit": memory_limit, "threads": threads}
        )
    except duckdb.IOException as exc:
        raise HistorianUnavailable(
            f"cannot open {path}: {exc}. Another andon process may hold it; "
            "query that process's API instead, or stop it first."
        ) from exc


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None on another C library (musl, macOS, Windows)."""
    try:
        return getattr(ctypes.CDLL(None), "malloc_trim", None)
    except OSError:
        return None


def _trim_heap() -> None:
    """Hand the C heap's free pages back to the system.

    After a reopen, DuckDB's old bookkeeping is free but glibc keeps the pages, scattered
    between live blocks, and a new instance reuses only part of them: RSS would still creep.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@contextmanager
def _translated(action: str) -> Iterator[None]:
    """Translate DuckDB's errors into the andon tree at the boundary."""
    try:
        yield
    except duckdb.IOException as exc:
        raise HistorianUnavailable(f"historian {action} failed: {exc}") from exc
    except duckdb.Error as exc:
        raise HistorianError(f"historian {action} failed: {exc}") from exc
