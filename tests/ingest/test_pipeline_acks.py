"""Acknowledgements leave only once a message is safe: committed, or on disk."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest

from andon.config import IngestSettings
from andon.errors import HistorianUnavailable
from andon.historian import DuckDBHistorian, WriteBatch
from andon.ingest import DiskBuffer, Pipeline

TOPIC = "andon/v1/acme/p1/mach/l1/m1/metrics"
TS = 1_763_700_000_000


def message(seq: int) -> bytes:
    return orjson.dumps({"ts": TS + seq * 1000, "seq": seq, "values": {"a": float(seq)}})


class Gated:
    """A historian whose writes wait for ``open`` (or fail while ``down``)."""

    def __init__(self, inner: DuckDBHistorian) -> None:
        self.inner = inner
        self.open = threading.Event()
        self.down = False
        self.committed = 0

    def write(self, batch: WriteBatch) -> int:
        if self.down:
            raise HistorianUnavailable("database is restarting")
        self.open.wait(10)
        written = self.inner.write(batch)
        self.committed += len(batch)
        return written

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


@pytest.fixture
def gated() -> Iterator[Gated]:
    inner = DuckDBHistorian(":memory:")
    yield Gated(inner)
    inner.close()


def recorder(
    acked: list[int], gated: Gated, at_ack: list[int]
) -> Callable[[int], Callable[[], None]]:
    def ack_for(n: int) -> Callable[[], None]:
        def ack() -> None:
            acked.append(n)
            at_ack.append(gated.committed)

        return ack

    return ack_for


def test_acks_wait_for_the_commit_and_keep_the_arrival_order(gated: Gated) -> None:
    acked: list[int] = []
    committed_then: list[int] = []
    ack_for = recorder(acked, gated, committed_then)
    settings = IngestSettings(batch_size=4, max_delay_s=0.05)
    with Pipeline(gated, settings) as pipeline:  # type: ignore[arg-type]
        for seq in range(6):
            pipeline.submit(TOPIC, message(seq), ack=ack_for(seq))
        pipeline.submit(TOPIC, message(2), ack=ack_for(6))  # a redelivery
        pipeline.submit(TOPIC, b"{broken", ack=ack_for(7))  # a dead letter
        threading.Event().wait(0.3)
        assert acked == []  # nothing is committed yet, so nothing is acknowledged
        gated.open.set()
        pipeline.flush()
    assert acked == list(range(8))
    assert all(committed > 0 for committed in committed_then)
    assert pipeline.stats.acknowledged == 8
    assert pipeline.stats.duplicates == 1
    assert len(gated.inner.dead_letters()) == 1


def test_a_batch_spilled_to_disk_is_acknowledged(gated: Gated, tmp_path: Path) -> None:
    acked: list[int] = []
    ack_for = recorder(acked, gated, [])
    gated.down = True
    buffer = DiskBuffer(tmp_path / "buffer")
    with Pipeline(gated, IngestSettings(batch_size=3), buffer=buffer) as pipeline:  # type: ignore[arg-type]
        for seq in range(3):
            pipeline.submit(TOPIC, message(seq), ack=ack_for(seq))
        pipeline.flush()
        assert acked == [0, 1, 2]  # on disk (fsynced): safe to let the broker forget them
        assert len(buffer) == 1
        assert gated.committed == 0
        gated.down = False
        gated.open.set()
        assert pipeline.drain(timeout_s=10)
    assert gated.inner.sql("SELECT count(*) FROM samples") == [(3,)]
