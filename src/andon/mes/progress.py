"""Order progress from machine counts, and orders synchronised from machine events.

An order's quantities are the count increments of the cells it ran on during its runs
(a run on a line counts every cell below it). When an order passed through several cells
(a flow line), the order's own numbers are those of its **output cell**: the cell that
started the order last (the most downstream one; on ties the one that made the fewest),
while ``by_asset`` lists every cell.

Machines (and the virtual factory) announce orders with ``order_start`` / ``order_end``
events carrying ``{"order", "product", "quantity"}``. :func:`import_order_events` turns
them into MES orders and runs, idempotently: importing the same events twice changes
nothing. Such orders belong to the cell's line and are ``running`` while a run is open,
``completed`` once every run has ended.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from andon.errors import NotFound
from andon.historian.duckdb import DuckDBHistorian
from andon.historian.protocol import Historian, SqlRunner
from andon.mes import audit, store
from andon.mes.history import read_history
from andon.mes.kpis import cells_of
from andon.mes.orders import Order, get_order

__all__ = ["ImportReport", "Progress", "import_order_events", "order_progress"]

Quantities = tuple[int, int, int]
_KINDS = ("order_start", "order_end")


@dataclass(frozen=True, slots=True)
class Progress:
    """Planned against actual quantity and time of one order."""

    order: str
    status: str
    planned: int
    produced: int
    good: int
    scrap: int
    output_asset: str | None
    runtime_s: float
    by_asset: dict[str, Quantities] = field(hash=False)

    @property
    def remaining(self) -> int:
        return max(self.planned - self.good, 0)

    @property
    def percent(self) -> float:
        return 100.0 * self.good / self.planned

    def to_dict(self) -> dict[str, object]:
        return {
            "order": self.order,
            "status": self.status,
            "planned": self.planned,
            "produced": self.produced,
            "good": self.good,
            "scrap": self.scrap,
            "remaining": self.remaining,
            "percent": self.percent,
            "output_asset": self.output_asset,
            "runtime_s": self.runtime_s,
            "by_asset": {
                a: {"produced": p, "good": g, "scrap": s} for a, (p, g, s) in self.by_asset.items()
            },
        }


def _now(db: Historian) -> int:
    latest = db.latest_ts()
    return latest + 1 if latest is not None else int(time.time() * 1000)


def order_progress(
    db: Historian, order: Order | str, *, now_ms: int | None = None, fast: bool = True
) -> Progress:
    """Quantities of ``order`` from the counts of its runs up to ``now_ms`` (newest data)."""
    found = order if isinstance(order, Order) else get_order(db, order)
    now = _now(db) if now_ms is None else now_ms
    infos = db.assets()
    spans: list[tuple[str, int, int]] = []
    for run in found.runs:
        end = now if run.end_ms is None else run.end_ms
        try:
            cells = cells_of(infos, run.asset)
        except NotFound:
            continue
        spans += [(c.path, run.start_ms, end) for c in cells if end > run.start_ms]
    by_asset: dict[str, Quantities] = {}
    first_start: dict[str, int] = {}
    if spans:
        bounds = sorted({t for _, a, b in spans for t in (a, b)})
        history = read_history(
            db, sorted({c for c, _, _ in spans}), (bounds[0], bounds[0] + 1), bounds, fast=fast
        )
        for cell, a, b in spans:
            p, g, s = history[cell].quantities(a, b)
            q = by_asset.get(cell, (0, 0, 0))
            by_asset[cell] = (q[0] + p, q[1] + g, q[2] + s)
            first_start[cell] = min(first_start.get(cell, a), a)
    output = max(by_asset, key=lambda c: (first_start[c], -by_asset[c][0], c), default=None)
    produced, good, scrap = by_asset[output] if output is not None else (0, 0, 0)
    runtime = sum(((r.end_ms or now) - r.start_ms) for r in found.runs) / 1000
    return Progress(
        found.id,
        found.status,
        found.quantity,
        produced,
        good,
        scrap,
        output,
        max(runtime, 0.0),
        by_asset,
    )


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What :func:`import_order_events` changed."""

    events: int
    orders_created: int
    runs_opened: int
    runs_closed: int

    def to_dict(self) -> dict[str, int]:
        return {
            "events": self.events,
            "orders_created": self.orders_created,
            "runs_opened": self.runs_opened,
            "runs_closed": self.runs_closed,
        }


