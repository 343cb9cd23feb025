"""OEE over the historian with the MES layers: calendar, annotations, products, late scrap."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from itertools import pairwise

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from andon import mes
from andon.historian import AssetInfo, DuckDBHistorian, WriteBatch
from andon.mes import Calendar, compute_oee, count_deltas, oee_by, oee_for_asset, rollup
from andon.mes.corrections import record_scrap
from andon.mes.downtime import annotate
from andon.mes.increments import window_increments
from andon.mes.losses import total
from andon.mes.orders import create_order, move
from andon.mes.products import set_cycle_time
from andon.mes.timeline import Timeline
from andon.signals import CountUpdate, StateChange

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
MIN, HOUR = 60_000, 3_600_000
LINE = "acme/p1/mach/l1"
M1, M2 = f"{LINE}/m1", f"{LINE}/m2"
RUN, UNKNOWN, FAILURE, CHANGEOVER = 10000, 30000, 180000, 100000
DAY_SHIFTS = Calendar.from_mapping(
    {
        "timezone": "UTC",
        "shifts": [
            {
                "name": "early",
                "start": "06:00",
                "hours": 8,
                "breaks": [{"start": "10:00", "minutes": 30}],
            },
            {
                "name": "late",
                "start": "14:00",
                "hours": 8,
                "breaks": [{"start": "18:00", "minutes": 30}],
            },
        ],
    }
)


def write(db: DuckDBHistorian, states: list[StateChange], counts: list[CountUpdate]) -> None:
    batch = WriteBatch.empty()
    batch.states += states
    batch.counts += counts
    db.write(batch)


@pytest.fixture
def db() -> Iterator[DuckDBHistorian]:
    h = DuckDBHistorian(":memory:")
    h.upsert_assets([AssetInfo(M1, 10.0), AssetInfo(M2, 20.0)])
    yield h
    h.close()


def minute(m: float) -> int:
    return T0 + round(m * MIN)


def test_an_annotation_with_a_planned_reason_turns_a_stop_into_planned_time(
    db: DuckDBHistorian,
) -> None:
    write(
        db,
        [
            StateChange(M1, minute(0), RUN),
            StateChange(M1, minute(20), UNKNOWN),
            StateChange(M1, minute(40), RUN),
        ],
        [CountUpdate(M1, minute(0), 0, 0, 0), CountUpdate(M1, minute(59), 240, 240, 0)],
    )
    before = oee_for_asset(db, M1, minute(0), minute(60))
    assert (before.downtime_s, before.planned_downtime_s, before.pbt_s) == (1200.0, 0.0, 3600.0)
    annotate(
        db,
        M1,
        [
            (minute(20), minute(30), "planned_maintenance", "oil change"),
            (minute(30), minute(40), "spindle", None),
        ],
        actor="op",
    )
    after = oee_for_asset(db, M1, minute(0), minute(60))
    assert (after.downtime_s, after.planned_downtime_s, after.pbt_s) == (600.0, 600.0, 3000.0)
    assert after.time_by_state == {
        "running": 2400.0,
        "equipment_failure": 600.0,
        "planned_maintenance": 600.0,
    }
    assert (after.failures, after.breakdown_s) == (1, 600.0)
    assert after.availability == pytest.approx(2400 / 3000)


def test_the_stored_calendar_makes_breaks_and_off_shift_time_planned(
    db: DuckDBHistorian,
) -> None:
    write(db, [StateChange(M1, T0, RUN)], [])
    mes.save_calendar(db, DAY_SHIFTS, "eng")
    day = oee_for_asset(db, M1, T0, T0 + 24 * HOUR)
    assert (day.pot_s, day.planned_downtime_s, day.apt_s) == (86_400.0, 32_400.0, 54_000.0)
    assert day.time_by_state == {"running": 54_000.0, "break": 3600.0, "no_shift": 28_800.0}
    always = oee_for_asset(db, M1, T0, T0 + 24 * HOUR, calendar=Calendar())
    assert always.planned_downtime_s == 0.0


def test_by_shift_computes_each_shift_and_rolls_up_exactly(db: DuckDBHistorian) -> None:
    rng = random.Random(7)
    states, counts, total_parts, ts = [], [], 0, T0
    while ts < T0 + 24 * HOUR:
        states.append(StateChange(M1, ts, rng.choice([RUN, RUN, RUN, UNKNOWN, FAILURE])))
        total_parts += rng.randint(0, 30)
        counts.append(
            CountUpdate(M1, ts, total_parts, total_parts - total_parts // 20, total_parts // 20)
        )
        ts += rng.randint(30_000, 900_000)
    write(db, states, counts)
    result = oee_by(db, M1, T0, T0 + 24 * HOUR, "shift", calendar=DAY_SHIFTS)
    assert [p.label for p in result.periods] == ["2026-01-01/early", "2026-01-01/late"]
    assert result.total == rollup(M1, [p.result for p in result.periods])
    early = oee_for_asset(db, M1, T0 + 6 * HOUR, T0 + 14 * HOUR, calendar=DAY_SHIFTS)
    assert result.periods[0].result == early
    hours = oee_by(db, M1, T0, T0 + 24 * HOUR, "hour", calendar=DAY_SHIFTS)
    whole = oee_for_asset(db, M1, T0, T0 + 24 * HOUR, calendar=DAY_SHIFTS)
    assert len(hours.periods) == 24
    assert hours.total == whole


def test_an_order_applies_its_products_ideal_cycle_time(db: DuckDBHistorian) -> None:
    write(
        db,
        [StateChange(M1, minute(0), RUN)],
        [
            CountUpdate(M1, minute(0), 0, 0, 0),
            CountUpdate(M1, minute(29), 150, 150, 0),
            CountUpdate(M1, minute(59), 270, 270, 0),
        ],
    )
    set_cycle_time(db, M1, "bracket", 12.0, actor="eng")
    create_order(db, "WO-1", "bracket", 100, M1, actor="planner", status="released")
    move(db, "WO-1", "start", actor="op", ts_ms=minute(0))
    move(db, "WO-1", "complete", actor="op", ts_ms=minute(30))
    r = oee_for_asset(db, M1, minute(0), minute(60))
    assert r.ideal_time_s == 150 * 12.0 + 120 * 10.0  # the asset's own 10 s after the order
    assert r.ideal_cycle_time_s is None
    assert r.performance == pytest.approx(3000 / 3600)
    override = oee_for_asset(db, M1, minute(0), minute(60), ideal_cycle_time_s=5.0)
    assert override.ideal_time_s == 270 * 5.0


def test_late_scrap_moves_good_parts_to_scrap_in_its_window(db: DuckDBHistorian) -> None:
    write(
        db,
        [StateChange(M1, minute(0), RUN)],
        [CountUpdate(M1, minute(0), 0, 0, 0), CountUpdate(M1, minute(59), 300, 297, 3)],
    )
    record_scrap(db, M1, minute(10), 12, reason="burr", actor="qa")
    r = oee_for_asset(db, M1, minute(0), minute(60))
    assert (r.produced, r.good, r.scrap) == (300, 285, 15)
    assert r.scrap_ratio == pytest.approx(15 / 300)
    elsewhere = oee_for_asset(db, M1, minute(30), minute(60))
    assert (elsewhere.good, elsewhere.scrap) == (297, 3)  # the correction is in [0, 30)


def test_kpis_of_a_hand_computed_shift(db: DuckDBHistorian) -> None:
    # 8 h: 30 min break, two failures of 20 and 40 min, a 60 min changeover, 10 s cycle.
    write(
        db,
        [
            StateChange(M1, T0 + s * MIN, c)
            for s, c in [
                (0, RUN),
                (60, FAILURE),
                (80, RUN),
                (180, 150000),
                (210, RUN),
                (300, CHANGEOVER),
                (360, RUN),
                (400, FAILURE),
                (440, RUN),
            ]
        ],
        [CountUpdate(M1, T0, 0, 0, 0), CountUpdate(M1, T0 + 479 * MIN, 2000, 1900, 100)],
    )
    r = oee_for_asset(db, M1, T0, T0 + 480 * MIN)
    assert (r.pbt_s, r.apt_s, r.downtime_s, r.breakdown_s, r.setup_s) == (
        27_000.0,
        19_800.0,
        7200.0,
        3600.0,
        3600.0,
    )
    assert (r.failures, r.mtbf_s, r.mttr_s) == (2, 9900.0, 1800.0)
    assert r.teep == pytest.approx(1900 * 10 / 28_800)
    bars = {b.loss: b.seconds for b in r.waterfall}
    assert bars == {
        "planned_downtime": 1800.0,
        "no_data": 0.0,
        "breakdowns": 3600.0,
        "setup_adjustments": 3600.0,
        "other_stops": 0.0,
        "minor_stops": 0.0,
        "speed_loss": -200.0,
        "quality_loss": 1000.0,
        "fully_productive": 19_000.0,
    }
    assert total(r.waterfall) == r.pot_s
    assert r.performance == pytest.approx(20_000 / 19_800)  # above 1, reported as such


def test_a_line_rolls_up_its_machines_by_time_and_quantity(db: DuckDBHistorian) -> None:
    write(
        db,
        [
            StateChange(M1, T0, RUN),
            StateChange(M2, T0, RUN),
            StateChange(M2, T0 + 30 * MIN, FAILURE),
        ],
        [
            CountUpdate(M1, T0, 0, 0, 0),
            CountUpdate(M1, T0 + 59 * MIN, 360, 360, 0),
            CountUpdate(M2, T0, 0, 0, 0),
            CountUpdate(M2, T0 + 29 * MIN, 90, 90, 0),
        ],
    )
    line = oee_for_asset(db, LINE, T0, T0 + HOUR)
    assert (line.machines, line.apt_s, line.pbt_s) == (2, 5400.0, 7200.0)
    assert line.ideal_time_s == 360 * 10 + 90 * 20
    assert line.oee == pytest.approx(5400 / 7200 * (5400 / 5400) * 1.0)


# --- the DuckDB reader and the protocol reader give the same numbers --------------------------


_SHARED = DuckDBHistorian(":memory:")
_SHARED.upsert_assets([AssetInfo(M1, 10.0), AssetInfo(M2, 20.0)])


def _fresh(states: list[StateChange], counts: list[CountUpdate]) -> DuckDBHistorian:
    """One historian for every example, emptied first (a new one per example is slow)."""
    for table in ("states", "counts"):
        _SHARED.sql(f"DELETE FROM {table}")
    write(_SHARED, states, counts)
    return _SHARED


@st.composite
def plants(draw: st.DrawFn) -> tuple[list[StateChange], list[CountUpdate]]:
    """Two machines with random states, totals and counter resets around T0."""
    states, counts = [], []
    for asset in (M1, M2):
        ts = T0 - draw(st.integers(0, 3)) * HOUR
        for _ in range(draw(st.integers(0, 30))):
            code = draw(st.sampled_from([RUN, UNKNOWN, FAILURE, 150000, 50000]))
            states.append(StateChange(asset, ts, code))
            ts += draw(st.integers(1, 1800)) * 1000
        totals = [0, 0]
        ts = T0 - draw(st.integers(0, 3)) * HOUR
        for _ in range(draw(st.integers(0, 30))):
            if draw(st.integers(0, 15)) == 0:
                totals = [0, 0]  # a counter reset
            made = draw(st.integers(0, 40))
            bad = draw(st.integers(0, made))
            totals = [totals[0] + made, totals[1] + bad]
            counts.append(CountUpdate(asset, ts, totals[0], totals[0] - totals[1], totals[1]))
            ts += draw(st.integers(1, 900)) * 1000
    return states, counts


@settings(max_examples=12, deadline=None)
@given(plants(), st.integers(-2, 12), st.integers(1, 10))
def test_the_fast_reader_equals_the_protocol_reader(
    plant: tuple[list[StateChange], list[CountUpdate]], start_h: int, hours: int
) -> None:
    h = _fresh(*plant)
    lo, hi = T0 + start_h * HOUR, T0 + (start_h + hours) * HOUR
    for asset in (M1, LINE):
        fast = oee_for_asset(h, asset, lo, hi, calendar=Calendar())
        assert fast == oee_for_asset(h, asset, lo, hi, calendar=Calendar(), fast=False)
    by_fast = oee_by(h, LINE, lo, hi, "hour", calendar=Calendar())
    assert by_fast == oee_by(h, LINE, lo, hi, "hour", calendar=Calendar(), fast=False)


@settings(max_examples=100, deadline=None)
@given(plants(), st.integers(-2, 20), st.integers(1, 12), st.sampled_from([None, 0.5, 10.0]))
def test_the_waterfall_adds_up_to_the_planned_operation_time(
    plant: tuple[list[StateChange], list[CountUpdate]],
    start_h: int,
    hours: int,
    cycle: float | None,
) -> None:
    states, counts = plant
    lo, hi = T0 + start_h * HOUR, T0 + (start_h + hours) * HOUR
    timeline = Timeline.of([s for s in states if s.asset == M1])
    laid = timeline.overlay(DAY_SHIFTS.planned(lo - HOUR, hi + HOUR))
    r = compute_oee(
        M1, laid, [c for c in counts if c.asset == M1], lo, hi, ideal_cycle_time_s=cycle
    )
    bars = total(r.waterfall)
    assert (bars is None) == (cycle is None and r.produced > 0)
    if bars is not None:
        assert math.isclose(bars, r.pot_s, abs_tol=1e-6)
    assert r.availability is None or 0 <= r.availability <= 1
    assert r.quality is None or 0 <= r.quality <= 1
    assert r.apt_s <= r.pbt_s


def test_a_reading_exactly_at_the_window_start_closes_the_increment_before_it(
    db: DuckDBHistorian,
) -> None:
    write(
        db,
        [StateChange(M1, T0 - HOUR, RUN)],
        [
            CountUpdate(M1, T0 - 10_000, 100, 100, 0),
            CountUpdate(M1, T0, 110, 110, 0),
            CountUpdate(M1, T0 + 10_000, 120, 120, 0),
        ],
    )
    for fast in (True, False):
        r = oee_for_asset(db, M1, T0, T0 + HOUR, calendar=Calendar(), fast=fast)
        assert r.produced == 20


class ArrowHistorian(DuckDBHistorian):
    """The embedded historian with the Arrow door ``mes.history`` uses when it is there."""

    def arrow(self, statement: str, params: list[object]) -> pa.Table:
        with self._write_lock:
            return self._con.sql(statement, params=params).to_arrow_table()


_ARROW = ArrowHistorian(":memory:")
_ARROW.upsert_assets([AssetInfo(M1, 10.0), AssetInfo(M2, 20.0)])


@settings(max_examples=12, deadline=None)
@given(plants(), st.integers(-2, 12), st.integers(1, 10))
def test_the_arrow_reader_equals_the_protocol_reader(
    plant: tuple[list[StateChange], list[CountUpdate]], start_h: int, hours: int
) -> None:
    for table in ("states", "counts"):
        _ARROW.sql(f"DELETE FROM {table}")
    write(_ARROW, *plant)
    lo, hi = T0 + start_h * HOUR, T0 + (start_h + hours) * HOUR
    fast = oee_by(_ARROW, LINE, lo, hi, "hour", calendar=Calendar())
    assert fast == oee_by(_ARROW, LINE, lo, hi, "hour", calendar=Calendar(), fast=False)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 2), st.integers(0, 50), st.integers(0, 30), st.integers(0, 5)),
        max_size=40,
    ),
    st.lists(st.integers(0, 50), min_size=2, max_size=5, unique=True),
)
def test_vectorised_increments_equal_count_deltas(
    rows: list[tuple[int, int, int, int]], cuts: list[int]
) -> None:
    bounds = sorted(cuts)
    arrays = [np.array([r[i] for r in rows], dtype=np.int64) for i in range(4)]
    asset, ts, total, scrap = arrays
    sums = window_increments(asset, ts, total, total - scrap, scrap, bounds, 3)
    for a in range(3):
        readings = [CountUpdate(str(a), t, v, v - s, s) for b, t, v, s in rows if b == a]
        for w, (lo, hi) in enumerate(pairwise(bounds)):
            assert tuple(sums[a, w].tolist()) == count_deltas(readings, lo, hi)
