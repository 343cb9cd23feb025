"""OEE after ISO 22400-2: hand-computed windows, roll-ups and properties."""

from __future__ import annotations

import dataclasses
import json
import math
import random
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from andon import mes
from andon.errors import InvalidRequest, NotFound
from andon.historian import AssetInfo, DuckDBHistorian, WriteBatch
from andon.mes import OeePolicy, OeeResult, compute_oee, oee_for_asset, rollup
from andon.signals import CountUpdate, StateChange

ASSET = "acme/p1/a/l1/m1"
MIN = 60_000
RUN, SLOW, UNKNOWN, IDLE, MICRO = 10000, 20000, 30000, 40000, 50000
BREAK, FAILURE, MAINTENANCE = 150000, 180000, 210000


def at(minute: float, code: int, asset: str = ASSET) -> StateChange:
    return StateChange(asset, round(minute * MIN), code)


def parts(minute: float, total: int, scrap: int = 0, asset: str = ASSET) -> CountUpdate:
    return CountUpdate(asset, round(minute * MIN), total, total - scrap, scrap)


def oee(
    states: list[StateChange],
    counts: list[CountUpdate] | None = None,
    start: float = 0,
    end: float = 60,
    cycle: float | None = 1.0,
    policy: OeePolicy | None = None,
) -> OeeResult:
    """OEE of ASSET over [start, end) minutes."""
    return compute_oee(
        ASSET,
        states,
        counts or [],
        round(start * MIN),
        round(end * MIN),
        ideal_cycle_time_s=cycle,
        policy=policy or OeePolicy(),
    )


# --- time: clip, carry-in, no data, planned, micro-stops, sub-codes -------------------------


def test_window_cutting_through_states_clips_them() -> None:
    r = oee([at(0, RUN), at(10, FAILURE), at(25, RUN), at(50, IDLE), at(70, RUN)], start=5, end=55)
    assert (r.pot_s, r.pbt_s, r.apt_s, r.downtime_s) == (3000.0, 3000.0, 1800.0, 1200.0)
    assert r.time_by_state == {"running": 1800.0, "idle": 300.0, "equipment_failure": 900.0}
    assert r.availability == pytest.approx(0.6)
    assert r.stops == 2


def test_state_from_long_before_the_window_is_carried_in() -> None:
    r = oee([at(-600, RUN), at(-30, FAILURE), at(45, RUN)])
    assert (r.no_data_s, r.apt_s, r.downtime_s) == (0.0, 900.0, 2700.0)
    assert r.availability == pytest.approx(0.25)
    assert r.stops == 0  # the failure began before the window


def test_time_before_the_first_state_is_no_data_not_downtime() -> None:
    r = oee([at(15, RUN), at(45, FAILURE)])
    assert (r.pot_s, r.no_data_s, r.pbt_s, r.apt_s, r.downtime_s) == (
        3600.0,
        900.0,
        2700.0,
        1800.0,
        900.0,
    )
    assert r.availability == pytest.approx(2 / 3)
    assert sum(r.time_by_state.values()) == r.pot_s - r.no_data_s


def test_no_states_at_all_is_all_no_data_and_undefined() -> None:
    r = oee([], [parts(-1, 0), parts(30, 100)])
    assert (r.no_data_s, r.pbt_s, r.apt_s, r.time_by_state) == (3600.0, 0.0, 0.0, {})
    assert (r.availability, r.performance, r.quality, r.oee) == (None, None, 1.0, None)


def test_states_after_the_window_are_ignored() -> None:
    r = oee([at(-5, RUN), at(60, FAILURE), at(61, IDLE)])
    assert (r.apt_s, r.downtime_s, r.stops, r.availability) == (3600.0, 0.0, 0, 1.0)


def test_planned_break_and_maintenance_are_excluded_from_pbt() -> None:
    r = oee([at(0, RUN), at(20, BREAK), at(30, RUN), at(40, MAINTENANCE), at(50, FAILURE)])
    assert (r.planned_downtime_s, r.pbt_s, r.apt_s, r.downtime_s) == (
        1200.0,
        2400.0,
        1800.0,
        600.0,
    )
    assert r.availability == pytest.approx(0.75)


