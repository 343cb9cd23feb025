"""The OEE policy and how a state timeline becomes time per class."""

from __future__ import annotations

import pytest

from andon.errors import ConfigError
from andon.mes import OeePolicy
from andon.mes.states import account, spans
from andon.signals import STATE_CODES, StateChange

ASSET = "acme/p1/a/l1/m1"
PLANNED = {"break", "no_shift", "no_order", "planned_maintenance"}
PRODUCING = {"running", "reduced_speed", "micro_stop"}


@pytest.mark.parametrize("name", sorted(STATE_CODES))
def test_default_classification_of_every_named_state(name: str) -> None:
    expected = "planned" if name in PLANNED else "producing" if name in PRODUCING else "downtime"
    assert OeePolicy().classify(STATE_CODES[name]) == expected


@pytest.mark.parametrize(
    ("code", "expected"),
    [(180012, "downtime"), (150001, "planned"), (10042, "producing"), (50007, "producing")],
)
def test_sub_codes_classify_by_category(code: int, expected: str) -> None:
    assert OeePolicy().classify(code) == expected


@pytest.mark.parametrize("code", [0, 7, 999_999, 250000, -10000])
def test_unknown_codes_are_downtime(code: int) -> None:
    assert OeePolicy().classify(code) == "downtime"


def test_an_exact_sub_code_in_the_policy_wins_over_its_category() -> None:
    policy = OeePolicy(planned=frozenset({150000, 180099}), producing=frozenset({10000}))
    assert policy.classify(180099) == "planned"
    assert policy.classify(180098) == "downtime"
    assert policy.classify(20000) == "downtime"  # reduced speed is not producing here


def test_micro_stops_follow_the_flag() -> None:
    assert OeePolicy(micro_stop_is_performance_loss=False).classify(50003) == "downtime"


@pytest.mark.parametrize(
    ("planned", "producing"),
    [({150000}, {150000}), ({50000}, {10000}), ({150000}, {50001})],
    ids=["overlap", "micro-planned", "micro-producing"],
)
def test_contradictory_policies_are_refused(planned: set[int], producing: set[int]) -> None:
    with pytest.raises(ConfigError):
        OeePolicy(planned=frozenset(planned), producing=frozenset(producing))


def test_spans_are_clipped_sorted_and_never_empty() -> None:
    timeline = [
        StateChange(ASSET, 50, 180000),
        StateChange(ASSET, -100, 10000),
        StateChange(ASSET, 50, 40000),  # same instant: the last listed wins
        StateChange(ASSET, 70, 10000),
        StateChange(ASSET, 120, 30000),  # after the window
    ]
    assert [(s.start_ms, s.end_ms, s.code) for s in spans(timeline, 0, 100)] == [
        (0, 50, 10000),
        (50, 70, 40000),
        (70, 100, 10000),
    ]


def test_account_partitions_the_window() -> None:
    timeline = [
        StateChange(ASSET, 10, 10000),
        StateChange(ASSET, 20, 150000),
        StateChange(ASSET, 30, 180000),
        StateChange(ASSET, 45, 10000),
    ]
    time = account(timeline, 0, 60, OeePolicy(micro_stop_threshold_s=0))
    assert (time.pot_ms, time.no_data_ms, time.planned_ms) == (60, 10, 10)
    assert (time.producing_ms, time.downtime_ms, time.pbt_ms, time.stops) == (25, 15, 40, 1)
    assert time.by_code == {10000: 25, 150000: 10, 180000: 15}
    short = account(timeline, 0, 60)  # the 15 ms failure ended within 120 s: a micro-stop
    assert (short.producing_ms, short.downtime_ms, short.micro_ms, short.micro_stops) == (
        40,
        0,
        15,
        1,
    )
