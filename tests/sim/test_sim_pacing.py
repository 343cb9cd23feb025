"""Running the factory: backfill until an instant, or paced against the wall clock."""

from __future__ import annotations

import threading
import time

import pytest

from andon.sim import Factory, load_scenario, run
from andon.sim.messages import Message

START = 1_763_700_000_000


class Collect:
    """A sink that keeps every message."""

    def __init__(self) -> None:
        self.batches: list[list[Message]] = []

    def send(self, messages: list[Message]) -> None:
        self.batches.append(messages)


def demo_factory() -> Factory:
    return Factory(load_scenario("demo"), seed=5, start_ms=START)


def test_until_ms_stops_exactly_there() -> None:
    factory, sink = demo_factory(), Collect()
    run(factory, sink, until_ms=START + 90_000)
    assert factory.now_ms == START + 90_000
    assert len(sink.batches) == 90
    run(factory, sink, until_ms=START + 90_000)  # already there: nothing more
    assert len(sink.batches) == 90


def test_until_ms_between_seconds_stops_at_the_next_whole_second() -> None:
    factory = demo_factory()
    run(factory, Collect(), until_ms=START + 2_500)
    assert factory.now_ms == START + 3_000


def test_on_step_sees_every_step() -> None:
    clocks: list[int] = []
    run(
        demo_factory(), Collect(), until_ms=START + 5_000, on_step=lambda f: clocks.append(f.now_ms)
    )
    assert clocks == [START + 1000 * i for i in range(1, 6)]


def test_speed_20_for_one_second_advances_about_20_simulated_seconds() -> None:
    factory, stop = demo_factory(), threading.Event()
    timer = threading.Timer(1.0, stop.set)
    timer.start()
    began = time.monotonic()
    run(factory, Collect(), speed=20.0, stop=stop)
    elapsed = time.monotonic() - began
    timer.join()
    assert 0.95 < elapsed < 1.5
    assert 18 <= (factory.now_ms - START) / 1000 <= 22


def test_paced_runs_do_not_drift() -> None:
    factory = demo_factory()
    began = time.monotonic()
    run(factory, Collect(), until_ms=START + 40_000, speed=50.0)
    assert 0.75 < time.monotonic() - began < 1.2  # 40 steps at 50 per second: 0.78 s


def test_stop_ends_a_run_without_until() -> None:
    stop = threading.Event()

    def stop_after_three_seconds(factory: Factory) -> None:
        if factory.now_ms >= START + 3_000:
            stop.set()

    factory = demo_factory()
    run(factory, Collect(), stop=stop, on_step=stop_after_three_seconds)
    assert factory.now_ms == START + 3_000


def test_speed_must_be_positive() -> None:
    with pytest.raises(ValueError, match="speed"):
        run(demo_factory(), Collect(), speed=0.0, until_ms=START + 1000)
