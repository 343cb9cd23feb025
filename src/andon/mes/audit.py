"""The audit trail: who changed what, when, before and after, in a hash-chained log.

Every MES change made by a person or through the API appends one entry in the same
transaction as the change itself, so there is no change without its entry. Entries are
numbered ``1, 2, 3, ...`` and chained: each entry's hash is SHA-256 over the previous entry's
hash and the canonical JSON of its own fields (``[seq, ts_ms, actor, action, entity, key,
before, after]``). Editing, deleting or reordering any row breaks the chain from that row on,
and :func:`verify` names the first row that does not hold (the expectation of FDA 21 CFR
Part 11 for regulated plants). Removing the newest rows leaves a shorter valid chain: compare
the head hash with one noted earlier (``expect_head``) to catch that too.

>>> from andon.historian import DuckDBHistorian
>>> db = DuckDBHistorian(":memory:")
>>> with store.transaction(db) as tx:
...     first = append(tx, "alice", "create", "order", "WO-1", None, {"quantity": 10})
>>> with store.transaction(db) as tx:
...     _ = append(tx, "bob", "update", "order", "WO-1", {"quantity": 10}, {"quantity": 12})
>>> verify(db).ok, verify(db).entries
(True, 2)
>>> _ = db.sql("UPDATE mes_audit SET after_json = ? WHERE seq = 1", ['{"quantity":99}'])
>>> report = verify(db)
>>> report.ok, report.first_bad, report.problem
(False, 1, 'hash does not match the entry')
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

from andon.historian.protocol import Historian, SqlRunner
from andon.mes import store

__all__ = ["GENESIS", "AuditEntry", "AuditReport", "append", "entries", "verify"]

GENESIS = "0" * 64
_COLUMNS = "seq, ts_ms, actor, action, entity, entity_key, before_json, after_json, prev_hash, hash"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One row of the audit log."""

    seq: int
    ts_ms: int
    actor: str
    action: str
    entity: str
    key: str
    before: Any
    after: Any
    prev_hash: str
    hash: str

    def to_dict(self) -> dict[str, object]:
        return {
            "seq": self.seq,
            "ts": self.ts_ms,
            "actor": self.actor,
            "action": self.action,
            "entity": self.entity,
            "key": self.key,
            "before": self.before,
            "after": self.after,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


@dataclass(frozen=True, slots=True)
class AuditReport:
    """The result of :func:`verify`: ``ok``, or the first bad row and what is wrong."""

    ok: bool
    entries: int
    head: str
    first_bad: int | None = None
    problem: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "head": self.head,
            "first_bad": self.first_bad,
            "problem": self.problem,
        }


def _digest(prev_hash: str, fields: list[object]) -> str:
    payload = prev_hash.encode() + store.dumps(fields).encode()
    return hashlib.sha256(payload).hexdigest()


def append(
    tx: SqlRunner,
    actor: str,
    action: str,
    entity: str,
    key: str,
    before: Any,
    after: Any,
    *,
    ts_ms: int | None = None,
) -> AuditEntry:
    """Append one entry inside the caller's transaction ``tx`` (see ``store.transaction``)."""
    row = tx.sql("SELECT seq, hash FROM mes_audit ORDER BY seq DESC LIMIT 1")
    seq, prev = (int(row[0][0]) + 1, str(row[0][1])) if row else (1, GENESIS)
    stamp = int(time.time() * 1000) if ts_ms is None else ts_ms
    before_json, after_json = store.dumps(before), store.dumps(after)
    fields: list[object] = [seq, stamp, actor, action, entity, key, before_json, after_json]
    digest = _digest(prev, fields)
    tx.sql(
        f"INSERT INTO mes_audit ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [*fields, prev, digest],
    )
    return AuditEntry(seq, stamp, actor, action, entity, key, before, after, prev, digest)


def _entry(row: tuple[Any, ...]) -> AuditEntry:
    seq, ts, actor, action, entity, key, before, after, prev, digest = row
    return AuditEntry(
        int(seq),
        int(ts),
        actor,
        action,
        entity,
        key,
        store.loads(before),
        store.loads(after),
        prev,
        digest,
    )


def entries(
    db: Historian,
    *,
    entity: str | None = None,
    key: str | None = None,
    limit: int = 100,
    after_seq: int = 0,
) -> list[AuditEntry]:
    """Entries in order, optionally of one entity (and key), from ``after_seq`` on."""
    if not store.ready(db):
        return []
    where, params = ["seq > ?"], [after_seq]
    for column, value in (("entity", entity), ("entity_key", key)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)  # type: ignore[arg-type]  # str beside int in one list
    rows = db.sql(
        f"SELECT {_COLUMNS} FROM mes_audit WHERE {' AND '.join(where)} ORDER BY seq LIMIT ?",
        [*params, limit],
    )
    return [_entry(row) for row in rows]


def _problem(row: tuple[Any, ...], expected_seq: int, prev: str) -> str | None:
    seq, *fields, prev_hash, digest = row
    if int(seq) != expected_seq:
        return f"entry {expected_seq} is missing"
    if prev_hash != prev:
        return "previous hash does not match the entry before"
    if _digest(prev, [int(seq), int(fields[0]), *fields[1:]]) != digest:
        return "hash does not match the entry"
    return None


def verify(db: Historian, *, expect_head: str | None = None, batch: int = 10_000) -> AuditReport:
    """Walk the whole chain; report the first entry that was changed, removed or reordered."""
    if not store.ready(db):
        return AuditReport(expect_head in (None, GENESIS), 0, GENESIS)
    prev, count, last_seq = GENESIS, 0, 0
    while True:
        rows = db.sql(
            f"SELECT {_COLUMNS} FROM mes_audit WHERE seq > ? ORDER BY seq LIMIT ?",
            [last_seq, batch],
        )
        for row in rows:
            problem = _problem(row, count + 1, prev)
            if problem is not None:
                return AuditReport(False, count, prev, count + 1, problem)
            prev, count, last_seq = str(row[-1]), count + 1, int(row[0])
        if len(rows) < batch:
            break
    if expect_head is not None and expect_head != prev:
        return AuditReport(False, count, prev, count, "head differs from the expected hash")
    return AuditReport(True, count, prev)
