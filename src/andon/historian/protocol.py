"""The historian contract: one protocol, implemented by each storage backend."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from andon.signals import CountUpdate, Event, Metrics, Rejected, Sample, StateChange

__all__ = ["AssetInfo", "Bucket", "Historian", "SqlRunner", "TagInfo", "WriteBatch"]

SqlParams = Sequence[Any] | None


class SqlRunner(Protocol):
    """Runs one SQL statement with ``?`` placeholders, in SQL common to DuckDB and PostgreSQL.

    Domain modules (MES orders, audit log, quality records) keep their own tables in the
    historian's database through this narrow door; each backend translates placeholders.
    """

    def sql(self, statement: str, params: SqlParams = None) -> list[tuple[Any, ...]]:
        """Execute ``statement``; returns its rows (empty for statements without results)."""


@dataclass(frozen=True, slots=True)
class TagInfo:
    """A tag known to the historian: ``asset`` + ``name`` identify it."""

    id: int
    asset: str
    name: str
    unit: str | None
    kind: str


@dataclass(frozen=True, slots=True)
class AssetInfo:
    """Attributes of an asset that MES calculations need (more arrive with the MES issue)."""

    path: str
    ideal_cycle_time_s: float | None = None
    display_name: str | None = None


@dataclass(frozen=True, slots=True)
class Bucket:
    """Aggregate of one tag over one time bucket starting at ``ts_ms``."""

    ts_ms: int
    avg: float
    min: float
    max: float
    count: int


@dataclass(slots=True)
class WriteBatch:
    """Records of all kinds to be written together, in one transaction per table."""

    metrics: list[Metrics]
    samples: list[Sample]
    states: list[StateChange]
    counts: list[CountUpdate]
    events: list[Event]

    @classmethod
    def empty(cls) -> WriteBatch:
        return cls([], [], [], [], [])

    def __len__(self) -> int:
        return (
            len(self.metrics)
            + len(self.samples)
            + len(self.states)
            + len(self.counts)
            + len(self.events)
        )


class Historian(Protocol):
    """Storage of samples, states, counts, events and dead letters; same for every backend.

    Timestamps in and out are epoch milliseconds UTC. Windows are half-open ``[start, end)``.
    """

    def write(self, batch: WriteBatch) -> int:
        """Write a batch through the bulk path; returns the number of samples written."""

    def write_dead_letters(self, rejected: list[Rejected]) -> None:
        """Keep rejected messages with their raw bytes and reason."""

    def upsert_assets(self, assets: list[AssetInfo]) -> None:
        """Create or update asset attributes."""

    def define_tags(self, tags: list[tuple[str, str, str | None]]) -> None:
        """Create tags ``(asset, name, unit)`` ahead of data, or set their unit (from config)."""

    def assets(self) -> list[AssetInfo]:
        """Every asset that has attributes or data, sorted by path."""

    def tags(self, asset: str | None = None) -> list[TagInfo]:
        """Tags, optionally only those of ``asset`` and below."""

    def tag(self, tag_id: int) -> TagInfo:
        """One tag by id; raises :class:`~andon.errors.NotFound` when it does not exist."""

    def latest(self, asset: str | None = None) -> dict[str, tuple[int, float]]:
        """Last (ts_ms, value) per ``asset/tag`` key, optionally under ``asset``."""

    def series(self, tag_id: int, start_ms: int, end_ms: int) -> list[tuple[int, float]]:
        """Raw samples of one tag in the window, ordered by time."""

    def aggregate(self, tag_id: int, start_ms: int, end_ms: int, bucket_ms: int) -> list[Bucket]:
        """Time-bucketed avg/min/max/count of one tag in the window."""

    def state_timeline(self, asset: str, start_ms: int, end_ms: int) -> list[StateChange]:
        """State changes of ``asset`` in the window, preceded by the one in force at ``start``.

        The first element may lie before ``start_ms`` (the state carried into the window).
        """

    def count_totals(self, asset: str, start_ms: int, end_ms: int) -> list[CountUpdate]:
        """Count readings in the window, preceded by the last reading before ``start``."""

    def dead_letters(self, limit: int = 100) -> list[Rejected]:
        """The most recent dead letters, newest first."""

    def delete_dead_letters(self, letters: list[Rejected]) -> int:
        """Remove these dead letters (matched on all their fields, e.g. once replayed)."""

    def latest_ts(self) -> int | None:
        """The newest timestamp of any state, count or sample (None when empty)."""

    def sql(self, statement: str, params: SqlParams = None) -> list[tuple[Any, ...]]:
        """Run one statement of a domain module (see :class:`SqlRunner`), atomically."""

    def transaction(self) -> AbstractContextManager[SqlRunner]:
        """Several statements that commit together or not at all (rollback on error)."""

    def close(self) -> None:
        """Release the connection."""
