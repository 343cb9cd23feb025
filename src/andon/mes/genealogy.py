"""Genealogy: material lots consumed and lots or serials produced, traced as a graph.

A link ``parent -> child`` says ``quantity`` of lot ``parent`` went into lot ``child``
(under an order). The backward trace of a lot answers "what is it made of?" (its parents,
their parents, ...); the forward trace answers "where did it go?" (a recall). Links never
form a cycle, and a lot is never consumed beyond its quantity.

>>> from andon.historian import DuckDBHistorian
>>> db = DuckDBHistorian(":memory:")
>>> for ident, kind in (("COIL-7", "material"), ("P-1", "produced"), ("BOX-1", "produced")):
...     _ = create_lot(db, Lot(ident, "x", 100.0, "kg" if kind == "material" else "pcs", kind),
...                    actor="op")
>>> _ = link(db, "COIL-7", "P-1", 40.0, actor="op")
>>> _ = link(db, "P-1", "BOX-1", 100.0, actor="op")
>>> sorted(node.id for node in trace(db, "BOX-1", "backward").nodes)
['BOX-1', 'COIL-7', 'P-1']
>>> [(e.parent, e.child) for e in trace(db, "COIL-7", "forward").edges]
[('COIL-7', 'P-1'), ('P-1', 'BOX-1')]
>>> link(db, "BOX-1", "COIL-7", 1.0, actor="op")
Traceback (most recent call last):
andon.errors.InvalidRequest: linking BOX-1 into COIL-7 would make a cycle
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from andon.errors import InvalidRequest, NotFound
from andon.historian.protocol import Historian, SqlRunner
from andon.mes import audit, store

__all__ = ["Direction", "Link", "Lot", "Trace", "create_lot", "get_lot", "link", "trace"]

Direction = Literal["backward", "forward", "both"]
KINDS = ("material", "produced", "serial")
_LOT = "id, product, quantity, unit, kind, order_id, created_ms"


@dataclass(frozen=True, slots=True)
class Lot:
    """A lot (or a serial number, quantity 1) of ``product``."""

    id: str
    product: str
    quantity: float
    unit: str = "pcs"
    kind: str = "material"
    order: str | None = None
    created_ms: int = 0

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "product": self.product,
            "quantity": self.quantity,
            "unit": self.unit,
            "kind": self.kind,
            "order": self.order,
            "created": self.created_ms,
        }


@dataclass(frozen=True, slots=True)
class Link:
    """``quantity`` of lot ``parent`` went into lot ``child``."""

    parent: str
    child: str
    quantity: float
    order: str | None
    ts_ms: int

    def to_dict(self) -> dict[str, object]:
        return {
            "parent": self.parent,
            "child": self.child,
            "quantity": self.quantity,
            "order": self.order,
            "ts": self.ts_ms,
        }


@dataclass(frozen=True, slots=True)
class Trace:
    """The graph reached from ``root``: its lots and the links between them."""

    root: str
    direction: str
    nodes: tuple[Lot, ...]
    edges: tuple[Link, ...]

    def to_dict(self) -> dict[str, object]:
        return {
            "root": self.root,
            "direction": self.direction,
            "nodes": [n.to_dict() for n in self.nodes],
            "edges": [e.to_dict() for e in self.edges],
        }


def _lot(row: tuple[object, ...]) -> Lot:
    ident, product, quantity, unit, kind, order, created = row
    return Lot(
        str(ident),
        str(product),
        float(str(quantity)),
        str(unit),
        str(kind),
        None if order is None else str(order),
        int(str(created)),
    )


def _read(runner: Historian | SqlRunner, ident: str) -> Lot | None:
    rows = runner.sql(f"SELECT {_LOT} FROM mes_lots WHERE id = ?", [ident])
    return _lot(rows[0]) if rows else None


def get_lot(db: Historian, ident: str) -> Lot:
    """Lot ``ident``; :class:`NotFound` when there is none."""
    found = _read(db, ident) if store.ready(db) else None
    if found is None:
        raise NotFound(f"no lot {ident!r}")
    return found


def create_lot(db: Historian, lot: Lot, *, actor: str) -> Lot:
    """Register a lot; audited. Serials are lots of quantity 1."""
    if not lot.id or "/" in lot.id:
        raise InvalidRequest(f"lot id {lot.id!r} must be non-empty without '/'")
    if lot.kind not in KINDS:
        raise InvalidRequest(f"lot kind must be one of {', '.join(KINDS)}")
    if not (math.isfinite(lot.quantity) and lot.quantity > 0):
        raise InvalidRequest("lot quantity must be positive")
    if lot.kind == "serial" and lot.quantity != 1:
        raise InvalidRequest("a serial number has quantity 1")
    made = Lot(
        lot.id,
        lot.product,
        lot.quantity,
        lot.unit,
        lot.kind,
        lot.order,
        lot.created_ms or int(time.time() * 1000),
    )
    with store.transaction(db) as tx:
        if _read(tx, lot.id) is not None:
            raise InvalidRequest(f"lot {lot.id!r} exists already")
        tx.sql(
            f"INSERT INTO mes_lots ({_LOT}) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                made.id,
                made.product,
                made.quantity,
                made.unit,
                made.kind,
                made.order,
                made.created_ms,
            ],
        )
        audit.append(tx, actor, "create", "lot", made.id, None, made.to_dict())
    return made


def _links(runner: Historian | SqlRunner, column: str, lots: Sequence[str]) -> list[Link]:
    marks = ", ".join("?" for _ in lots)
    rows = runner.sql(
        f"SELECT parent, child, quantity, order_id, ts_ms FROM mes_lot_links "
        f"WHERE {column} IN ({marks}) ORDER BY ts_ms, parent, child",
        list(lots),
    )
    return [
        Link(str(p), str(c), float(q), None if o is None else str(o), int(t))
        for p, c, q, o, t in rows
    ]


def _walk(runner: Historian | SqlRunner, root: str, forward: bool, depth: int) -> list[Link]:
    seen, frontier, edges = {root}, [root], []
    for _ in range(depth):
        if not frontier:
            break
        found = _links(runner, "parent" if forward else "child", frontier)
        edges += found
        nxt = [(e.child if forward else e.parent) for e in found]
        frontier = [lot for lot in dict.fromkeys(nxt) if lot not in seen]
        seen.update(frontier)
    return edges


def link(
    db: Historian,
    parent: str,
    child: str,
    quantity: float,
    *,
    actor: str,
    order: str | None = None,
    ts_ms: int | None = None,
) -> Link:
    """Record that ``quantity`` of ``parent`` went into ``child``; audited."""
    if not (math.isfinite(quantity) and quantity > 0):
        raise InvalidRequest("linked quantity must be positive")
    if parent == child:
        raise InvalidRequest("a lot cannot go into itself")
    made = Link(parent, child, quantity, order, int(time.time() * 1000) if ts_ms is None else ts_ms)
    with store.transaction(db) as tx:
        source = _read(tx, parent)
        for ident, found in ((parent, source), (child, _read(tx, child))):
            if found is None:
                raise NotFound(f"no lot {ident!r}")
        assert source is not None  # checked just above
        if child in {e.parent for e in _walk(tx, parent, False, 10_000)}:
            raise InvalidRequest(f"linking {parent} into {child} would make a cycle")
        used = sum(e.quantity for e in _links(tx, "parent", [parent]) if e.child != child)
        if used + quantity > source.quantity * (1 + 1e-9):
            raise InvalidRequest(
                f"lot {parent} has {source.quantity - used:g} {source.unit} left, not {quantity:g}"
            )
        tx.sql("DELETE FROM mes_lot_links WHERE parent = ? AND child = ?", [parent, child])
        tx.sql(
            "INSERT INTO mes_lot_links (parent, child, quantity, order_id, ts_ms) "
            "VALUES (?, ?, ?, ?, ?)",
            [parent, child, quantity, order, made.ts_ms],
        )
        audit.append(tx, actor, "link", "lot", f"{parent}>{child}", None, made.to_dict())
    return made


def trace(db: Historian, lot: str, direction: Direction = "both", depth: int = 100) -> Trace:
    """The genealogy graph of ``lot``: backward (sources), forward (uses) or both."""
    if direction not in ("backward", "forward", "both"):
        raise InvalidRequest("direction is backward, forward or both")
    get_lot(db, lot)
    edges: list[Link] = []
    if direction in ("backward", "both"):
        edges += _walk(db, lot, False, depth)
    if direction in ("forward", "both"):
        edges += _walk(db, lot, True, depth)
    unique = list({(e.parent, e.child): e for e in edges}.values())
    ids = sorted({lot} | {i for e in unique for i in (e.parent, e.child)})
    marks = ", ".join("?" for _ in ids)
    nodes = [
        _lot(r)
        for r in db.sql(f"SELECT {_LOT} FROM mes_lots WHERE id IN ({marks}) ORDER BY id", ids)
    ]
    return Trace(lot, direction, tuple(nodes), tuple(unique))