def _ms(value: Any) -> int:
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return round(aware.timestamp() * 1000)
    return int(value)


def _events(
    db: Historian, start_ms: int, end_ms: int
) -> list[tuple[str, int, str, dict[str, Any]]]:
    # DuckDB keeps naive UTC TIMESTAMPs; other backends (TIMESTAMPTZ) get aware instants.
    naive = isinstance(db, DuckDBHistorian)
    lo, hi = (
        datetime.fromtimestamp(ms / 1000, UTC).replace(tzinfo=None if naive else UTC)
        for ms in (start_ms, end_ms)
    )
    rows = db.sql(
        "SELECT asset, ts, kind, data FROM events WHERE kind IN (?, ?) AND ts >= ? AND ts < ?",
        [*_KINDS, lo, hi],
    )
    out = []
    for asset, ts, kind, data in rows:
        payload = data if isinstance(data, dict) else orjson.loads(data or "{}")
        if isinstance(payload, dict) and payload.get("order"):
            out.append((str(asset), _ms(ts), str(kind), payload))
    return sorted(out, key=lambda e: (e[1], e[2] != "order_end", e[0]))


def _ensure_order(tx: SqlRunner, cell: str, ts: int, data: dict[str, Any]) -> bool:
    ident = str(data["order"])
    if tx.sql("SELECT 1 FROM mes_orders WHERE id = ?", [ident]):
        return False
    line = cell.rpartition("/")[0] or cell
    quantity = max(int(data.get("quantity") or 1), 1)
    tx.sql(
        "INSERT INTO mes_orders (id, product, quantity, asset, status, planned_start_ms, "
        "planned_end_ms, created_ms, closed_ms) "
        "VALUES (?, ?, ?, ?, 'running', NULL, NULL, ?, NULL)",
        [ident, str(data.get("product") or "unknown"), quantity, line, ts],
    )
    return True


def _sync_status(tx: SqlRunner, ident: str, actor: str) -> None:
    before = tx.sql("SELECT status, closed_ms FROM mes_orders WHERE id = ?", [ident])
    rows = tx.sql("SELECT end_ms FROM mes_order_runs WHERE order_id = ?", [ident])
    ends = [e for (e,) in rows]
    status = "running" if any(e is None for e in ends) or not ends else "completed"
    closed = None if status == "running" else max(int(e) for e in ends)
    if before and (before[0][0], before[0][1]) != (status, closed):
        tx.sql(
            "UPDATE mes_orders SET status = ?, closed_ms = ? WHERE id = ?", [status, closed, ident]
        )
        audit.append(
            tx,
            actor,
            "sync",
            "order",
            ident,
            {"status": before[0][0], "closed": before[0][1]},
            {"status": status, "closed": closed},
        )


def import_order_events(
    db: Historian, start_ms: int, end_ms: int, *, actor: str = "machine"
) -> ImportReport:
    """Create orders and runs from the ``order_start``/``order_end`` events in the window."""
    events = _events(db, start_ms, end_ms)
    created = opened = closed = 0
    touched: set[str] = set()
    with store.transaction(db) as tx:
        for cell, ts, kind, data in events:
            ident = str(data["order"])
            touched.add(ident)
            if _ensure_order(tx, cell, ts, data):
                created += 1
                audit.append(tx, actor, "import", "order", ident, None, {**data, "asset": cell})
            if kind == "order_start":
                if not tx.sql(
                    "SELECT 1 FROM mes_order_runs WHERE order_id = ? AND asset = ? "
                    "AND start_ms = ?",
                    [ident, cell, ts],
                ):
                    tx.sql(
                        "INSERT INTO mes_order_runs (order_id, asset, start_ms, end_ms) "
                        "VALUES (?, ?, ?, NULL)",
                        [ident, cell, ts],
                    )
                    opened += 1
            else:
                rows = tx.sql(
                    "SELECT start_ms FROM mes_order_runs WHERE order_id = ? AND asset = ?"
                    " AND end_ms IS NULL AND start_ms <= ?",
                    [ident, cell, ts],
                )
                if rows:
                    tx.sql(
                        "UPDATE mes_order_runs SET end_ms = ? WHERE order_id = ? AND asset = ? "
                        "AND end_ms IS NULL AND start_ms <= ?",
                        [ts, ident, cell, ts],
                    )
                    closed += len(rows)
        for ident in sorted(touched):
            _sync_status(tx, ident, actor)
    return ImportReport(len(events), created, opened, closed)
