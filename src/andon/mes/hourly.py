"""Hourly rollup of count readings: long OEE windows read hours, not millions of readings.

A month of 1 Hz count totals is 2.6 million readings; its OEE needs only how much the totals
grew in each window. The table ``mes_count_hours`` keeps, per cell and closed UTC hour, what
:mod:`andon.mes.production` needs to chain that hour to its neighbours exactly:

- ``n`` readings and the sums of their totals (a fingerprint of the hour's raw data);
- the increments *inside* the hour (between consecutive readings of the hour, resets
  included);
- the hour's first and last readings (in the order readings are chained: time, then value).

In a computation the hour stands in as two readings: its first, which closes the increment
since whatever reading came before (in an earlier hour or raw), and its last, which carries
the increments inside the hour (:func:`~andon.mes.increments.window_increments` with
``forced`` rows). That is exactly the chain of the raw readings, so results are equal to the
millisecond: only hours that lie wholly inside one window of the computation and ended
``GRACE_MS`` before now come from the rollup; the edges of windows (partial hours) and the
current hour are read raw.

Hours are materialised lazily, the first time a computation needs them (any writable
historian; a read-only one reads raw). Each computation then checks the hours it uses
against the raw data with one aggregate over the readings: their count and the sums of
their totals (both historians replace a reading sent again with the same time in place).
When late data landed in an hour (store-and-forward after an outage, a replay, a backfill),
the fingerprints of that cell's hours are compared one by one and the stale hours are
recomputed and stored before they are used. Nothing in the write path has to know.

>>> plan([1_000, 9_000_000], closed_before=8_000_000)
([(3600000, 7200000)], [(1000, 3600000), (7200000, 9000000)])
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
from numpy.typing import NDArray

from andon.errors import HistorianError
from andon.historian.duckdb import DuckDBHistorian
from andon.historian.postgres import PostgresHistorian
from andon.historian.postgres.schema import AT, MS
from andon.historian.protocol import Historian
from andon.mes import store
from andon.mes.increments import reading_order

__all__ = [
    "GRACE_MS",
    "HOUR_MS",
    "Readings",
    "hours",
    "plan",
    "readings",
    "supported",
]

_logger = logging.getLogger(__name__)

HOUR_MS = 3_600_000
GRACE_MS = 600_000
"""An hour enters the rollup only once it ended this long ago (the current one stays raw)."""

Ints = NDArray[np.int64]
Range = tuple[int, int]

_COLUMNS = (
    "n, s_total, s_good, s_scrap, produced, good, scrap, first_ts, first_total, first_good, "
    "first_scrap, last_ts, last_total, last_good, last_scrap"
)
_ROW_WIDTH = 17  # asset, hour_ms and the columns above
_CHUNK = 500  # rows per INSERT (PostgreSQL allows 65,535 parameters per statement)


@dataclass(slots=True)
class Readings:
    """Count readings of many cells as columns (``asset`` indexes the cells), some of them
    standing in for a whole rollup hour: rows with ``is_forced`` close the increments in
    ``forced`` instead of the ones computed from the previous reading."""

    asset: Ints
    ts: Ints
    total: Ints
    good: Ints
    scrap: Ints
    is_forced: NDArray[np.bool_]
    forced: tuple[Ints, Ints, Ints]

    @classmethod
    def raw(cls, asset: Ints, ts: Ints, total: Ints, good: Ints, scrap: Ints) -> Readings:
        zero = np.zeros(len(ts), dtype=np.int64)
        flags = np.zeros(len(ts), dtype=np.bool_)
        return cls(asset, ts, total, good, scrap, flags, (zero, zero, zero))

    @classmethod
    def concat(cls, parts: Sequence[Readings]) -> Readings:
        def join(pick: Any, dtype: Any = np.int64) -> Any:
            return np.concatenate([np.asarray(pick(p), dtype=dtype) for p in parts])

        return cls(
            join(lambda p: p.asset),
            join(lambda p: p.ts),
            join(lambda p: p.total),
            join(lambda p: p.good),
            join(lambda p: p.scrap),
            join(lambda p: p.is_forced, np.bool_),
            (
                join(lambda p: p.forced[0]),
                join(lambda p: p.forced[1]),
                join(lambda p: p.forced[2]),
            ),
        )


def supported(db: Historian) -> bool:
    """True for the backends whose count table this module can read with its own SQL."""
    return isinstance(db, DuckDBHistorian | PostgresHistorian)


def plan(bounds: Sequence[int], *, closed_before: int) -> tuple[list[Range], list[Range]]:
    """Split ``[bounds[0], bounds[-1])`` into runs of rollup hours and ranges read raw.

    An hour is in a run when it lies wholly between two consecutive bounds and ended at or
    before ``closed_before``; everything else is raw. Adjacent ranges of a kind are merged.
    """
    hours: list[Range] = []
    raw: list[Range] = []

    def add(ranges: list[Range], lo: int, hi: int) -> None:
        if hi <= lo:
            return
        if ranges and ranges[-1][1] == lo:
            ranges[-1] = (ranges[-1][0], hi)
        else:
            ranges.append((lo, hi))

    for a, b in pairwise(bounds):
        first = -(-a // HOUR_MS) * HOUR_MS
        last = min(b, closed_before) // HOUR_MS * HOUR_MS
        if first < last:
            add(raw, a, first)
            add(hours, first, last)
            add(raw, last, b)
        else:
            add(raw, a, b)
    return hours, raw


@dataclass(frozen=True, slots=True)
class _Dialect:
    ms: str  # a timestamp column as epoch milliseconds
    at: str  # epoch milliseconds as a timestamp


_DUCKDB = _Dialect("epoch_ms({})", "make_timestamp_ms({})")
_POSTGRES = _Dialect(MS, AT)
_FINGERPRINT = "count(*), sum(total), sum(good), sum(scrap)"
_ZERO = (0, 0, 0, 0)  # the fingerprint of no readings (absent from a GROUP BY)


def _dialect(db: Historian) -> _Dialect:
    return _DUCKDB if isinstance(db, DuckDBHistorian) else _POSTGRES


def _marks(values: Sequence[object]) -> str:
    return ", ".join("?" for _ in values)


def _ranges_sql(dialect: _Dialect, ranges: Sequence[Range]) -> tuple[str, list[int]]:
    at = dialect.at.format("?")
    clause = " OR ".join(f"(ts >= {at} AND ts < {at})" for _ in ranges)
    return f"({clause})", [t for r in ranges for t in r]


def _raw(db: Historian, cells: Sequence[str], ranges: Sequence[Range]) -> Readings:
    """The readings of ``cells`` with a time in one of ``ranges``."""
    empty = np.zeros(0, dtype=np.int64)
    if not ranges or not cells:
        return Readings.raw(empty, empty, empty, empty, empty)
    dialect = _dialect(db)
    where, params = _ranges_sql(dialect, ranges)
    # The cell's index, not its name: no string per reading crosses into Python.
    index = "CASE asset " + " ".join("WHEN ? THEN ?" for _ in cells) + " END"
    statement = (
        f"SELECT {index}, {dialect.ms.format('ts')}, total, good, scrap FROM counts "
        f"WHERE asset IN ({_marks(cells)}) AND {where}"
    )
    values = [*(v for i, cell in enumerate(cells) for v in (cell, i)), *cells, *params]
    arrow = getattr(db, "arrow", None)
    if callable(arrow):  # columns straight into NumPy, no Python object per reading
        table = arrow(statement, values)
        columns = [np.asarray(table.column(k).to_numpy(), dtype=np.int64) for k in range(5)]
        return Readings.raw(*columns)
    rows = db.sql(statement, values)
    table = np.array(rows, dtype=np.int64).reshape(len(rows), 5)
    return Readings.raw(*(table[:, k] for k in range(5)))


def _baseline(db: Historian, cells: Sequence[str], before: int) -> Readings:
    """Each cell's last reading strictly before ``before`` (when there is one)."""
    dialect = _dialect(db)
    at, ms = dialect.at.format("?"), dialect.ms.format("ts")
    rows: list[tuple[int, int, int, int, int]] = []
    for i, cell in enumerate(cells):
        found = db.sql(
            f"SELECT {ms}, total, good, scrap FROM counts WHERE asset = ? AND ts < {at} "
            "ORDER BY ts DESC, total DESC, good DESC, scrap DESC LIMIT 1",
            [cell, before],
        )
        rows += [(i, *map(int, row)) for row in found]  # type: ignore[misc]
    table = np.array(rows, dtype=np.int64).reshape(len(rows), 5)
    return Readings.raw(*(table[:, k] for k in range(5)))


