"""The audit trail: append-only, hash-chained, and verify names the first tampered row."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from andon.historian import DuckDBHistorian
from andon.mes import audit, store
from andon.mes.audit import GENESIS, append, entries, verify


@pytest.fixture
def db() -> Iterator[DuckDBHistorian]:
    h = DuckDBHistorian(":memory:")
    for i in range(1, 6):
        with store.transaction(h) as tx:
            append(
                tx, f"user{i}", "update", "order", f"WO-{i}", {"n": i - 1}, {"n": i}, ts_ms=1000 * i
            )
    yield h
    h.close()


def test_an_untouched_chain_verifies(db: DuckDBHistorian) -> None:
    report = verify(db)
    assert (report.ok, report.entries, report.first_bad) == (True, 5, None)
    assert report.head == entries(db)[-1].hash
    assert entries(db)[0].prev_hash == GENESIS
    assert [e.seq for e in entries(db, after_seq=3)] == [4, 5]


@pytest.mark.parametrize(
    ("statement", "first_bad", "problem"),
    [
        ("UPDATE mes_audit SET actor = 'mallory' WHERE seq = 3", 3, "hash does not match"),
        ("UPDATE mes_audit SET ts_ms = 1 WHERE seq = 2", 2, "hash does not match"),
        ("DELETE FROM mes_audit WHERE seq = 4", 4, "entry 4 is missing"),
        ("UPDATE mes_audit SET seq = 9 WHERE seq = 1", 1, "entry 1 is missing"),
    ],
    ids=["edit", "backdate", "delete", "renumber"],
)
def test_tampering_is_found_at_its_first_row(
    db: DuckDBHistorian, statement: str, first_bad: int, problem: str
) -> None:
    db.sql(statement)
    report = verify(db)
    assert (report.ok, report.first_bad) == (False, first_bad)
    assert report.problem is not None
    assert report.problem.startswith(problem)


def test_rewriting_a_row_with_a_fresh_hash_breaks_the_next_link(db: DuckDBHistorian) -> None:
    row = db.sql("SELECT prev_hash FROM mes_audit WHERE seq = 2")[0]
    forged = audit._digest(
        row[0], [2, 2000, "mallory", "update", "order", "WO-2", '{"n":1}', '{"n":2}']
    )
    db.sql("UPDATE mes_audit SET actor = 'mallory', hash = ? WHERE seq = 2", [forged])
    report = verify(db)
    assert (report.first_bad, report.problem) == (
        3,
        "previous hash does not match the entry before",
    )


def test_dropping_the_newest_rows_shows_against_a_noted_head(db: DuckDBHistorian) -> None:
    head = verify(db).head
    db.sql("DELETE FROM mes_audit WHERE seq = 5")
    assert verify(db).ok  # a shorter chain is still a chain...
    report = verify(db, expect_head=head)  # ...but not the one noted earlier
    assert (report.ok, report.problem) == (False, "head differs from the expected hash")


def _failing_change(db: DuckDBHistorian) -> None:
    with store.transaction(db) as tx:
        append(tx, "u", "create", "lot", "L", None, {"q": 1})
        raise RuntimeError("the change itself failed")


def test_a_failed_change_leaves_no_entry(db: DuckDBHistorian) -> None:
    with pytest.raises(RuntimeError):
        _failing_change(db)
    assert verify(db).entries == 5


def test_verify_walks_long_chains_in_batches(db: DuckDBHistorian) -> None:
    assert verify(db, batch=2).entries == 5