@pytest.mark.parametrize(
    ("as_performance_loss", "apt_s", "downtime_s", "stops"),
    [(True, 3000.0, 600.0, 1), (False, 2880.0, 720.0, 3)],
)
def test_micro_stops_as_performance_or_availability_loss(
    as_performance_loss: bool, apt_s: float, downtime_s: float, stops: int
) -> None:
    timeline = [at(0, RUN), at(10, MICRO), at(11, RUN), at(20, MICRO + 3), at(21, RUN)]
    timeline += [at(50, FAILURE)]
    policy = OeePolicy(micro_stop_is_performance_loss=as_performance_loss)
    r = oee(timeline, [parts(-1, 0), parts(59, 2400)], policy=policy)
    assert (r.apt_s, r.downtime_s, r.stops) == (apt_s, downtime_s, stops)
    assert r.availability == pytest.approx(apt_s / 3600)
    assert r.performance == pytest.approx(2400 / apt_s)
    assert r.oee == pytest.approx(2400 / 3600)  # the split moves loss, OEE stays
    assert r.time_by_state["micro_stop"] == 60.0
    assert r.time_by_state["50003"] == 60.0


def test_sub_codes_classify_by_category_and_keep_their_own_key() -> None:
    r = oee([at(0, RUN + 7), at(30, FAILURE + 12), at(40, BREAK + 1), at(50, 999_999)])
    assert (r.apt_s, r.planned_downtime_s, r.downtime_s, r.stops) == (1800.0, 600.0, 1200.0, 2)
    assert r.time_by_state == {"10007": 1800.0, "150001": 600.0, "180012": 600.0, "999999": 600.0}


def test_time_by_state_uses_state_names_in_code_order() -> None:
    r = oee([at(0, MAINTENANCE), at(10, SLOW), at(20, UNKNOWN), at(30, RUN)])
    assert list(r.time_by_state) == [
        "running",
        "reduced_speed",
        "unknown_stop",
        "planned_maintenance",
    ]


# --- stops ----------------------------------------------------------------------------------


def test_consecutive_downtime_states_are_one_stop() -> None:
    # An unknown stop later given its reason by the operator is still one stop.
    r = oee([at(0, RUN), at(10, UNKNOWN), at(12, FAILURE), at(20, RUN), at(30, IDLE)])
    assert r.stops == 2


def test_downtime_after_a_break_or_at_the_first_known_state_is_a_stop() -> None:
    r = oee([at(5, FAILURE), at(10, RUN), at(20, BREAK), at(30, FAILURE), at(40, RUN)])
    assert r.stops == 2


def test_repeated_state_messages_are_not_new_stops() -> None:
    once = [at(0, RUN), at(10, FAILURE), at(20, RUN)]
    r = oee([*once, at(10, FAILURE), at(15, FAILURE), at(15, FAILURE), at(25, RUN)])
    assert r == oee(once)
    assert (r.stops, r.downtime_s) == (1, 600.0)


# --- quantities and ratios ------------------------------------------------------------------


def test_quantities_come_from_totals_with_a_reset_in_the_window() -> None:
    counts = [parts(-2, 5000, 40), parts(20, 5400, 45), parts(30, 100, 2), parts(59, 1300, 20)]
    r = oee([at(0, RUN)], counts)
    assert (r.produced, r.good, r.scrap) == (1700, 395 + 98 + 1182, 5 + 2 + 18)
    assert r.quality == pytest.approx(1675 / 1700)
    assert r.ideal_time_s == 1700.0


