"""Time-series storage of samples, states, counts and events (DuckDB by default)."""

from __future__ import annotations

from andon.historian.duckdb import DuckDBHistorian
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
    "SqlRunner",
    "TagInfo",
    "WriteBatch",
    "open_historian",
]


def open_historian(url: str, *, read_only: bool = False) -> DuckDBHistorian:
    """Open the historian that ``url`` names: a DuckDB file path (PostgreSQL is coming)."""
    if url.startswith(("postgresql://", "postgres://")):
        from andon.errors import ConfigError

        raise ConfigError("the PostgreSQL historian is coming (issue 4); use a DuckDB path")
    return DuckDBHistorian(url, read_only=read_only)
