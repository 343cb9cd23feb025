"""MES tables in the historian's database, created idempotently at first use.

Every statement goes through :meth:`Historian.sql` / :meth:`Historian.transaction` in SQL
common to DuckDB and PostgreSQL: ``?`` placeholders, ``CREATE TABLE IF NOT EXISTS``,
``INSERT ... ON CONFLICT``, no sequences (ids are ``max + 1`` inside the writing transaction,
so two concurrent writers collide on the primary key instead of sharing an id). Times are
``BIGINT`` epoch milliseconds UTC, structured values canonical JSON text.

A database opened read-only that never had MES tables reads as empty (``ready`` is False).
"""

from __future__ import annotations

import logging
import weakref
from contextlib import AbstractContextManager, suppress
from typing import Any

import orjson

from andon.errors import HistorianError, InvalidRequest
from andon.historian.protocol import Historian, SqlRunner

__all__ = ["TABLES", "dumps", "ensure", "loads", "next_id", "ready", "transaction"]

_logger = logging.getLogger(__name__)

TABLES: dict[str, str] = {
    "mes_products": """
        id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, unit VARCHAR NOT NULL""",
    "mes_bom": """
        product VARCHAR NOT NULL, component VARCHAR NOT NULL,
        quantity DOUBLE PRECISION NOT NULL, PRIMARY KEY (product, component)""",
    "mes_routing": """
        product VARCHAR NOT NULL, step INTEGER NOT NULL, operation VARCHAR NOT NULL,
        work_centre VARCHAR NOT NULL, standard_time_s DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (product, step)""",
    "mes_cycle_times": """
        asset VARCHAR NOT NULL, product VARCHAR NOT NULL,
        ideal_cycle_time_s DOUBLE PRECISION NOT NULL, PRIMARY KEY (asset, product)""",
    "mes_orders": """
        id VARCHAR PRIMARY KEY, product VARCHAR NOT NULL, quantity BIGINT NOT NULL,
        asset VARCHAR NOT NULL, status VARCHAR NOT NULL, planned_start_ms BIGINT,
        planned_end_ms BIGINT, created_ms BIGINT NOT NULL, closed_ms BIGINT""",
    "mes_order_runs": """
        order_id VARCHAR NOT NULL, asset VARCHAR NOT NULL, start_ms BIGINT NOT NULL,
        end_ms BIGINT, PRIMARY KEY (order_id, asset, start_ms)""",
    "mes_annotations": """
        id BIGINT PRIMARY KEY, asset VARCHAR NOT NULL, start_ms BIGINT NOT NULL,
        end_ms BIGINT NOT NULL, reason VARCHAR NOT NULL, note VARCHAR,
        actor VARCHAR NOT NULL, created_ms BIGINT NOT NULL""",
    "mes_scrap": """
        id BIGINT PRIMARY KEY, asset VARCHAR NOT NULL, ts_ms BIGINT NOT NULL,
        quantity BIGINT NOT NULL, reason VARCHAR, actor VARCHAR NOT NULL,
        created_ms BIGINT NOT NULL""",
    "mes_settings": """
        key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL""",
    "mes_lots": """
        id VARCHAR PRIMARY KEY, product VARCHAR NOT NULL, quantity DOUBLE PRECISION NOT NULL,
        unit VARCHAR NOT NULL, kind VARCHAR NOT NULL, order_id VARCHAR,
        created_ms BIGINT NOT NULL""",
    "mes_lot_links": """
        parent VARCHAR NOT NULL, child VARCHAR NOT NULL, quantity DOUBLE PRECISION NOT NULL,
        order_id VARCHAR, ts_ms BIGINT NOT NULL, PRIMARY KEY (parent, child)""",
    "mes_count_hours": """
        asset VARCHAR NOT NULL, hour_ms BIGINT NOT NULL, n BIGINT NOT NULL,
        s_total BIGINT NOT NULL, s_good BIGINT NOT NULL, s_scrap BIGINT NOT NULL,
        produced BIGINT NOT NULL, good BIGINT NOT NULL, scrap BIGINT NOT NULL,
        first_ts BIGINT, first_total BIGINT, first_good BIGINT, first_scrap BIGINT,
        last_ts BIGINT, last_total BIGINT, last_good BIGINT, last_scrap BIGINT,
        PRIMARY KEY (asset, hour_ms)""",
    "mes_audit": """
        seq BIGINT PRIMARY KEY, ts_ms BIGINT NOT NULL, actor VARCHAR NOT NULL,
        action VARCHAR NOT NULL, entity VARCHAR NOT NULL, entity_key VARCHAR NOT NULL,
        before_json VARCHAR NOT NULL, after_json VARCHAR NOT NULL,
        prev_hash VARCHAR NOT NULL, hash VARCHAR NOT NULL""",
}

_READY: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()


def _existing(db: Historian) -> set[str]:
    rows = db.sql(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = current_schema() AND table_name LIKE ?",
        ["mes_%"],
    )
    return {str(name) for (name,) in rows}


def _create(db: Historian, missing: list[str]) -> bool:
    try:
        with db.transaction() as tx:
            for name in missing:
                tx.sql(f"CREATE TABLE IF NOT EXISTS {name} ({TABLES[name]})")
    except HistorianError as exc:  # a read-only database: reads see no MES rows
        _logger.info("MES tables unavailable (%s): reading them as empty", exc)
        return False
    return True


def ensure(db: Historian) -> bool:
    """Create the MES tables that are missing; True when all exist (cached per historian)."""
    try:
        if _READY.get(db):
            return True
    except TypeError:  # not weak-referenceable: check every time
        pass
    existing = _existing(db)
    missing = [name for name in TABLES if name not in existing]
    ok = not missing or _create(db, missing)
    if ok:
        with suppress(TypeError):
            _READY[db] = True
    return ok


def ready(db: Historian) -> bool:
    """True when the MES tables can be read (creating them if the database allows)."""
    return ensure(db)


def transaction(db: Historian) -> AbstractContextManager[SqlRunner]:
    """A write transaction on the MES tables (created first; never call inside another)."""
    if not ensure(db):
        raise InvalidRequest("the database is read-only: MES changes need write access")
    return db.transaction()


def next_id(tx: SqlRunner, table: str) -> int:
    """The next integer id of ``table`` inside the caller's transaction."""
    rows = tx.sql(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}")
    return int(rows[0][0])


def dumps(value: object) -> str:
    """Canonical JSON: sorted keys, no spaces, the same bytes for the same value."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def loads(text: str | None) -> Any:
    return None if text is None else orjson.loads(text)