def test_late_and_duplicate_messages_give_the_same_result() -> None:
    states = [at(-3, IDLE), at(2, RUN), at(17, FAILURE), at(21, RUN), at(40, BREAK), at(45, RUN)]
    counts = [parts(-1, 10), parts(10, 300, 3), parts(30, 900, 9), parts(50, 1500, 11)]
    mixed_states = states + states[2:4]
    mixed_counts = counts + counts[1:3]
    random.Random(7).shuffle(mixed_states)
    random.Random(8).shuffle(mixed_counts)
    assert oee(mixed_states, mixed_counts) == oee(states, counts)


def test_performance_above_one_is_reported_as_is() -> None:
    r = oee([at(0, RUN)], [parts(-1, 0), parts(30, 4500)])
    assert r.performance == pytest.approx(1.25)
    assert r.oee == pytest.approx(1.25)


@pytest.mark.parametrize(
    ("states", "counts", "cycle", "none_fields"),
    [
        ([at(0, RUN)], [], 1.0, {"quality", "oee"}),
        ([at(0, RUN)], [parts(-1, 0), parts(5, 10)], None, {"performance", "oee", "ideal_time_s"}),
        ([at(0, FAILURE)], [parts(-1, 0), parts(5, 10)], 1.0, {"performance", "oee"}),
        ([at(0, BREAK)], [parts(-1, 0), parts(5, 10)], 1.0, {"availability", "performance", "oee"}),
    ],
    ids=["no-parts", "no-ideal-cycle", "no-production-time", "all-planned"],
)
def test_zero_denominators_give_none_never_a_fake_value(
    states: list[StateChange], counts: list[CountUpdate], cycle: float | None, none_fields: set[str]
) -> None:
    r = oee(states, counts, cycle=cycle).to_dict()
    ratios = {"availability", "performance", "quality", "oee", "ideal_time_s"}
    assert {name for name in ratios if r[name] is None} == none_fields


def test_zero_availability_is_a_number_not_none() -> None:
    r = oee([at(0, FAILURE)], [parts(-1, 0)])
    assert (r.availability, r.performance, r.quality, r.oee) == (0.0, None, None, None)


@pytest.mark.parametrize(("start", "end"), [(10, 10), (10, 5)])
def test_empty_window_is_invalid(start: float, end: float) -> None:
    with pytest.raises(InvalidRequest):
        oee([at(0, RUN)], start=start, end=end)


@pytest.mark.parametrize("cycle", [0.0, -1.0, math.inf, math.nan])
def test_ideal_cycle_time_must_be_positive(cycle: float) -> None:
    with pytest.raises(InvalidRequest):
        oee([at(0, RUN)], cycle=cycle)


def test_to_dict_is_json_ready_with_exactly_the_field_names() -> None:
    r = oee([at(0, RUN), at(30, FAILURE)], [parts(-1, 0), parts(10, 100, 1)])
    out = r.to_dict()
    assert list(out) == [f.name for f in dataclasses.fields(OeeResult)]
    assert json.loads(json.dumps(out)) == out
    out["time_by_state"]["running"] = 0.0  # type: ignore[index]  # a copy, not the result's
    assert r.time_by_state["running"] == 1800.0


def test_public_surface_is_sorted_and_importable() -> None:
    assert mes.__all__ == sorted(mes.__all__)
    assert all(hasattr(mes, name) for name in mes.__all__)


# --- roll-up --------------------------------------------------------------------------------

STATES = [at(-7, FAILURE), at(3, RUN), at(20, MICRO), at(21, RUN), at(30, BREAK), at(40, IDLE)]
STATES += [at(44, RUN), at(60, FAILURE)]
COUNTS = [parts(-4, 100), parts(15, 700, 3), parts(30, 1300, 8), parts(55, 1900, 9)]


@pytest.mark.parametrize("split", [10, 30, 30.5, 44])
def test_rollup_of_a_split_window_equals_the_whole_window(split: float) -> None:
    whole = oee(STATES, COUNTS, end=80)
    halves = [oee(STATES, COUNTS, end=split), oee(STATES, COUNTS, start=split, end=80)]
    assert rollup(ASSET, halves) == whole


