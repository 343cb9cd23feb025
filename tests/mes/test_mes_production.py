"""Quantities from machine totals: baseline, resets, rollovers, duplicates, late readings."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from andon.mes import count_deltas
from andon.signals import CountUpdate

ASSET = "acme/p1/a/l1/m1"


def reading(ts: int, total: int, scrap: int = 0) -> CountUpdate:
    """A consistent reading: good = total - scrap."""
    return CountUpdate(ASSET, ts, total, total - scrap, scrap)


def test_increase_over_the_window_from_the_reading_before_it() -> None:
    counts = [reading(50, 100, 1), reading(150, 130, 3), reading(180, 160, 4)]
    assert count_deltas(counts, 100, 200) == (60, 57, 3)


def test_readings_before_the_baseline_and_after_the_window_are_ignored() -> None:
    counts = [reading(10, 5), reading(50, 100), reading(150, 110), reading(250, 900)]
    assert count_deltas(counts, 100, 200) == (10, 10, 0)


def test_reading_at_the_window_start_belongs_to_the_window() -> None:
    counts = [reading(90, 100), reading(100, 120), reading(150, 125)]
    assert count_deltas(counts, 100, 200) == (25, 25, 0)


def test_reading_at_the_window_end_belongs_to_the_next_window() -> None:
    counts = [reading(90, 100), reading(150, 110), reading(200, 500)]
    assert count_deltas(counts, 100, 200) == (10, 10, 0)
    assert count_deltas(counts, 200, 300) == (390, 390, 0)


def test_without_a_reading_before_the_window_the_first_inside_is_the_baseline() -> None:
    counts = [reading(120, 1000, 10), reading(190, 1050, 12)]
    assert count_deltas(counts, 100, 200) == (50, 48, 2)


@pytest.mark.parametrize(
    "counts",
    [[], [reading(50, 100)], [reading(150, 100)], [reading(250, 100)]],
    ids=["none", "only-before", "single-inside", "only-after"],
)
def test_fewer_than_two_usable_readings_give_zero(counts: list[CountUpdate]) -> None:
    assert count_deltas(counts, 100, 200) == (0, 0, 0)


def test_counter_reset_counts_again_from_zero() -> None:
    # 100 -> 140 (+40), reset to 0 and 25 made by the next reading (+25), then +5.
    counts = [reading(0, 100), reading(110, 140, 2), reading(120, 25, 1), reading(130, 30, 1)]
    assert count_deltas(counts, 100, 200) == (70, 67, 3)


def test_rollover_counts_the_new_value() -> None:
    # A 16-bit counter: 65530 -> 7 counts 7 (the 6 parts up to the wrap are not seen).
    counts = [reading(0, 65_500), reading(110, 65_530), reading(120, 7), reading(130, 9)]
    assert count_deltas(counts, 100, 200) == (30 + 7 + 2, 30 + 7 + 2, 0)


def test_reset_is_detected_on_any_counter_and_applies_to_all() -> None:
    # Counters reset and then 120 parts were made: total rose 100 -> 120, but good fell.
    counts = [reading(0, 100, 50), reading(150, 120, 80)]
    assert count_deltas(counts, 100, 200) == (120, 40, 80)


def test_duplicate_readings_add_nothing() -> None:
    once = [reading(0, 100, 1), reading(150, 130, 2)]
    twice = [*once, *once, reading(150, 130, 2)]
    assert count_deltas(twice, 100, 200) == count_deltas(once, 100, 200) == (30, 29, 1)


def test_late_readings_are_put_in_time_order() -> None:
    counts = [reading(0, 100), reading(110, 110), reading(120, 150), reading(130, 170)]
    late = [counts[2], counts[0], counts[3], counts[1]]
    assert count_deltas(late, 100, 200) == count_deltas(counts, 100, 200) == (70, 70, 0)


def test_readings_at_the_same_instant_are_not_taken_for_a_reset() -> None:
    counts = [reading(0, 100), reading(150, 130), reading(150, 120)]
    assert count_deltas(counts, 100, 200) == (30, 30, 0)


@st.composite
def histories(draw: st.DrawFn) -> list[CountUpdate]:
    """Consistent readings (good + scrap = total) with growth, resets, duplicates, shuffling."""
    total = scrap = 0
    out = []
    for ts in sorted(draw(st.lists(st.integers(0, 1000), max_size=25))):
        if draw(st.integers(0, 9)) == 0:
            total = scrap = 0
        made = draw(st.integers(0, 50))
        scrapped = draw(st.integers(0, made))
        total, scrap = total + made, scrap + scrapped
        out.append(reading(ts, total, scrap))
    out += draw(st.lists(st.sampled_from(out), max_size=5)) if out else []
    random.Random(draw(st.integers())).shuffle(out)
    return out


windows = st.tuples(st.integers(-10, 1010), st.integers(-10, 1010), st.integers(-10, 1010))


@given(histories(), windows)
def test_split_windows_add_up_to_the_whole(
    counts: list[CountUpdate], cuts: tuple[int, ...]
) -> None:
    start, middle, end = sorted(cuts)
    first, second = count_deltas(counts, start, middle), count_deltas(counts, middle, end)
    assert tuple(a + b for a, b in zip(first, second, strict=True)) == count_deltas(
        counts, start, end
    )


@given(histories(), windows)
def test_quantities_are_never_negative_and_consistent(
    counts: list[CountUpdate], cuts: tuple[int, ...]
) -> None:
    start, _, end = sorted(cuts)
    produced, good, scrap = count_deltas(counts, start, end)
    assert min(produced, good, scrap) >= 0
    assert good + scrap == produced