def _compute(raw: Readings, wanted: Sequence[tuple[int, int]]) -> list[list[Any]]:
    """Rollup rows ``[asset index, hour, n, ...]`` of the ``wanted`` (asset index, hour)
    pairs from all their raw readings (hours without readings give ``n`` = 0 rows)."""
    order = reading_order(raw.asset, raw.ts, [raw.total, raw.good, raw.scrap])

    def pick(x: Ints) -> Ints:
        return x if order is None else x[order]

    a, t = pick(raw.asset), pick(raw.ts)
    counters = [pick(raw.total), pick(raw.good), pick(raw.scrap)]
    hour = t // HOUR_MS * HOUR_MS
    found: dict[tuple[int, int], list[Any]] = {}
    if len(t):
        new = np.ones(len(t), dtype=np.bool_)
        new[1:] = (a[1:] != a[:-1]) | (hour[1:] != hour[:-1])
        starts = np.flatnonzero(new)
        ends = np.append(starts[1:], len(t)) - 1
        steps = [c[1:] - c[:-1] for c in counters]
        reset = (steps[0] < 0) | (steps[1] < 0) | (steps[2] < 0)
        inside = [
            np.concatenate(([0], np.where(new[1:], 0, np.where(reset, c[1:], s))))
            for c, s in zip(counters, steps, strict=True)
        ]
        sums = [np.add.reduceat(c, starts) for c in counters]
        made = [np.add.reduceat(x, starts) for x in inside]
        firsts = [t[starts], *(c[starts] for c in counters)]
        lasts = [t[ends], *(c[ends] for c in counters)]
        columns = [a[starts], hour[starts], ends - starts + 1, *sums, *made, *firsts, *lasts]
        for row in np.stack(columns, axis=1).tolist():
            found[(row[0], row[1])] = row
    empty: list[Any] = [0] * 7 + [None] * 8
    return [found.get(key, [key[0], key[1], *empty]) for key in wanted]


