"""Work orders: a state machine that rejects illegal moves, runs on assets, progress from counts.

::

    created --release--> released --start--> running --complete--> completed
       |                    |               |   ^
       |                    |           pause  resume
       |                    |               v   |
       +------cancel--------+------------ paused --complete--> completed
                                    (cancel from any open state)

``start`` and ``resume`` open a run of the order on its asset; ``pause``, ``complete`` and
``cancel`` close it. One asset never runs two orders at once: starting an order on an asset
(or above or below it in the tree) where another order's run is open is refused with
:class:`~andon.errors.InvalidRequest`, as is every move the diagram does not show. Each move
is audited. Planned quantity and times sit beside the actual ones; progress comes from the
machine counts during the runs (:mod:`andon.mes.progress`).

>>> from andon.historian import DuckDBHistorian
>>> db = DuckDBHistorian(":memory:")
>>> o = create_order(db, "WO-1", "bracket-a", 500, "acme/p1/mach/l1/cnc1", actor="planner")
>>> o = move(db, "WO-1", "release", actor="planner")
>>> o = move(db, "WO-1", "start", actor="op", ts_ms=1_000)
>>> move(db, "WO-1", "release", actor="op")
Traceback (most recent call last):
andon.errors.InvalidRequest: order WO-1 is running: cannot release it
>>> _ = create_order(db, "WO-2", "bracket-b", 10, "acme/p1/mach/l1", actor="planner")
>>> _ = move(db, "WO-2", "release", actor="planner")
>>> move(db, "WO-2", "start", actor="op", ts_ms=2_000)
Traceback (most recent call last):
andon.errors.InvalidRequest: acme/p1/mach/l1/cnc1 already runs order WO-1
>>> [(r.asset, r.start_ms, r.end_ms) for r in move(db, "WO-1", "complete", actor="op",
...                                                  ts_ms=5_000).runs]
[('acme/p1/mach/l1/cnc1', 1000, 5000)]
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from andon.errors import InvalidRequest, NotFound
from andon.historian.protocol import Historian, SqlRunner
from andon.mes import audit, store
from andon.namespace import is_under, validate_path

__all__ = [
    "MOVES",
    "STATUSES",
    "Order",
    "Run",
    "create_order",
    "get_order",
    "list_orders",
    "move",
    "runs_between",
]

STATUSES = ("created", "released", "running", "paused", "completed", "cancelled")
MOVES: dict[str, tuple[frozenset[str], str]] = {
    "release": (frozenset({"created"}), "released"),
    "start": (frozenset({"released"}), "running"),
    "pause": (frozenset({"running"}), "paused"),
    "resume": (frozenset({"paused"}), "running"),
    "complete": (frozenset({"running", "paused"}), "completed"),
    "cancel": (frozenset({"created", "released", "running", "paused"}), "cancelled"),
}
_OPENS = frozenset({"start", "resume"})
_ORDER = (
    "id, product, quantity, asset, status, planned_start_ms, planned_end_ms, created_ms, closed_ms"
)


@dataclass(frozen=True, slots=True)
class Run:
    """The order ran on ``asset`` over ``[start_ms, end_ms)`` (``end_ms`` None: running)."""

    order: str
    asset: str
    start_ms: int
    end_ms: int | None

    def to_dict(self) -> dict[str, object]:
        return {"asset": self.asset, "start": self.start_ms, "end": self.end_ms}


@dataclass(frozen=True, slots=True)
class Order:
    """A work order with its plan, status and runs."""

    id: str
    product: str
    quantity: int
    asset: str
    status: str
    planned_start_ms: int | None
    planned_end_ms: int | None
    created_ms: int
    closed_ms: int | None
    runs: tuple[Run, ...] = ()

    @property
    def actual_start_ms(self) -> int | None:
        return min((r.start_ms for r in self.runs), default=None)

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "product": self.product,
            "quantity": self.quantity,
            "asset": self.asset,
            "status": self.status,
            "planned_start": self.planned_start_ms,
            "planned_end": self.planned_end_ms,
            "created": self.created_ms,
            "actual_start": self.actual_start_ms,
            "closed": self.closed_ms,
            "runs": [r.to_dict() for r in self.runs],
        }


def _now() -> int:
    return int(time.time() * 1000)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _read(runner: Historian | SqlRunner, ident: str) -> Order | None:
    rows = runner.sql(f"SELECT {_ORDER} FROM mes_orders WHERE id = ?", [ident])
    if not rows:
        return None
    runs = runner.sql(
        "SELECT order_id, asset, start_ms, end_ms FROM mes_order_runs WHERE order_id = ? "
        "ORDER BY start_ms, asset",
        [ident],
    )
    i, product, quantity, asset, status, ps, pe, created, closed = rows[0]
    return Order(
        str(i),
        str(product),
        int(quantity),
        str(asset),
        str(status),
        _int(ps),
        _int(pe),
        int(created),
        _int(closed),
        tuple(Run(str(o), str(a), int(s), _int(e)) for o, a, s, e in runs),
    )


def get_order(db: Historian, ident: str) -> Order:
    """Order ``ident`` with its runs; :class:`NotFound` when there is none."""
    found = _read(db, ident) if store.ready(db) else None
    if found is None:
        raise NotFound(f"no order {ident!r}")
    return found


def list_orders(
    db: Historian, *, status: str | None = None, asset: str | None = None, limit: int = 500
) -> list[Order]:
    """Orders, newest first, optionally by status and at or below ``asset``."""
    if not store.ready(db):
        return []
    if status is not None and status not in STATUSES:
        raise InvalidRequest(f"unknown status {status!r}: one of {', '.join(STATUSES)}")
    where, params = ("WHERE status = ?", [status]) if status else ("", [])
    rows = db.sql(f"SELECT id, asset FROM mes_orders {where} ORDER BY created_ms DESC, id", params)
    ids = [str(i) for i, a in rows if asset is None or is_under(str(a), asset)][:limit]
    return [o for o in (_read(db, i) for i in ids) if o is not None]


def create_order(
    db: Historian,
    ident: str,
    product: str,
    quantity: int,
    asset: str,
    *,
    actor: str,
    planned_start_ms: int | None = None,
    planned_end_ms: int | None = None,
    status: str = "created",
) -> Order:
    """A new order in ``status`` (``created``, or ``released`` to skip a step)."""
    validate_path(asset)
    if not ident or "/" in ident:
        raise InvalidRequest(f"order id {ident!r} must be non-empty without '/'")
    if quantity <= 0:
        raise InvalidRequest(f"order quantity must be positive, got {quantity}")
    if status not in ("created", "released"):
        raise InvalidRequest("a new order is created or released")
    if (
        planned_start_ms is not None
        and planned_end_ms is not None
        and planned_end_ms <= planned_start_ms
    ):
        raise InvalidRequest("the planned end must be after the planned start")
    order = Order(
        ident, product, quantity, asset, status, planned_start_ms, planned_end_ms, _now(), None
    )
    with store.transaction(db) as tx:
        if _read(tx, ident) is not None:
            raise InvalidRequest(f"order {ident!r} exists already")
        tx.sql(
            f"INSERT INTO mes_orders ({_ORDER}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                ident,
                product,
                quantity,
                asset,
                status,
                planned_start_ms,
                planned_end_ms,
                order.created_ms,
                None,
            ],
        )
        audit.append(tx, actor, "create", "order", ident, None, order.to_dict())
    return order


def _busy(tx: SqlRunner, order: Order, ts_ms: int) -> None:
    """Refuse when another order runs on an overlapping asset at or after ``ts_ms``."""
    rows = tx.sql(
        "SELECT order_id, asset FROM mes_order_runs WHERE order_id <> ? "
        "AND (end_ms IS NULL OR end_ms > ?)",
        [order.id, ts_ms],
    )
    for other, asset in rows:
        if is_under(str(asset), order.asset) or is_under(order.asset, str(asset)):
            raise InvalidRequest(f"{asset} already runs order {other}")


def _apply(tx: SqlRunner, order: Order, action: str, target: str, ts_ms: int) -> None:
    if action in _OPENS:
        _busy(tx, order, ts_ms)
        tx.sql(
            "INSERT INTO mes_order_runs (order_id, asset, start_ms, end_ms) VALUES (?, ?, ?, NULL)",
            [order.id, order.asset, ts_ms],
        )
    else:
        tx.sql(
            "UPDATE mes_order_runs SET end_ms = ? WHERE order_id = ? AND end_ms IS NULL",
            [ts_ms, order.id],
        )
    closed = ts_ms if target in ("completed", "cancelled") else None
    tx.sql(
        "UPDATE mes_orders SET status = ?, closed_ms = ? WHERE id = ?", [target, closed, order.id]
    )


def move(db: Historian, ident: str, action: str, *, actor: str, ts_ms: int | None = None) -> Order:
    """Apply ``action`` (release, start, pause, resume, complete, cancel) at ``ts_ms``."""
    if action not in MOVES:
        raise InvalidRequest(f"unknown action {action!r}: one of {', '.join(MOVES)}")
    allowed, target = MOVES[action]
    at = _now() if ts_ms is None else ts_ms
    with store.transaction(db) as tx:
        order = _read(tx, ident)
        if order is None:
            raise NotFound(f"no order {ident!r}")
        if order.status not in allowed:
            raise InvalidRequest(f"order {ident} is {order.status}: cannot {action} it")
        last = max(
            [r.start_ms for r in order.runs] + [r.end_ms or 0 for r in order.runs], default=None
        )
        if last is not None and at < last:
            raise InvalidRequest(f"order {ident}: {action} at {at} is before its last move")
        _apply(tx, order, action, target, at)
        after = _read(tx, ident)
        assert after is not None  # read back inside the same transaction
        audit.append(tx, actor, action, "order", ident, order.to_dict(), after.to_dict())
    return after


def runs_between(db: Historian, assets: Sequence[str], lo: int, hi: int) -> list[tuple[Run, str]]:
    """(run, product) of orders on ``assets`` or their ancestors overlapping ``[lo, hi)``."""
    if not store.ready(db):
        return []
    rows = db.sql(
        "SELECT r.order_id, r.asset, r.start_ms, r.end_ms, o.product FROM mes_order_runs r "
        "JOIN mes_orders o ON o.id = r.order_id "
        "WHERE r.start_ms < ? AND (r.end_ms IS NULL OR r.end_ms > ?) ORDER BY r.start_ms",
        [hi, lo],
    )
    return [
        (Run(str(o), str(a), int(s), _int(e)), str(p))
        for o, a, s, e, p in rows
        if any(is_under(cell, str(a)) for cell in assets)
    ]
