"""Time-series storage of samples, states, counts and events (DuckDB by default)."""

from __future__ import annotations

from andon.historian.duckdb import DuckDBHistorian
from andon.historian.postgres import PostgresHistorian
from andon.historian.protocol import (
    AssetInfo,
    Bucket,
    Historian,
    SqlRunner,
    TagInfo,
    WriteBatch,
)

__all__ = [
    "AssetInfo",
    "Bucket",
    "DuckDBHistorian",
    "Historian",
    "PostgresHistorian",
    "SqlRunner",
    "TagInfo",
    "WriteBatch",
    "open_historian",
]


def open_historian(
    url: str,
    *,
    read_only: bool = False,
    lazy: bool = False,
    memory_limit: str | None = None,
    reopen: tuple[int, int] | None = None,
) -> DuckDBHistorian | PostgresHistorian:
    """Open the historian that ``url`` names: a DuckDB file path or ``postgresql://...``.

    ``read_only``, ``memory_limit`` (DuckDB's buffer pool, default 1GB) and ``reopen``
    (writes, sample rows: reopen the file after either, see DuckDBHistorian) apply to DuckDB
    files (PostgreSQL readers never block the writer); ``lazy`` to PostgreSQL (start even if
    the database is down; see PostgresHistorian).
    """
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresHistorian(url, lazy=lazy)
    writes, rows = reopen if reopen is not None else (None, None)
    if memory_limit is None:
        return DuckDBHistorian(url, read_only=read_only, reopen_writes=writes, reopen_rows=rows)
    return DuckDBHistorian(
        url,
        read_only=read_only,
        memory_limit=memory_limit,
        reopen_writes=writes,
        reopen_rows=rows,
    )
