"""OEE over many windows gives exactly the one-window computation: the hourly count rollup
(any window, late data, resets, both backends) and the state resolution shared by windows."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from andon.historian import AssetInfo, DuckDBHistorian, Historian, WriteBatch
from andon.mes import count_deltas, hourly, oee_for_asset
from andon.mes.history import read_history
from andon.mes.states import OeePolicy, account
from andon.mes.timeline import Timeline, resolve
from andon.signals import CountUpdate, StateChange

H = hourly.HOUR_MS
T0 = 1_767_225_600_000  # 2026-01-01T00:00Z, an hour boundary
CELLS = ["acme/p1/a/l1/m1", "acme/p1/a/l1/m2"]
FAR = 1 << 62  # every hour is closed


@st.composite
def readings(draw: st.DrawFn, cell: str, start: int, span: int) -> list[CountUpdate]:
    """Totals that grow, repeat (duplicates), tie in time and reset now and then."""
    out: list[CountUpdate] = []
    total = scrap = draw(st.integers(0, 50))
    for _ in range(draw(st.integers(0, 30))):
        ts = start + draw(st.integers(0, span))
        kind = draw(st.sampled_from(["grow", "grow", "grow", "same", "reset"]))
        if kind == "reset":
            total = scrap = 0
        elif kind == "grow":
            total += draw(st.integers(0, 40))
            scrap += draw(st.integers(0, 2))
        made = max(total, scrap)
        out.append(CountUpdate(cell, ts, made, made - scrap, scrap))
        if draw(st.booleans()) and kind == "same":  # an exact duplicate message
            out.append(out[-1])
    return out


def _bounds(draw: st.DrawFn, start: int, span: int) -> list[int]:
    """Window edges: some exactly on hours, some anywhere (partial hours at the edges)."""
    on_hour = st.integers(0, span // H).map(lambda k: start + k * H)
    anywhere = st.integers(0, span).map(lambda t: start + t)
    edges = draw(st.lists(st.one_of(on_hour, anywhere), min_size=2, max_size=6, unique=True))
    return sorted(edges)


def _write(db: Historian, counts: list[CountUpdate]) -> None:
    db.write(WriteBatch([], [], [], counts, []))


def _check(db: Historian, bounds: list[int]) -> None:
    """Every window's quantities through the rollup equal the raw rule on all stored readings
    (the historian keeps one reading per cell and time: a copy sent again replaces it)."""
    history = read_history(db, CELLS, (bounds[0], bounds[-1]), bounds, closed_before=FAR)
    for cell in CELLS:
        mine = db.count_totals(cell, T0 - 10 * H, T0 + 20 * H)
        for a, b in pairwise(bounds):
            assert history[cell].quantities(a, b) == count_deltas(mine, a, b), (cell, a, b)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.data())
def test_rollup_equals_raw_with_late_data_and_resets(data: st.DataObject) -> None:
    span = 6 * H
    first = [r for c in CELLS for r in data.draw(readings(c, T0, span))]
    late = [r for c in CELLS for r in data.draw(readings(c, T0, span))]
    db = DuckDBHistorian(":memory:")
    try:
        _write(db, first)
        bounds = _bounds(data.draw, T0 - H // 2, span + H)
        _check(db, bounds)  # materialises the whole hours between the bounds
        _write(db, late)  # late data lands in hours already in the rollup, or replaces some
        _check(db, bounds)
        _check(db, _bounds(data.draw, T0 - H // 2, span + H))
    finally:
        db.close()


@pytest.fixture(params=["duckdb", pytest.param("postgresql", marks=pytest.mark.integration)])
def db(request: pytest.FixtureRequest) -> Iterator[Historian]:
    if request.param == "postgresql":
        yield request.getfixturevalue("pg_historian")
        return
    historian = DuckDBHistorian(":memory:")
    yield historian
    historian.close()


def _day(db: Historian) -> list[CountUpdate]:
    """Two cells over a day: 10 s totals, a counter reset, states with stops across hours."""
    counts: list[CountUpdate] = []
    for k, cell in enumerate(CELLS):
        total = 0
        for i in range(0, 24 * 360):
            ts = T0 + i * 10_000 + k * 1_234
            total = 0 if i == 3_000 + k * 7 else total + (i + k) % 3
            counts.append(CountUpdate(cell, ts, total, total - total // 40, total // 40))
    states = [
        StateChange(cell, T0 + j * 1_700_000 + k * 90_000, code)
        for k, cell in enumerate(CELLS)
        for j, code in enumerate([10000, 180000, 10000, 30000, 60000, 10000, 150000] * 7)
    ]
    db.write(WriteBatch([], [], states, counts, []))
    db.upsert_assets([AssetInfo(cell, 2.0) for cell in CELLS])
    return counts


def test_oee_through_rollup_equals_raw_on_every_backend(db: Historian) -> None:
    counts = _day(db)
    line = "acme/p1/a/l1"
    windows = [
        (T0, T0 + 24 * H),
        (T0 + 1_234_567, T0 + 20 * H + 7),
        (T0 + 5 * H, T0 + 6 * H),
        (T0 + 5 * H + 1, T0 + 6 * H - 1),
    ]
    for a, b in windows:
        assert oee_for_asset(db, line, a, b) == oee_for_asset(db, line, a, b, fast=False)
    stored = db.sql("SELECT count(*), sum(n) FROM mes_count_hours")[0]
    assert int(stored[0]) == 2 * 24  # every hour of both cells, materialised once
    assert int(stored[1]) == len(counts)
    late = [CountUpdate(CELLS[0], T0 + 3 * H + 5, 10**6, 10**6 - 5, 5)]  # a spike, in the past
    db.write(WriteBatch([], [], [], late, []))
    for a, b in windows:
        fast = oee_for_asset(db, line, a, b)
        assert fast == oee_for_asset(db, line, a, b, fast=False)
    assert int(db.sql("SELECT sum(n) FROM mes_count_hours")[0][0]) == len(counts) + 1


def test_plan_keeps_partial_and_recent_hours_raw() -> None:
    hours, raw = hourly.plan([10, 3 * H, 3 * H + 5, 9 * H], closed_before=7 * H + 1)
    assert hours == [(H, 3 * H), (4 * H, 7 * H)]
    assert raw == [(10, H), (3 * H, 4 * H), (7 * H, 9 * H)]
    assert hourly.plan([0, H - 1], closed_before=FAR) == ([], [(0, H - 1)])


CODES = [10000, 20000, 30000, 50000, 60000, 150000, 180000, 180012, 100000]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 4 * H), st.sampled_from(CODES)), min_size=0, max_size=40),
    st.lists(st.integers(-H, 5 * H), min_size=2, max_size=5, unique=True),
    st.sampled_from(
        [
            OeePolicy(),
            OeePolicy(
                micro_stop_is_performance_loss=False,
                micro_stop_threshold_s=600,
                unknown_backfill_s=60,
            ),
        ]
    ),
)
def test_accounting_with_one_resolution_equals_a_slice_per_window(
    changes: list[tuple[int, int]], edges: list[int], policy: OeePolicy
) -> None:
    """kpis resolves a cell's timeline once for all its windows: the same as per window."""
    timeline = Timeline.of([StateChange("m", ts, code) for ts, code in changes])
    resolution = resolve(timeline, policy)
    margin = policy.lookaround_ms
    for a, b in pairwise(sorted(edges)):
        alone = account(timeline.slice(a - margin, b + margin), a, b, policy)
        assert account(timeline, a, b, policy, resolution) == alone