def test_rollup_over_machines_is_weighted_not_the_mean_of_oees() -> None:
    m2 = "acme/p1/a/l1/m2"
    fast = oee([at(0, RUN)], [parts(-1, 0), parts(59, 3600)])
    slow = compute_oee(
        m2,
        [at(0, RUN, m2), at(50, FAILURE, m2)],
        [parts(-1, 0, asset=m2), parts(59, 1000, 100, asset=m2)],
        0,
        60 * MIN,
        ideal_cycle_time_s=2.0,
    )
    line = rollup("acme/p1/a/l1", [fast, slow])
    assert (line.pot_s, line.pbt_s, line.apt_s, line.produced, line.good) == (
        7200.0,
        7200.0,
        6600.0,
        4600,
        4500,
    )
    assert (line.machines, line.stops, line.ideal_cycle_time_s) == (2, 1, None)
    assert line.ideal_time_s == 3600 + 2000
    assert line.availability == pytest.approx(6600 / 7200)
    assert line.performance == pytest.approx(5600 / 6600)
    assert line.quality == pytest.approx(4500 / 4600)
    assert line.oee == pytest.approx((6600 / 7200) * (5600 / 6600) * (4500 / 4600))
    assert line.oee != pytest.approx((fast.oee or 0) / 2 + (slow.oee or 0) / 2)


def test_rollup_without_an_ideal_cycle_time_somewhere_has_no_performance() -> None:
    known = oee([at(0, RUN)], [parts(-1, 0), parts(5, 60)])
    unknown = oee([at(0, RUN)], [parts(-1, 0), parts(5, 60)], cycle=None)
    line = rollup("acme/p1/a/l1", [known, unknown])
    assert (line.ideal_time_s, line.performance, line.oee) == (None, None, None)
    assert line.availability == 1.0


def test_rollup_of_nothing_is_invalid() -> None:
    with pytest.raises(InvalidRequest):
        rollup("acme", [])


# --- oee_for_asset --------------------------------------------------------------------------


LINE = "acme/p1/a/l1"
M1, M2, OTHER = f"{LINE}/m1", f"{LINE}/m2", "acme/p1/a/l10/m1"


def _plant() -> DuckDBHistorian:
    db = DuckDBHistorian(":memory:")
    batch = WriteBatch.empty()
    batch.states += [at(-1, RUN, M1), at(40, FAILURE, M1), at(0, RUN, M2), at(0, FAILURE, OTHER)]
    batch.counts += [
        *(parts(-1, 0, asset=M1), parts(50, 2000, 20, asset=M1)),
        *(parts(1, 0, asset=M2), parts(59, 1200, asset=M2)),
        *(parts(-1, 0, asset=OTHER), parts(30, 9, asset=OTHER)),
    ]
    db.write(batch)
    db.upsert_assets(
        [AssetInfo(LINE), AssetInfo(M1, 1.0), AssetInfo(M2, 2.0), AssetInfo(OTHER, 1.0)]
    )
    return db


PLANT = _plant()


def cell(path: str, cycle: float) -> OeeResult:
    return compute_oee(
        path,
        PLANT.state_timeline(path, 0, 60 * MIN),
        PLANT.count_totals(path, 0, 60 * MIN),
        0,
        60 * MIN,
        ideal_cycle_time_s=cycle,
    )


def test_a_cell_gets_its_own_result_with_its_ideal_cycle_time() -> None:
    r = oee_for_asset(PLANT, M2, 0, 60 * MIN)
    assert r == cell(M2, 2.0)
    assert (r.performance, r.machines) == (pytest.approx(2400 / 3600), 1)


def test_a_line_rolls_up_its_cells_only() -> None:
    r = oee_for_asset(PLANT, LINE, 0, 60 * MIN)
    assert r == rollup(LINE, [cell(M1, 1.0), cell(M2, 2.0)])
    assert (r.asset, r.machines, r.produced) == (LINE, 2, 3200)


