"""Late scrap corrections: parts found bad after the machine counted them good.

An inspector who finds 12 bad parts from this morning's run records them against the asset
and the time they were made (``setBadQuantity``-style). The machine totals stay as they were;
OEE moves that many parts of the window holding ``ts_ms`` from good to scrap, never more
than the window's good parts.

>>> from andon.historian import DuckDBHistorian
>>> db = DuckDBHistorian(":memory:")
>>> _ = record_scrap(db, "acme/p1/a/l1/m1", 5_000, 12, reason="burr", actor="qa")
>>> late_scrap(db, ["acme/p1/a/l1/m1"], 0, 10_000)
{'acme/p1/a/l1/m1': [(5000, 12)]}
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from andon.errors import InvalidRequest
from andon.historian.protocol import Historian
from andon.mes import audit, store
from andon.namespace import validate_path

__all__ = ["ScrapCorrection", "late_scrap", "record_scrap"]


@dataclass(frozen=True, slots=True)
class ScrapCorrection:
    """``quantity`` parts of ``asset`` made around ``ts_ms`` were found bad later."""

    id: int
    asset: str
    ts_ms: int
    quantity: int
    reason: str | None
    actor: str

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "asset": self.asset,
            "ts": self.ts_ms,
            "quantity": self.quantity,
            "reason": self.reason,
            "actor": self.actor,
        }


def record_scrap(
    db: Historian, asset: str, ts_ms: int, quantity: int, *, reason: str | None, actor: str
) -> ScrapCorrection:
    """Record a late scrap correction; audited."""
    validate_path(asset)
    if quantity <= 0:
        raise InvalidRequest(f"scrap quantity must be positive, got {quantity}")
    with store.transaction(db) as tx:
        ident = store.next_id(tx, "mes_scrap")
        made = ScrapCorrection(ident, asset, ts_ms, quantity, reason, actor)
        tx.sql(
            "INSERT INTO mes_scrap (id, asset, ts_ms, quantity, reason, actor, created_ms) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [ident, asset, ts_ms, quantity, reason, actor, int(time.time() * 1000)],
        )
        audit.append(tx, actor, "create", "scrap", str(ident), None, made.to_dict())
    return made


def late_scrap(
    db: Historian, assets: Sequence[str], lo: int, hi: int
) -> dict[str, list[tuple[int, int]]]:
    """Per asset, (ts_ms, quantity) of the corrections in ``[lo, hi)``."""
    if not assets or not store.ready(db):
        return {}
    marks = ", ".join("?" for _ in assets)
    rows = db.sql(
        f"SELECT asset, ts_ms, quantity FROM mes_scrap WHERE asset IN ({marks}) "
        "AND ts_ms >= ? AND ts_ms < ? ORDER BY ts_ms",
        [*assets, lo, hi],
    )
    out: dict[str, list[tuple[int, int]]] = {}
    for asset, ts, quantity in rows:
        out.setdefault(str(asset), []).append((int(ts), int(quantity)))
    return out