def _store(db: Historian, cells: Sequence[str], rows: list[list[Any]]) -> None:
    """Upsert rollup rows; a failure (read-only, a concurrent writer) only loses the cache."""
    marks = "(" + _marks(range(_ROW_WIDTH)) + ")"
    updates = ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS.split(", "))
    try:
        with store.transaction(db) as tx:
            for i in range(0, len(rows), _CHUNK):
                chunk = rows[i : i + _CHUNK]
                tx.sql(
                    f"INSERT INTO mes_count_hours (asset, hour_ms, {_COLUMNS}) VALUES "
                    + ", ".join(marks for _ in chunk)
                    + f" ON CONFLICT (asset, hour_ms) DO UPDATE SET {updates}",
                    [v for row in chunk for v in [cells[row[0]], *row[1:]]],
                )
    except HistorianError as exc:
        _logger.info("count rollup not stored (%s); computed again next time", exc)


def _stored(
    db: Historian, cells: Sequence[str], runs: Sequence[Range]
) -> dict[tuple[int, int], list[Any]]:
    clause = " OR ".join("(hour_ms >= ? AND hour_ms < ?)" for _ in runs)
    rows = db.sql(
        f"SELECT asset, hour_ms, {_COLUMNS} FROM mes_count_hours "
        f"WHERE asset IN ({_marks(cells)}) AND ({clause})",
        [*cells, *(t for r in runs for t in r)],
    )
    index = {cell: i for i, cell in enumerate(cells)}
    out = {}
    for asset, hour_ms, *rest in rows:
        key = (index[str(asset)], int(hour_ms))
        out[key] = [key[0], key[1], *rest]
    return out


def _fingerprints(
    db: Historian, cells: Sequence[str], runs: Sequence[Range], *, by_hour: bool
) -> dict[tuple[str, int], tuple[int, ...]]:
    """The raw readings' fingerprint per cell (``by_hour``: per cell and hour) over ``runs``."""
    dialect = _dialect(db)
    where, params = _ranges_sql(dialect, runs)
    ms = dialect.ms.format("ts")
    hour = f"{ms} - ((({ms}) % {HOUR_MS}) + {HOUR_MS}) % {HOUR_MS}" if by_hour else "0"
    rows = db.sql(
        f"SELECT asset, {hour} AS h, {_FINGERPRINT} FROM counts "
        f"WHERE asset IN ({_marks(cells)}) AND {where} GROUP BY asset, h",
        [*cells, *params],
    )
    return {(str(r[0]), int(r[1])): tuple(int(v) for v in r[2:]) for r in rows}


def _row_print(row: Sequence[Any]) -> tuple[int, ...]:
    return tuple(map(int, row[2:6]))


def _sum_prints(prints: list[tuple[int, ...]]) -> tuple[int, ...]:
    return tuple(int(sum(column)) for column in zip(*prints, strict=True)) if prints else ()


