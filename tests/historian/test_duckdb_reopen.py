"""The DuckDB historian reopens its file after so many writes or rows, losing nothing."""

from __future__ import annotations

import threading
from pathlib import Path

from andon.historian import DuckDBHistorian, WriteBatch
from andon.signals import Metrics

T0 = 1_763_700_000_000
ASSET = "acme/p1/a/l1/m1"


def _batch(i: int, per: int = 5) -> WriteBatch:
    batch = WriteBatch.empty()
    batch.metrics += [
        Metrics(ASSET, T0 + (i * per + k) * 1000, {"temp_c": float(i * per + k)}, i * per + k)
        for k in range(per)
    ]
    return batch


def test_reopens_after_so_many_writes_and_keeps_every_sample(tmp_path: Path) -> None:
    historian = DuckDBHistorian(tmp_path / "h.duckdb", reopen_writes=3)
    written = [historian.write(_batch(i)) for i in range(8)]
    assert historian.reopens == 2  # before the 4th and the 7th write
    assert written == [5] * 8
    assert historian.write(_batch(0)) == 0  # a redelivered batch still changes nothing
    tag = historian.tags(ASSET)[0].id
    assert [v for _, v in historian.series(tag, T0, T0 + 10**6)] == [float(i) for i in range(40)]
    assert historian.latest()[f"{ASSET}/temp_c"] == (T0 + 39_000, 39.0)
    historian.close()


def test_reopens_after_so_many_sample_rows(tmp_path: Path) -> None:
    historian = DuckDBHistorian(tmp_path / "h.duckdb", reopen_rows=12)
    for i in range(6):
        historian.write(_batch(i))
    assert historian.reopens == 1  # 15 rows after three writes: the 4th reopens first
    historian.close()


def test_readers_run_while_the_writer_reopens(tmp_path: Path) -> None:
    historian = DuckDBHistorian(tmp_path / "h.duckdb", reopen_writes=2)
    historian.write(_batch(0))
    errors: list[BaseException] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            try:
                historian.latest()
                historian.arrow("SELECT count(*) FROM samples")
            except BaseException as exc:
                errors.append(exc)
                return

    reader = threading.Thread(target=read)
    reader.start()
    for i in range(1, 21):
        historian.write(_batch(i))
    done.set()
    reader.join()
    assert errors == []
    assert historian.reopens == 10
    assert historian.arrow("SELECT count(*) AS n FROM samples").column("n").to_pylist() == [105]
    historian.close()


def test_an_in_memory_database_is_never_reopened() -> None:
    historian = DuckDBHistorian(":memory:", reopen_writes=1)
    for i in range(3):
        historian.write(_batch(i))
    assert historian.reopens == 0
    assert historian.arrow("SELECT count(*) AS n FROM samples").column("n").to_pylist() == [15]
    historian.close()
