"""Machine history for MES calculations: state timelines and quantities of many cells at once.

Two readers with the same answers. The generic one uses the :class:`Historian` protocol
(``state_timeline`` and ``count_totals`` per cell) and works on every backend. The DuckDB one
reads all cells at once: states in one statement, and the count increments (resets
included, the rules of :mod:`andon.mes.production`) per window either computed by DuckDB
(window functions) or, when the historian offers an Arrow door (``historian.arrow(sql,
params) -> pyarrow.Table``), from Arrow columns in NumPy, several times faster: 30 days of
1 Hz totals never become Python objects.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from andon.historian.duckdb import DuckDBHistorian
from andon.historian.protocol import Historian
from andon.mes.increments import window_increments
from andon.mes.production import count_deltas
from andon.mes.timeline import Timeline
from andon.signals import CountUpdate

__all__ = ["CellHistory", "read_history"]

Quantities = tuple[int, int, int]


class ArrowQuery(Protocol):
    """``historian.arrow(statement, params)``: a query's result as an Arrow table."""

    def __call__(self, statement: str, params: list[Any]) -> pa.Table: ...


_RECENT_MS = 7 * 86_400_000  # where the state or reading carried in is looked for first


@dataclass(slots=True)
class CellHistory:
    """One cell's raw timeline over the read range and its quantities per window."""

    asset: str
    timeline: Timeline
    bounds: list[int]
    _sums: list[Quantities] = field(default_factory=list)
    _counts: list[CountUpdate] | None = None

    def quantities(self, start_ms: int, end_ms: int) -> Quantities:
        """(produced, good, scrap) in ``[start_ms, end_ms)``; both must be read bounds."""
        if self._counts is not None:
            return count_deltas(self._counts, start_ms, end_ms)
        lo, hi = bisect.bisect_left(self.bounds, start_ms), bisect.bisect_left(self.bounds, end_ms)
        if self.bounds[lo] != start_ms or hi >= len(self.bounds) or self.bounds[hi] != end_ms:
            raise ValueError(f"[{start_ms}, {end_ms}) is not between read bounds")
        picked = self._sums[lo:hi]
        return (sum(q[0] for q in picked), sum(q[1] for q in picked), sum(q[2] for q in picked))


def _protocol(
    db: Historian, cells: Sequence[str], states: tuple[int, int], bounds: list[int]
) -> dict[str, CellHistory]:
    out = {}
    for cell in cells:
        timeline = Timeline.of(db.state_timeline(cell, *states))
        # From start - 1: the carried-in reading must lie strictly before the first bound,
        # since a reading at a bound closes an increment that belongs to the window after it.
        counts = db.count_totals(cell, bounds[0] - 1, bounds[-1])
        out[cell] = CellHistory(cell, timeline, bounds, _counts=counts)
    return out


_STATES = """
SELECT asset, epoch_ms(start), code, reason FROM states
WHERE asset IN (SELECT unnest(?::VARCHAR[]))
  AND start >= make_timestamp_ms(?) AND start < make_timestamp_ms(?)
"""
_CARRIED = """
SELECT asset, max({'t': epoch_ms(start), 'c': code, 'r': reason}) FROM states
WHERE asset IN (SELECT unnest(?::VARCHAR[])) AND start < make_timestamp_ms(?)
  AND start >= make_timestamp_ms(?)
GROUP BY asset
"""
_BASELINE = """
SELECT asset, max({'t': epoch_ms(ts), 'total': total, 'good': good, 'scrap': scrap})
FROM counts
WHERE asset IN (SELECT unnest(?::VARCHAR[])) AND ts < make_timestamp_ms(?)
  AND ts >= make_timestamp_ms(?)
GROUP BY asset
"""
_INCREMENTS = """
WITH bounds AS (SELECT unnest(?::BIGINT[]) AS b),
base AS (SELECT unnest(?::VARCHAR[]) AS asset, unnest(?::BIGINT[]) AS t,
                unnest(?::BIGINT[]) AS total, unnest(?::BIGINT[]) AS good,
                unnest(?::BIGINT[]) AS scrap),
readings AS (
    SELECT asset, t, total, good, scrap FROM base
    UNION ALL
    SELECT asset, epoch_ms(ts), total, good, scrap FROM counts
    WHERE asset IN (SELECT unnest(?::VARCHAR[]))
      AND ts >= make_timestamp_ms(?) AND ts < make_timestamp_ms(?)
),
steps AS (
    SELECT asset, t, total, good, scrap,
           lag(total) OVER w AS pt, lag(good) OVER w AS pg, lag(scrap) OVER w AS ps
    FROM readings WINDOW w AS (PARTITION BY asset ORDER BY t, total, good, scrap)
),
increments AS (
    SELECT asset, t,
        CASE WHEN total < pt OR good < pg OR scrap < ps THEN total ELSE total - pt END AS dt,
        CASE WHEN total < pt OR good < pg OR scrap < ps THEN good ELSE good - pg END AS dg,
        CASE WHEN total < pt OR good < pg OR scrap < ps THEN scrap ELSE scrap - ps END AS ds
    FROM steps WHERE pt IS NOT NULL
)
SELECT asset, b, sum(dt), sum(dg), sum(ds)
FROM increments ASOF JOIN bounds ON increments.t >= bounds.b
GROUP BY asset, b
"""


