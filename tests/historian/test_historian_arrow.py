from __future__ import annotations

from andon.historian import DuckDBHistorian, WriteBatch
from andon.signals import CountUpdate


def test_arrow_answers_a_query_as_columns() -> None:
    historian = DuckDBHistorian(":memory:")
    batch = WriteBatch.empty()
    batch.counts += [CountUpdate("a/b", 1_763_700_000_000 + i * 1000, i, i, 0) for i in range(5)]
    historian.write(batch)
    table = historian.arrow("SELECT total FROM counts WHERE total >= ? ORDER BY ts", [2])
    assert table.column("total").to_pylist() == [2, 3, 4]
    historian.close()