def _refresh(db: Historian, cells: Sequence[str], wanted: list[tuple[int, int]]) -> list[list[Any]]:
    """Compute the ``wanted`` (asset index, hour) rows from raw readings and store them."""
    by_cell: dict[int, list[int]] = {}
    for i, h in wanted:
        by_cell.setdefault(i, []).append(h)
    rows: list[list[Any]] = []
    for i, hour_list in by_cell.items():
        ranges: list[Range] = []
        for h in sorted(hour_list):
            if ranges and ranges[-1][1] == h:
                ranges[-1] = (ranges[-1][0], h + HOUR_MS)
            else:
                ranges.append((h, h + HOUR_MS))
        raw = _raw(db, [cells[i]], ranges)
        raw.asset[:] = i
        rows += _compute(raw, [(i, h) for h in sorted(hour_list)])
    _store(db, cells, rows)
    return rows


def hours(db: Historian, cells: Sequence[str], runs: Sequence[Range]) -> Readings:
    """The rollup hours of ``cells`` over ``runs`` (whole hours), materialised and checked
    against the raw readings first, as readings that stand in for them."""
    every = [(i, h) for i in range(len(cells)) for a, b in runs for h in range(a, b, HOUR_MS)]
    stored = _stored(db, cells, runs)
    missing = [key for key in every if key not in stored]
    if missing:
        for row in _refresh(db, cells, missing):
            stored[(row[0], row[1])] = row
    actual = _fingerprints(db, cells, runs, by_hour=False)
    per_cell: dict[int, list[tuple[int, ...]]] = {}
    for key in every:
        per_cell.setdefault(key[0], []).append(_row_print(stored[key]))
    stale = [
        i
        for i, prints in per_cell.items()
        if _sum_prints(prints) != actual.get((cells[i], 0), _ZERO)
    ]
    if stale:
        names = [cells[i] for i in stale]
        by_hour = _fingerprints(db, names, runs, by_hour=True)
        picked = set(stale)
        redo = [
            (i, h)
            for i, h in every
            if i in picked and _row_print(stored[(i, h)]) != by_hour.get((cells[i], h), _ZERO)
        ]
        _logger.info("count rollup: %d stale hours of %d cells recomputed", len(redo), len(stale))
        for row in _refresh(db, cells, redo):
            stored[(row[0], row[1])] = row
    return _as_readings([stored[key] for key in every])


def _as_readings(rows: list[list[Any]]) -> Readings:
    """Each hour as its first reading and, from two readings on, its last with the inside."""
    firsts = [r for r in rows if r[2] > 0]
    lasts = [r for r in rows if r[2] > 1]
    first = np.array([[r[0], *r[9:13]] for r in firsts], dtype=np.int64).reshape(-1, 5)
    last = np.array([[r[0], *r[13:17], *r[6:9]] for r in lasts], dtype=np.int64).reshape(-1, 8)
    zeros = np.zeros(len(first), dtype=np.int64)
    return Readings(
        np.concatenate([first[:, 0], last[:, 0]]),
        np.concatenate([first[:, 1], last[:, 1]]),
        np.concatenate([first[:, 2], last[:, 2]]),
        np.concatenate([first[:, 3], last[:, 3]]),
        np.concatenate([first[:, 4], last[:, 4]]),
        np.concatenate([np.zeros(len(first), np.bool_), np.ones(len(last), np.bool_)]),
        (
            np.concatenate([zeros, last[:, 5]]),
            np.concatenate([zeros, last[:, 6]]),
            np.concatenate([zeros, last[:, 7]]),
        ),
    )


def readings(
    db: Historian,
    cells: Sequence[str],
    bounds: Sequence[int],
    *,
    closed_before: int | None = None,
    baseline: Readings | None = None,
) -> Readings:
    """What :func:`~andon.mes.increments.window_increments` needs for ``cells`` between
    ``bounds``: each cell's last reading before the first bound (or ``baseline``, when the
    caller already has it), the raw readings of partial and recent hours, and the rollup
    hours in between. ``closed_before`` defaults to now minus :data:`GRACE_MS`."""
    now = int(time.time() * 1000) - GRACE_MS if closed_before is None else closed_before
    runs, raw = plan(bounds, closed_before=now)
    if runs and not store.ensure(db):  # a read-only database without the table: all raw
        runs, raw = [], [(bounds[0], bounds[-1])]
    parts = [_baseline(db, cells, bounds[0]) if baseline is None else baseline]
    parts.append(_raw(db, cells, raw))
    if runs:
        parts.append(hours(db, cells, runs))
    return Readings.concat(parts)