def _carried(db: DuckDBHistorian, sql: str, cells: list[str], before: int) -> dict[str, Any]:
    """The last row before ``before`` per cell: in the last week first, then in all history."""
    found = {a: row for a, row in db.sql(sql, [cells, before, before - _RECENT_MS])}
    missing = [cell for cell in cells if cell not in found]
    if missing:
        found.update({a: row for a, row in db.sql(sql, [missing, before, -(2**62)])})
    return found


def _timelines(db: DuckDBHistorian, cells: list[str], lo: int, hi: int) -> dict[str, Timeline]:
    rows: dict[str, tuple[list[int], list[int], list[str | None]]] = {
        c: ([], [], []) for c in cells
    }
    for asset, row in _carried(db, _CARRIED, cells, lo).items():
        rows[asset][0].append(row["t"])
        rows[asset][1].append(row["c"])
        rows[asset][2].append(row["r"])
    for asset, ts, code, reason in db.sql(_STATES, [cells, lo, hi]):
        rows[asset][0].append(ts)
        rows[asset][1].append(code)
        rows[asset][2].append(reason)
    return {cell: Timeline.from_rows(*columns) for cell, columns in rows.items()}


_READINGS = """
SELECT list_position(?::VARCHAR[], asset) - 1 AS a, ts, total, good, scrap FROM counts
WHERE list_contains(?::VARCHAR[], asset)
  AND ts >= make_timestamp_ms(?) AND ts < make_timestamp_ms(?)
"""
_PER_MS = {"ms": 1, "us": 1000, "ns": 1_000_000}


def _epoch_ms(column: pa.ChunkedArray) -> NDArray[np.int64]:
    """Epoch milliseconds of an Arrow timestamp column, without a Python object per row."""
    unit = str(column.type.unit)
    raw: NDArray[np.int64] = np.asarray(pc.cast(column, pa.int64()).to_numpy(), dtype=np.int64)
    return raw * 1000 if unit == "s" else raw // _PER_MS[unit]


def _sums_arrow(
    arrow: ArrowQuery, base: dict[str, Any], cells: list[str], bounds: list[int]
) -> dict[str, list[Quantities]]:
    """The readings as Arrow columns, the increments in NumPy: no row becomes an object."""
    table = arrow(_READINGS, [cells, cells, bounds[0], bounds[-1]])
    keys = list(base)
    index = {cell: i for i, cell in enumerate(cells)}

    def column(name: str) -> NDArray[np.int64]:
        head = [index[k] for k in keys] if name == "a" else [base[k][name] for k in keys]
        tail = _epoch_ms(table.column("ts")) if name == "t" else table.column(name).to_numpy()
        return np.concatenate([np.asarray(head, dtype=np.int64), tail.astype(np.int64)])

    sums = window_increments(
        column("a"),
        column("t"),
        column("total"),
        column("good"),
        column("scrap"),
        bounds,
        len(cells),
    )
    return {
        cell: [(int(p), int(g), int(b)) for p, g, b in sums[i].tolist()]
        for cell, i in index.items()
    }


def _sums(db: DuckDBHistorian, cells: list[str], bounds: list[int]) -> dict[str, list[Quantities]]:
    base = _carried(db, _BASELINE, cells, bounds[0])
    arrow = getattr(db, "arrow", None)  # an Arrow door, where the historian offers one
    if callable(arrow):
        return _sums_arrow(arrow, base, cells, bounds)
    keys = list(base)
    columns = [[base[a][k] for a in keys] for k in ("t", "total", "good", "scrap")]
    rows = db.sql(_INCREMENTS, [bounds, keys, *columns, cells, bounds[0], bounds[-1]])
    index = {b: i for i, b in enumerate(bounds)}
    sums = {cell: [(0, 0, 0)] * (len(bounds) - 1) for cell in cells}
    for asset, b, produced, good, scrap in rows:
        sums[asset][index[b]] = (int(produced), int(good), int(scrap))
    return sums


def _duckdb(
    db: DuckDBHistorian, cells: list[str], states: tuple[int, int], bounds: list[int]
) -> dict[str, CellHistory]:
    timelines = _timelines(db, cells, *states)
    sums = _sums(db, cells, bounds)
    return {cell: CellHistory(cell, timelines[cell], bounds, sums[cell]) for cell in cells}


def read_history(
    db: Historian,
    cells: Sequence[str],
    states: tuple[int, int],
    bounds: Sequence[int],
    *,
    fast: bool = True,
) -> dict[str, CellHistory]:
    """Timelines of ``cells`` over ``states`` (the state in force at its start included) and
    their quantities between consecutive ``bounds`` (sorted window boundaries).

    ``fast`` uses the DuckDB reader when ``db`` is the embedded historian.
    """
    edges = sorted(set(bounds))
    if not cells or len(edges) < 2:
        return {cell: CellHistory(cell, Timeline.of([]), edges, _counts=[]) for cell in cells}
    if fast and isinstance(db, DuckDBHistorian):
        return _duckdb(db, list(cells), states, edges)
    return _protocol(db, cells, states, edges)
