"""Products with units, bills of materials, routings, and ideal cycle times per asset.

A product's BOM lists its components and the quantity of each per unit of the product; its
routing lists operations in order, each on a work centre (an asset path) with a standard
time per unit. The ideal cycle time of a product on an asset (ISO 22400's planned runtime
per unit, PRU) is what OEE's performance uses while an order of that product runs there.

>>> from andon.historian import DuckDBHistorian
>>> db = DuckDBHistorian(":memory:")
>>> bracket = Product("bracket-a", "Bracket A", "pcs",
...                   bom=(Component("steel-sheet", 0.25),),
...                   routing=(Operation(10, "mill", "acme/p1/mach/l1/cnc1", 40.0),))
>>> save_product(db, bracket, actor="eng").routing[0].standard_time_s
40.0
>>> set_cycle_time(db, "acme/p1/mach/l1/cnc1", "bracket-a", 38.5, actor="eng")
>>> cycle_times(db, ["acme/p1/mach/l1/cnc1"])
{('acme/p1/mach/l1/cnc1', 'bracket-a'): 38.5}
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from andon.errors import InvalidRequest, NotFound
from andon.historian.protocol import Historian, SqlRunner
from andon.mes import audit, store
from andon.namespace import validate_path

__all__ = [
    "Component",
    "Operation",
    "Product",
    "cycle_times",
    "get_product",
    "products",
    "save_product",
    "set_cycle_time",
]


@dataclass(frozen=True, slots=True)
class Component:
    """``quantity`` of product ``product`` per unit of the parent."""

    product: str
    quantity: float


@dataclass(frozen=True, slots=True)
class Operation:
    """Step ``step`` of a routing: ``operation`` on ``work_centre`` taking ``standard_time_s``."""

    step: int
    operation: str
    work_centre: str
    standard_time_s: float


@dataclass(frozen=True, slots=True)
class Product:
    """A product: its id, name, unit, bill of materials and routing."""

    id: str
    name: str
    unit: str = "pcs"
    bom: tuple[Component, ...] = ()
    routing: tuple[Operation, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "unit": self.unit,
            "bom": [{"product": c.product, "quantity": c.quantity} for c in self.bom],
            "routing": [
                {
                    "step": o.step,
                    "operation": o.operation,
                    "work_centre": o.work_centre,
                    "standard_time_s": o.standard_time_s,
                }
                for o in self.routing
            ],
        }

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Product:
        try:
            return cls(
                str(data["id"]),
                str(data.get("name") or data["id"]),
                str(data.get("unit") or "pcs"),
                tuple(
                    Component(str(c["product"]), float(c["quantity"])) for c in data.get("bom", ())
                ),
                tuple(
                    Operation(
                        int(o["step"]),
                        str(o["operation"]),
                        str(o["work_centre"]),
                        float(o["standard_time_s"]),
                    )
                    for o in data.get("routing", ())
                ),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidRequest(f"invalid product: {exc}") from exc


def _positive(value: float, what: str) -> None:
    if not (math.isfinite(value) and value > 0):
        raise InvalidRequest(f"{what} must be positive, got {value}")


def _check(product: Product) -> None:
    if not product.id or "/" in product.id:
        raise InvalidRequest(f"product id {product.id!r} must be non-empty without '/'")
    for component in product.bom:
        _positive(component.quantity, f"BOM quantity of {component.product}")
        if component.product == product.id:
            raise InvalidRequest(f"product {product.id} cannot contain itself")
    steps = [o.step for o in product.routing]
    if len(set(steps)) != len(steps):
        raise InvalidRequest(f"routing steps of {product.id} must be unique")
    for operation in product.routing:
        validate_path(operation.work_centre)
        if not (math.isfinite(operation.standard_time_s) and operation.standard_time_s >= 0):
            raise InvalidRequest(f"standard time of step {operation.step} must be >= 0")


def _read(runner: Historian | SqlRunner, ident: str) -> Product | None:
    rows = runner.sql("SELECT id, name, unit FROM mes_products WHERE id = ?", [ident])
    if not rows:
        return None
    bom = runner.sql(
        "SELECT component, quantity FROM mes_bom WHERE product = ? ORDER BY component", [ident]
    )
    routing = runner.sql(
        "SELECT step, operation, work_centre, standard_time_s FROM mes_routing "
        "WHERE product = ? ORDER BY step",
        [ident],
    )
    ident_, name, unit = (str(v) for v in rows[0])
    return Product(
        ident_,
        name,
        unit,
        bom=tuple(Component(str(c), float(q)) for c, q in bom),
        routing=tuple(Operation(int(s), str(o), str(w), float(t)) for s, o, w, t in routing),
    )


def get_product(db: Historian, ident: str) -> Product:
    """Product ``ident``; :class:`NotFound` when there is none."""
    found = _read(db, ident) if store.ready(db) else None
    if found is None:
        raise NotFound(f"no product {ident!r}")
    return found


def products(db: Historian) -> list[Product]:
    """Every product, by id."""
    if not store.ready(db):
        return []
    ids = [str(i) for (i,) in db.sql("SELECT id FROM mes_products ORDER BY id")]
    return [p for p in (_read(db, i) for i in ids) if p is not None]


def save_product(db: Historian, product: Product, *, actor: str) -> Product:
    """Create or replace ``product`` with its BOM and routing; audited."""
    _check(product)
    with store.transaction(db) as tx:
        before = _read(tx, product.id)
        for table in ("mes_bom", "mes_routing"):
            tx.sql(f"DELETE FROM {table} WHERE product = ?", [product.id])
        tx.sql("DELETE FROM mes_products WHERE id = ?", [product.id])
        tx.sql(
            "INSERT INTO mes_products (id, name, unit) VALUES (?, ?, ?)",
            [product.id, product.name, product.unit],
        )
        for c in product.bom:
            tx.sql(
                "INSERT INTO mes_bom (product, component, quantity) VALUES (?, ?, ?)",
                [product.id, c.product, c.quantity],
            )
        for o in product.routing:
            tx.sql(
                "INSERT INTO mes_routing (product, step, operation, work_centre, standard_time_s)"
                " VALUES (?, ?, ?, ?, ?)",
                [product.id, o.step, o.operation, o.work_centre, o.standard_time_s],
            )
        action = "create" if before is None else "update"
        audit.append(
            tx,
            actor,
            action,
            "product",
            product.id,
            None if before is None else before.to_dict(),
            product.to_dict(),
        )
    return product


def set_cycle_time(db: Historian, asset: str, product: str, seconds: float, *, actor: str) -> None:
    """The ideal cycle time of ``product`` on ``asset`` (a cell, or a line for all its cells)."""
    validate_path(asset)
    _positive(seconds, "ideal cycle time")
    with store.transaction(db) as tx:
        rows = tx.sql(
            "SELECT ideal_cycle_time_s FROM mes_cycle_times WHERE asset = ? AND product = ?",
            [asset, product],
        )
        tx.sql(
            "INSERT INTO mes_cycle_times (asset, product, ideal_cycle_time_s) VALUES (?, ?, ?) "
            "ON CONFLICT (asset, product) DO UPDATE "
            "SET ideal_cycle_time_s = excluded.ideal_cycle_time_s",
            [asset, product, seconds],
        )
        before = {"ideal_cycle_time_s": float(rows[0][0])} if rows else None
        audit.append(
            tx,
            actor,
            "update",
            "cycle_time",
            f"{asset}|{product}",
            before,
            {"ideal_cycle_time_s": seconds},
        )


def cycle_times(db: Historian, assets: Sequence[str] | None = None) -> dict[tuple[str, str], float]:
    """Ideal cycle times by (asset, product), optionally of ``assets`` and their ancestors."""
    if not store.ready(db):
        return {}
    rows = db.sql("SELECT asset, product, ideal_cycle_time_s FROM mes_cycle_times")
    wanted = None if assets is None else _with_ancestors(assets)
    return {(str(a), str(p)): float(s) for a, p, s in rows if wanted is None or str(a) in wanted}


def _with_ancestors(assets: Sequence[str]) -> set[str]:
    out: set[str] = set()
    for path in assets:
        parts = path.split("/")
        out.update("/".join(parts[: i + 1]) for i in range(len(parts)))
    return out
