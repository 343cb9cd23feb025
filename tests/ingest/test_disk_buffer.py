"""The store-and-forward disk buffer: order, durability across reopening, damaged files."""

from __future__ import annotations

from pathlib import Path

from andon.historian import WriteBatch
from andon.ingest import DiskBuffer
from andon.signals import CountUpdate, Event, Metrics, Rejected, Sample, StateChange

T0 = 1_763_700_000_000
M1 = "acme/p1/mach/l1/m1"


def batch_of(i: int) -> WriteBatch:
    return WriteBatch(
        [Metrics(M1, T0 + i, {"v": float(i), "w": 0.1 + i}, i)],
        [Sample(M1, "s", T0 + i, -1.5, None)],
        [StateChange(M1, T0 + i, 180000, "jam ü", i)],
        [CountUpdate(M1, T0 + i, 10 + i, 9 + i, 1, i)],
        [Event(M1, T0 + i, "tool_change", {"tool": i, "nested": {"a": [1, 2.5, None]}}, i)],
    )


def test_batches_come_back_identical_and_in_order(tmp_path: Path) -> None:
    buffer = DiskBuffer(tmp_path)
    letter = Rejected(T0, "mqtt", "andon/v1/x/metrics", b"\x00\xffraw", "bad")
    for i in range(3):
        assert buffer.push(batch_of(i), [letter] if i == 1 else [], {"mqtt": 2}) == i + 1
    assert (len(buffer), buffer.records) == (3, 16)
    seen = []
    while len(buffer):
        seq, batch, rejected, sources = buffer.peek()
        seen.append((batch, rejected, sources))
        buffer.pop(seq)
    assert [b for b, _, _ in seen] == [batch_of(i) for i in range(3)]
    assert [r for _, r, _ in seen] == [[], [letter], []]
    assert seen[0][2] == {"mqtt": 2}
    assert (buffer.records, buffer.bytes) == (0, 0)


def test_a_restart_finds_the_backlog_and_continues_numbering(tmp_path: Path) -> None:
    first = DiskBuffer(tmp_path)
    first.push(batch_of(0), [])
    first.push(batch_of(1), [])
    (tmp_path / "0000000000000003-5.tmp").write_bytes(b"half-written")  # a crash mid-write
    again = DiskBuffer(tmp_path)
    assert len(again) == 2
    assert again.records == 10
    assert not list(tmp_path.glob("*.tmp"))
    assert again.push(batch_of(2), []) == 3
    assert again.peek()[1] == batch_of(0)


def test_a_damaged_file_is_set_aside_not_lost(tmp_path: Path) -> None:
    buffer = DiskBuffer(tmp_path)
    buffer.push(batch_of(0), [])
    buffer.push(batch_of(1), [])
    damaged = sorted(tmp_path.glob("*.batch"))[0]
    damaged.write_bytes(b"{not json")
    seq, batch, _, _ = buffer.peek()
    assert (seq, batch) == (2, batch_of(1))
    kept = tmp_path / "corrupt" / damaged.name
    assert kept.read_bytes() == b"{not json"
    assert "unreadable" in (tmp_path / "corrupt" / f"{damaged.name}.reason.txt").read_text()


def test_quarantine_keeps_the_batch_and_the_reason(tmp_path: Path) -> None:
    buffer = DiskBuffer(tmp_path)
    seq = buffer.push(batch_of(0), [])
    buffer.quarantine(seq, "constraint violated")
    assert len(buffer) == 0
    (kept,) = (tmp_path / "quarantine").glob("*.batch")
    assert (tmp_path / "quarantine" / f"{kept.name}.reason.txt").read_text().strip() == (
        "constraint violated"
    )


def test_the_disk_budget_reports_full(tmp_path: Path) -> None:
    buffer = DiskBuffer(tmp_path, max_bytes=1)
    assert not buffer.full()
    buffer.push(batch_of(0), [])
    assert buffer.full()
    assert buffer.oldest_age_s() >= 0.0
