from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from andon.ingest import SeenWindow


def test_duplicates_within_the_window_are_caught_per_topic() -> None:
    seen = SeenWindow(size=100)
    assert [seen.is_new("a", s, s * 1000) for s in (1, 2, 1)] == [True, True, False]
    assert seen.is_new("b", 1, 1000)  # other topic, same seq: a different message


def test_a_restarted_publisher_is_not_mistaken_for_duplicates() -> None:
    seen = SeenWindow(size=100)
    for seq in range(50):
        seen.is_new("a", seq, 1000 + seq)
    assert all(seen.is_new("a", seq, 9000 + seq) for seq in range(50))


def test_the_window_is_bounded() -> None:
    seen = SeenWindow(size=10)
    for seq in range(100):
        seen.is_new("a", seq, seq)
    assert seen.is_new("a", 0, 0)  # forgotten: memory stays bounded
    assert not seen.is_new("a", 99, 99)


@given(st.lists(st.integers(min_value=0, max_value=50), max_size=200))
def test_each_key_is_new_exactly_once_when_the_window_holds_them_all(seqs: list[int]) -> None:
    seen = SeenWindow(size=64)
    accepted = [s for s in seqs if seen.is_new("t", s, s)]
    assert sorted(accepted) == sorted(set(seqs))
