"""Live OEE from the ingest stream equals batch recomputation over the same data."""

from __future__ import annotations

import random
from itertools import pairwise

import pytest

from andon import sim
from andon.config import IngestSettings
from andon.historian import AssetInfo, DuckDBHistorian, WriteBatch
from andon.ingest import Pipeline
from andon.mes import Calendar, LiveOee, oee_for_asset
from andon.mes.products import set_cycle_time
from andon.mes.progress import import_order_events, order_progress
from andon.signals import CountUpdate, Event, Record, StateChange

T0 = 1_767_254_400_000  # 2026-01-01T08:00:00Z
HOUR = 3_600_000


class _PipelineSink:
    """The virtual factory feeding the ingestion pipeline directly (as the demo's backfill)."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    def send(self, messages: list[tuple[str, bytes]]) -> None:
        for topic, payload in messages:
            self.pipeline.submit(topic, payload, source="sim")


def test_the_virtual_factory_live_equals_batch() -> None:
    """75 simulated minutes of the demo plant through ingestion: live == batch, to the ms."""
    factory = sim.Factory(sim.load_scenario("demo"), 3, T0)
    cycles = {m.path: m.ideal_cycle_time_s for m in factory.machines}
    live = LiveOee(T0, ideal_cycle_times=cycles)
    db = DuckDBHistorian(":memory:")
    db.upsert_assets([AssetInfo(path, cycle) for path, cycle in cycles.items()])
    with Pipeline(db, IngestSettings(batch_size=2000, max_delay_s=0.05), streams=[live]) as p:
        sim.run(factory, _PipelineSink(p), until_ms=T0 + 75 * 60_000)
    now = factory.now_ms
    import_order_events(db, T0, now)
    for path in cycles:
        assert live.oee(path, now) == oee_for_asset(db, path, T0, now, calendar=Calendar())
        latest = db.state_timeline(path, now, now + 1)[-1]
        state = live.state(path)
        assert state is not None
        assert (state.ts_ms, state.code) == (latest.ts_ms, latest.code)
    assert live.late == 0
    db.close()


def _random_machine(seed: int) -> list[Record]:
    rng = random.Random(seed)
    asset = "acme/p1/a/l1/m1"
    records: list[Record] = []
    ts, total, scrap, order = T0, 0, 0, 0
    records.append(
        Event(asset, T0, "order_start", {"order": "O-0", "product": "a", "quantity": 500})
    )
    while ts < T0 + 6 * HOUR:
        records.append(
            StateChange(asset, ts, rng.choice([10000, 10000, 30000, 50000, 60000, 180000, 150000]))
        )
        if rng.random() < 0.1:
            total = scrap = 0  # the counters were reset
        made = rng.randint(0, 40)
        bad = rng.randint(0, made // 5)
        total, scrap = total + made, scrap + bad
        records.append(CountUpdate(asset, ts + rng.randint(0, 999), total, total - scrap, scrap))
        if rng.random() < 0.05:
            records.append(Event(asset, ts, "order_end", {"order": f"O-{order}"}))
            order += 1
            records.append(
                Event(
                    asset,
                    ts,
                    "order_start",
                    {"order": f"O-{order}", "product": rng.choice("ab"), "quantity": 300},
                )
            )
        ts += rng.choice([5_000, 40_000, 90_000, 200_000, 700_000, 1_200_000])
    return records


@pytest.mark.parametrize("seed", [1, 2])
def test_random_streams_live_equal_batch_with_shifts_products_and_resets(seed: int) -> None:
    asset = "acme/p1/a/l1/m1"
    calendar = Calendar.from_mapping(
        {
            "timezone": "Europe/Berlin",
            "shifts": [
                {
                    "name": "early",
                    "start": "06:00",
                    "hours": 8,
                    "breaks": [{"start": "10:00", "minutes": 20}],
                },
                {"name": "late", "start": "14:00", "hours": 8},
            ],
        }
    )
    products = {(asset, "a"): 2.0, ("acme/p1/a/l1", "b"): 3.0}
    live = LiveOee(
        T0, ideal_cycle_times={asset: 2.5}, product_cycle_times=products, calendar=calendar
    )
    records = _random_machine(seed)
    db = DuckDBHistorian(":memory:")
    db.upsert_assets([AssetInfo(asset, 2.5)])
    for (a, product), seconds in products.items():
        set_cycle_time(db, a, product, seconds, actor="eng")
    chunks = sorted({0, len(records), *random.Random(seed).sample(range(len(records)), 12)})
    for lo, hi in pairwise(chunks):
        batch = WriteBatch.empty()
        for record in records[lo:hi]:
            getattr(
                batch, {StateChange: "states", CountUpdate: "counts", Event: "events"}[type(record)]
            ).append(record)
        db.write(batch)
        live.publish(records[lo:hi])
        now = max(r.ts_ms for r in records[:hi]) + 1
        window = live.window(asset)
        assert window is not None
        import_order_events(db, T0, now)
        start, end = window[0], min(now, window[1])
        if end > start:
            batch_oee = oee_for_asset(db, asset, start, end, calendar=calendar)
            assert live.oee(asset, now) == batch_oee
    current = live.order(asset, now)
    assert current is not None
    progress = order_progress(db, str(current["order"]), now_ms=now)
    assert (current["produced"], current["good"], current["scrap"]) == progress.by_asset.get(
        asset, (0, 0, 0)
    )
    db.close()


def test_records_older_than_the_checkpoint_are_counted_as_late() -> None:
    asset = "l1/m1"
    live = LiveOee(0, ideal_cycle_times={asset: 1.0})
    live.publish([StateChange(asset, 0, 10000), StateChange(asset, 3 * HOUR, 10000)])
    live.publish([StateChange(asset, 60_000, 180000)])  # long folded away
    assert live.late == 1
    result = live.oee(asset, 3 * HOUR)
    assert result is not None
    assert result.downtime_s == 0.0
