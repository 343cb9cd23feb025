"""Stops: micro-stop threshold, unknown back-fill, open stops, exactness at window edges."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from andon.errors import ConfigError
from andon.mes import OeePolicy, compute_oee, rollup
from andon.mes.states import account
from andon.mes.stops import resolved, stops_of
from andon.mes.timeline import Timeline
from andon.signals import CountUpdate, StateChange

ASSET = "acme/p1/a/l1/m1"
S = 1000
RUN, UNKNOWN, MICRO, STARVED, BREAK, FAILURE, CHANGEOVER = (
    10000,
    30000,
    50000,
    60000,
    150000,
    180000,
    100000,
)


def at(second: float, code: int, reason: str | None = None) -> StateChange:
    return StateChange(ASSET, round(second * S), code, reason)


def test_a_stop_that_ended_within_the_threshold_is_a_micro_stop() -> None:
    t = account([at(0, RUN), at(100, FAILURE), at(190, RUN)], 0, 600 * S)
    assert (t.micro_ms, t.micro_stops, t.downtime_ms, t.stops, t.failures) == (90_000, 1, 0, 0, 0)
    assert t.producing_ms == 600_000  # a performance loss: it stays in APT


def test_a_stop_as_long_as_the_threshold_is_a_real_stop() -> None:
    t = account([at(0, RUN), at(100, FAILURE), at(220, RUN)], 0, 600 * S)
    assert (t.micro_ms, t.downtime_ms, t.stops, t.failures, t.breakdown_ms) == (
        0,
        120_000,
        1,
        1,
        120_000,
    )


def test_an_open_stop_holds_and_is_a_real_stop_until_it_ends() -> None:
    open_stop = account([at(0, RUN), at(550, FAILURE)], 0, 600 * S)
    assert (open_stop.downtime_ms, open_stop.micro_ms, open_stop.stops) == (50_000, 0, 1)
    ended = account([at(0, RUN), at(550, FAILURE), at(610, RUN)], 0, 600 * S)
    assert (ended.downtime_ms, ended.micro_ms, ended.micro_stops) == (0, 50_000, 1)


def test_the_micro_stop_treatment_is_configurable() -> None:
    policy = OeePolicy(micro_stop_is_performance_loss=False)
    t = account([at(0, RUN), at(100, STARVED), at(130, RUN)], 0, 600 * S, policy)
    assert (t.downtime_ms, t.micro_ms, t.stops, t.micro_stops) == (30_000, 30_000, 1, 1)
    off = account(
        [at(0, RUN), at(100, STARVED), at(130, RUN)],
        0,
        600 * S,
        OeePolicy(micro_stop_threshold_s=0),
    )
    assert (off.downtime_ms, off.micro_ms) == (30_000, 0)


def test_an_unknown_stop_is_backfilled_by_the_reason_that_follows() -> None:
    timeline = [at(0, RUN), at(100, UNKNOWN), at(400, FAILURE, "spindle"), at(1000, RUN)]
    t = account(timeline, 0, 1200 * S)
    assert t.by_code == {RUN: 300_000, FAILURE: 900_000}
    assert (t.breakdown_ms, t.failures, t.stops) == (900_000, 1, 1)
    states = resolved(timeline)
    assert [(r.code, r.reason, r.raw_code) for r in states[1:3]] == [
        (FAILURE, "spindle", UNKNOWN),
        (FAILURE, "spindle", FAILURE),
    ]


def test_a_late_reason_beyond_the_horizon_leaves_the_unknown_stop_unknown() -> None:
    timeline = [at(0, RUN), at(100, UNKNOWN), at(1100, FAILURE), at(1500, RUN)]
    t = account(timeline, 0, 1600 * S)
    assert t.by_code[UNKNOWN] == 1_000_000
    assert t.breakdown_ms == 400_000
    assert t.failures == 1  # the failure began inside the stop that began as unknown


def test_backfill_takes_only_the_direct_successor_and_never_a_running_state() -> None:
    chain = [at(0, RUN), at(10, UNKNOWN), at(20, UNKNOWN + 1), at(200, CHANGEOVER), at(900, RUN)]
    t = account(chain, 0, 1000 * S)
    assert t.by_code == {RUN: 110_000, UNKNOWN: 10_000, CHANGEOVER: 880_000}
    restarted = account([at(0, UNKNOWN), at(60, RUN)], 0, 100 * S)
    assert restarted.by_code[UNKNOWN] == 60_000


def test_micro_stop_codes_are_micro_stops_whatever_their_length() -> None:
    t = account([at(0, RUN), at(100, MICRO), at(400, RUN)], 0, 500 * S)
    assert (t.micro_ms, t.micro_stops, t.downtime_ms) == (300_000, 1, 0)


def test_planned_time_splits_stops() -> None:
    timeline = [at(0, FAILURE), at(60, BREAK), at(200, FAILURE), at(260, RUN)]
    t = account(timeline, 0, 300 * S)
    assert (t.micro_stops, t.micro_ms, t.planned_ms) == (2, 120_000, 140_000)


def test_stops_of_lists_stops_with_their_true_extent() -> None:
    timeline = [
        at(0, RUN),
        at(100, UNKNOWN),
        at(150, FAILURE, "bearing"),
        at(700, RUN),
        at(800, STARVED),
        at(830, RUN),
    ]
    found = stops_of(timeline, 600 * S, 900 * S)
    assert [(s.start_ms, s.end_ms, s.code, s.reason, s.micro) for s in found] == [
        (100_000, 700_000, FAILURE, "bearing", False),
        (800_000, 830_000, STARVED, None, True),
    ]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"micro_stop_threshold_s": -1},
        {"unknown_backfill_s": float("nan")},
        {"breakdown": frozenset({150000})},
    ],
)
def test_invalid_policies_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        OeePolicy(**kwargs)  # type: ignore[arg-type]  # deliberately invalid


def test_a_window_sized_with_the_lookaround_is_exact_from_a_slice() -> None:
    timeline = Timeline.of(
        [
            at(0, RUN),
            at(590, FAILURE),
            at(650, RUN),
            at(1190, UNKNOWN),
            at(1250, FAILURE),
            at(2000, RUN),
        ]
    )
    policy = OeePolicy()
    margin = policy.lookaround_ms
    for start, end in ((600 * S, 1200 * S), (0, 600 * S), (1200 * S, 1800 * S)):
        whole = account(timeline, start, end, policy)
        assert account(timeline.slice(start - margin, end + margin), start, end, policy) == whole


CODES = [RUN, RUN, UNKNOWN, MICRO, STARVED, BREAK, FAILURE, CHANGEOVER, 7]


@st.composite
def timelines(draw: st.DrawFn) -> tuple[list[StateChange], list[CountUpdate]]:
    """Minutes-long timelines with stops around the 120 s threshold and 900 s horizon."""
    gaps = draw(st.lists(st.integers(1, 1500), min_size=1, max_size=25))
    ts, states = -2000 * S, []
    for gap in gaps:
        states.append(StateChange(ASSET, ts, draw(st.sampled_from(CODES))))
        ts += gap * S
    made = draw(st.lists(st.integers(0, 50), max_size=10))
    counts = [
        CountUpdate(ASSET, -3000 * S + i * 2000 * S, sum(made[: i + 1]), sum(made[: i + 1]), 0)
        for i in range(len(made))
    ]
    return states, counts


@settings(max_examples=60, deadline=None)
@given(timelines(), st.lists(st.integers(-2500, 20_000), min_size=3, max_size=6), st.booleans())
def test_split_windows_roll_up_to_the_whole_with_micro_stops_and_backfill(
    machine: tuple[list[StateChange], list[CountUpdate]], cuts: list[int], in_apt: bool
) -> None:
    states, counts = machine
    bounds = sorted({c * S for c in cuts})
    if len(bounds) < 2:
        return
    policy = OeePolicy(micro_stop_is_performance_loss=in_apt)

    def window(a: int, b: int) -> object:
        return compute_oee(ASSET, states, counts, a, b, ideal_cycle_time_s=2.0, policy=policy)

    parts = [window(a, b) for a, b in pairwise(bounds)]
    assert rollup(ASSET, parts) == window(bounds[0], bounds[-1])  # type: ignore[arg-type]