def test_an_ancestor_with_one_cell_gets_that_cells_numbers() -> None:
    r = oee_for_asset(PLANT, "acme/p1/a/l10", 0, 60 * MIN)
    assert dataclasses.replace(r, asset=OTHER) == cell(OTHER, 1.0)


def test_ideal_cycle_time_argument_overrides_the_asset_attribute() -> None:
    r = oee_for_asset(PLANT, LINE, 0, 60 * MIN, ideal_cycle_time_s=0.5)
    assert r == rollup(LINE, [cell(M1, 0.5), cell(M2, 0.5)])
    assert r.ideal_cycle_time_s == 0.5


@pytest.mark.parametrize("asset", ["acme/p2", "acme/p1/a/l1/m3", "acme/p1/a/l"])
def test_unknown_asset_is_not_found(asset: str) -> None:
    with pytest.raises(NotFound):
        oee_for_asset(PLANT, asset, 0, 60 * MIN)


def test_empty_window_is_refused_before_reading() -> None:
    with pytest.raises(InvalidRequest):
        oee_for_asset(PLANT, "acme", 5, 5)


# --- properties -----------------------------------------------------------------------------

CODES = [RUN, SLOW, UNKNOWN, IDLE, MICRO, BREAK, 160000, FAILURE, FAILURE + 5, MAINTENANCE, 7]


@st.composite
def machines(draw: st.DrawFn) -> tuple[list[StateChange], list[CountUpdate]]:
    """A random timeline and consistent, resettable totals around a 0..100 000 ms window."""
    stamps = st.lists(st.integers(-20_000, 120_000), max_size=20)
    states = [StateChange(ASSET, ts, draw(st.sampled_from(CODES))) for ts in draw(stamps)]
    total = scrap = 0
    counts = []
    for ts in sorted(draw(stamps)):
        total, scrap = (0, 0) if draw(st.integers(0, 9)) == 0 else (total, scrap)
        made = draw(st.integers(0, 40))
        total, scrap = total + made, scrap + draw(st.integers(0, made))
        counts.append(CountUpdate(ASSET, ts, total, total - scrap, scrap))
    return states, counts


policies = st.builds(OeePolicy, micro_stop_is_performance_loss=st.booleans())
cycles = st.one_of(st.none(), st.floats(0.01, 10.0))


@given(machines(), st.integers(0, 99_999), st.integers(1, 100_000), cycles, policies)
def test_properties_of_any_window(
    machine: tuple[list[StateChange], list[CountUpdate]],
    start: int,
    length: int,
    cycle: float | None,
    policy: OeePolicy,
) -> None:
    states, counts = machine
    r = compute_oee(
        ASSET, states, counts, start, start + length, ideal_cycle_time_s=cycle, policy=policy
    )
    assert r.availability is None or 0.0 <= r.availability <= 1.0
    assert r.quality is None or 0.0 <= r.quality <= 1.0
    assert r.apt_s <= r.pbt_s <= r.pot_s
    assert round(r.apt_s + r.downtime_s, 3) == r.pbt_s
    assert round(math.fsum(r.time_by_state.values()), 3) == round(r.pot_s - r.no_data_s, 3)
    assert r.planned_downtime_s + r.pbt_s + r.no_data_s == pytest.approx(r.pot_s)
    assert (r.oee is None) == (None in (r.availability, r.performance, r.quality))


@given(machines(), st.lists(st.integers(-30_000, 130_000), min_size=3, max_size=5), policies)
def test_rollup_of_consecutive_windows_equals_the_whole(
    machine: tuple[list[StateChange], list[CountUpdate]], cuts: list[int], policy: OeePolicy
) -> None:
    states, counts = machine
    bounds = sorted(set(cuts))
    if len(bounds) < 2:
        return

    def window(start: int, end: int) -> OeeResult:
        return compute_oee(ASSET, states, counts, start, end, ideal_cycle_time_s=0.7, policy=policy)

    parts_ = [window(a, b) for a, b in pairwise(bounds)]
    assert rollup(ASSET, parts_) == window(bounds[0], bounds[-1])
