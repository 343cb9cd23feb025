"""One contract for every historian backend: DuckDB (file, memory) and PostgreSQL.

Backends come from ``conftest.py``; PostgreSQL runs each test in a fresh schema.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from andon.errors import NotFound
from andon.historian import AssetInfo, DuckDBHistorian, Historian, WriteBatch
from andon.signals import CountUpdate, Event, Metrics, Rejected, Sample, StateChange

from .conftest import Opener

T0 = 1_763_700_000_000
M1 = "acme/p1/mach/l1/m1"
M2 = "acme/p1/mach/l1/m2"


def _batch(**lists: list[object]) -> WriteBatch:
    batch = WriteBatch.empty()
    for name, items in lists.items():
        getattr(batch, name).extend(items)
    return batch


def test_it_satisfies_the_protocol(historian: Historian) -> None:
    h: Historian = historian
    assert h.latest_ts() is None


def test_metrics_become_one_sample_per_value(historian: Historian) -> None:
    metrics = [Metrics(M1, T0 + i * 1000, {"temp_c": float(i), "power_kw": 2.0}) for i in range(10)]
    written = historian.write(_batch(metrics=metrics, samples=[Sample(M2, "x", T0, 1.5)]))
    assert written == 21
    tags = {(t.asset, t.name): t for t in historian.tags()}
    assert set(tags) == {(M1, "temp_c"), (M1, "power_kw"), (M2, "x")}
    assert tags[(M1, "temp_c")].unit == "°C"
    assert [t.name for t in historian.tags(M2)] == ["x"]
    temp = tags[(M1, "temp_c")].id
    assert historian.series(temp, T0 + 2000, T0 + 5000) == [
        (T0 + 2000, 2.0),
        (T0 + 3000, 3.0),
        (T0 + 4000, 4.0),
    ]


def test_aggregate_buckets_align_to_the_window_start(historian: Historian) -> None:
    metrics = [Metrics(M1, T0 + i * 1000, {"v": float(i)}) for i in range(120)]
    historian.write(_batch(metrics=metrics))
    tag = historian.tags()[0].id
    buckets = historian.aggregate(tag, T0, T0 + 120_000, 60_000)
    assert [(b.ts_ms, b.avg, b.min, b.max, b.count) for b in buckets] == [
        (T0, 29.5, 0.0, 59.0, 60),
        (T0 + 60_000, 89.5, 60.0, 119.0, 60),
    ]


def test_latest_keeps_the_newest_value_even_when_late_data_arrives(historian: Historian) -> None:
    historian.write(_batch(metrics=[Metrics(M1, T0 + 5000, {"v": 5.0})]))
    historian.write(_batch(metrics=[Metrics(M1, T0 + 1000, {"v": 1.0})]))  # late
    assert historian.latest() == {f"{M1}/v": (T0 + 5000, 5.0)}
    assert historian.latest("acme/other") == {}
    assert historian.latest_ts() == T0 + 5000


def test_state_timeline_carries_in_the_state_before_the_window(historian: Historian) -> None:
    changes = [
        StateChange(M1, T0 + s * 1000, code)
        for s, code in [(0, 10000), (100, 180000), (200, 10000), (300, 150000)]
    ]
    historian.write(_batch(states=changes))
    timeline = historian.state_timeline(M1, T0 + 150_000, T0 + 300_000)
    assert [(c.ts_ms - T0, c.code) for c in timeline] == [(100_000, 180000), (200_000, 10000)]
    assert historian.state_timeline(M2, T0, T0 + 1) == []


def test_count_totals_start_from_the_last_reading_before_the_window(historian: Historian) -> None:
    counts = [CountUpdate(M1, T0 + s * 1000, s, s - s // 10, s // 10) for s in (0, 10, 20, 30)]
    historian.write(_batch(counts=counts))
    got = historian.count_totals(M1, T0 + 15_000, T0 + 30_000)
    assert [(c.ts_ms - T0, c.total) for c in got] == [(10_000, 10), (20_000, 20)]


def test_assets_union_attributes_and_data(historian: Historian) -> None:
    historian.upsert_assets([AssetInfo(M1, 20.0, "Mill 1")])
    historian.write(
        _batch(
            states=[StateChange(M2, T0, 10000)], events=[Event(M2, T0, "tool_change", {"tool": 3})]
        )
    )
    assert historian.assets() == [AssetInfo(M1, 20.0, "Mill 1"), AssetInfo(M2, None, None)]
    historian.upsert_assets([AssetInfo(M1, 18.0, "Mill 1")])
    assert historian.assets()[0].ideal_cycle_time_s == 18.0


def test_dead_letters_keep_raw_bytes_and_reason(historian: Historian) -> None:
    historian.write_dead_letters([Rejected(T0, "mqtt", "andon/v1/x/metrics", b"\xff{", "bad")])
    (letter,) = historian.dead_letters()
    assert letter == Rejected(T0, "mqtt", "andon/v1/x/metrics", b"\xff{", "bad")


def test_unknown_tag_is_not_found(historian: Historian) -> None:
    with pytest.raises(NotFound):
        historian.tag(999)


def test_data_survives_reopening(opener: Opener) -> None:
    first = opener()
    first.write(_batch(metrics=[Metrics(M1, T0, {"v": 1.0})]))
    first.close()
    again = opener()
    if isinstance(again, DuckDBHistorian) and again.path == ":memory:":
        pytest.skip("an in-memory database does not outlive its connection")
    again.write(_batch(metrics=[Metrics(M1, T0 + 1000, {"v": 2.0})]))
    assert len(again.tags()) == 1  # the tag id was found again, not duplicated
    assert again.series(again.tags()[0].id, T0, T0 + 2000) == [(T0, 1.0), (T0 + 1000, 2.0)]


def test_a_second_process_gets_a_clear_error(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "h.duckdb"
    holder = DuckDBHistorian(path)
    code = (
        "import sys\nfrom andon.historian import DuckDBHistorian\n"
        "from andon.errors import HistorianUnavailable\n"
        f"try:\n    DuckDBHistorian({str(path)!r})\n"
        "except HistorianUnavailable as e:\n    print('unavailable:', e); sys.exit(3)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    holder.close()
    assert done.returncode == 3, done.stderr
    assert "Another andon process" in done.stdout


def test_domain_tables_through_sql_and_transactions(historian: Historian) -> None:
    historian.sql("CREATE TABLE IF NOT EXISTS notes (id INTEGER, text VARCHAR)")
    historian.sql("INSERT INTO notes VALUES (?, ?)", [1, "first"])

    def failing_change() -> None:
        with historian.transaction() as tx:
            tx.sql("INSERT INTO notes VALUES (?, ?)", [2, "rolled back"])
            raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        failing_change()
    with historian.transaction() as tx:
        tx.sql("INSERT INTO notes VALUES (?, ?)", [3, "kept"])
    assert historian.sql("SELECT id, text FROM notes ORDER BY id") == [(1, "first"), (3, "kept")]


def test_a_replayed_batch_of_states_counts_and_events_changes_nothing(
    historian: Historian,
) -> None:
    batch = _batch(
        states=[StateChange(M1, T0, 10000), StateChange(M1, T0 + 9000, 180000, "jam")],
        counts=[CountUpdate(M1, T0 + 5000, 10, 9, 1)],
        events=[Event(M1, T0, "tool_change", {"tool": 3})],
    )
    historian.write(batch)
    historian.write(batch)  # store-and-forward replay, or a second worker's copy
    assert [(c.ts_ms, c.code) for c in historian.state_timeline(M1, T0, T0 + 10_000)] == [
        (T0, 10000),
        (T0 + 9000, 180000),
    ]
    assert len(historian.count_totals(M1, T0, T0 + 10_000)) == 1
    assert historian.sql("SELECT count(*) FROM events") == [(1,)]


def test_a_corrected_state_replaces_the_one_with_the_same_start(historian: Historian) -> None:
    historian.write(_batch(states=[StateChange(M1, T0, 30000)]))
    historian.write(_batch(states=[StateChange(M1, T0, 180000, "spindle")]))
    (state,) = historian.state_timeline(M1, T0, T0 + 1)
    assert (state.code, state.reason) == (180000, "spindle")


def test_dead_letters_are_deleted_once_replayed(historian: Historian) -> None:
    keep = Rejected(T0, "mqtt", "andon/v1/x/metrics", b"{", "bad json")
    gone = Rejected(T0 + 1, "opcua", "ns=2;s=T", b"\x00\x01", "bad quality")
    historian.write_dead_letters([keep, gone])
    assert historian.dead_letters() == [gone, keep]
    assert historian.delete_dead_letters([gone]) == 1
    assert historian.dead_letters() == [keep]


def test_sql_with_placeholders_and_duckdb_spellings(historian: Historian) -> None:
    historian.sql("CREATE TABLE IF NOT EXISTS lots (id VARCHAR, weight DOUBLE, photo BLOB)")
    historian.sql("INSERT INTO lots VALUES (?, ?, ?)", ["L-1 (50%)", 2.5, b"\x00"])
    rows = historian.sql("SELECT id, weight, photo FROM lots WHERE id LIKE '%50%' AND ? = 1", [1])
    assert [(i, w, bytes(p)) for i, w, p in rows] == [("L-1 (50%)", 2.5, b"\x00")]


def test_late_and_early_samples_land_in_their_own_days(historian: Historian) -> None:
    days = [T0 - 3 * 86_400_000, T0, T0 + 40 * 86_400_000]
    historian.write(_batch(samples=[Sample(M1, "v", ts, float(i)) for i, ts in enumerate(days)]))
    tag = historian.tags()[0].id
    assert historian.series(tag, days[0], days[-1] + 1) == [
        (ts, float(i)) for i, ts in enumerate(days)
    ]


def test_distinct_events_at_the_same_instant_are_all_kept(historian: Historian) -> None:
    bad = Event(M1, T0, "quality", {"tag": "a", "good": False})
    other = Event(M1, T0, "quality", {"tag": "b", "good": False})
    historian.write(_batch(events=[bad, other, bad]))
    historian.write(_batch(events=[other]))
    assert historian.sql("SELECT count(*) FROM events") == [(2,)]


def test_tags_defined_from_config_keep_their_unit(historian: Historian) -> None:
    historian.define_tags([(M1, "force", "kN"), (M1, "temp_c", "°F")])
    historian.write(_batch(metrics=[Metrics(M1, T0, {"force": 1.0, "temp_c": 70.0})]))
    historian.define_tags([(M1, "force", "N")])
    assert [(t.name, t.unit) for t in historian.tags()] == [("force", "N"), ("temp_c", "°F")]


def _stored(historian: Historian) -> tuple[int, int]:
    rows = historian.sql("SELECT count(*), count(DISTINCT tag_id || '@' || ts) FROM samples")
    return int(rows[0][0]), int(rows[0][1])


def test_samples_written_again_are_stored_once(historian: Historian) -> None:
    metrics = [Metrics(M1, T0 + i * 1000, {"a": float(i), "b": 1.0}) for i in range(10)]
    assert historian.write(_batch(metrics=metrics)) == 20
    assert historian.write(_batch(metrics=metrics)) == 0  # a redelivered batch
    overlap = [*metrics[5:], Metrics(M1, T0 + 10_000, {"a": 10.0, "b": 1.0})]
    assert historian.write(_batch(metrics=overlap)) == 2  # only the new message's samples
    assert _stored(historian) == (22, 22)
    assert historian.latest()[f"{M1}/a"] == (T0 + 10_000, 10.0)


def test_the_same_tag_and_time_twice_in_one_batch_is_stored_once(historian: Historian) -> None:
    twice = [Sample(M2, "x", T0, 1.0), Sample(M2, "x", T0, 2.0), Sample(M2, "y", T0, 3.0)]
    metrics = [Metrics(M1, T0, {"a": 1.0}), Metrics(M1, T0, {"a": 5.0, "b": 2.0})]
    assert historian.write(_batch(samples=twice, metrics=metrics)) == 4
    assert _stored(historian) == (4, 4)
    x = next(t.id for t in historian.tags(M2) if t.name == "x")
    assert historian.series(x, T0, T0 + 1) == [(T0, 1.0)]  # the first copy wins


def test_a_late_sample_between_stored_ones_is_kept(historian: Historian) -> None:
    historian.write(_batch(metrics=[Metrics(M1, T0 + t, {"a": float(t)}) for t in (0, 2000)]))
    late = [Metrics(M1, T0 + 1000, {"a": 1000.0}), Metrics(M1, T0 + 2000, {"a": -1.0})]
    assert historian.write(_batch(metrics=late)) == 1
    tag = historian.tags(M1)[0].id
    assert historian.series(tag, T0, T0 + 3000) == [
        (T0, 0.0),
        (T0 + 1000, 1000.0),
        (T0 + 2000, 2000.0),
    ]


def test_samples_are_stored_once_across_a_reopening(opener: Opener) -> None:
    batch = _batch(metrics=[Metrics(M1, T0 + i * 1000, {"a": float(i)}) for i in range(5)])
    first = opener()
    first.write(batch)
    first.close()
    again = opener()
    if isinstance(again, DuckDBHistorian) and again.path == ":memory:":
        pytest.skip("an in-memory database does not outlive its connection")
    assert again.write(batch) == 0  # a broker's redelivery to a restarted worker
    assert _stored(again) == (5, 5)
