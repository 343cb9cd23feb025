"""Lines: stops propagate through finite buffers (starved downstream, blocked upstream)."""

from __future__ import annotations

import bisect
import itertools

import orjson

from andon.namespace import parse_topic
from andon.sim import Factory
from andon.sim.lines import Line
from andon.sim.scenario import Scenario, parse_scenario

LINE = """
enterprise: lines
site: s1
lines:
  - area: a1
    name: l1
    buffer_capacity: 3
    order_size: [100000, 100000]
    machines:
      - {{name: up, kind: press, ideal_cycle_time_s: 2, params: {{mtbf_h: {up}}}}}
      - {{name: down, kind: press, ideal_cycle_time_s: 2, params: {{mtbf_h: {down}}}}}
"""
HOUR = 3600


def timelines(scenario: Scenario, seconds: int) -> dict[str, list[tuple[int, str]]]:
    factory = Factory(scenario, seed=3, start_ms=0)
    states: dict[str, list[tuple[int, str]]] = {"up": [], "down": []}
    for _ in range(seconds):
        for topic, payload in factory.step():
            asset, channel = parse_topic(topic)
            if channel == "state":
                doc = orjson.loads(payload)
                states[asset.rsplit("/", 1)[1]].append((doc["ts"], doc["state"]))
    return states


def state_at(timeline: list[tuple[int, str]], ts: int) -> str:
    return timeline[bisect.bisect_right(timeline, (ts, "~")) - 1][1]


def stopped_within(timeline: list[tuple[int, str]], start: int, end: int) -> bool:
    changes = [state for ts, state in timeline if start < ts <= end]
    return any(state != "running" for state in [state_at(timeline, start), *changes])


def test_an_upstream_stop_starves_the_machine_downstream() -> None:
    states = timelines(parse_scenario(LINE.format(up=0.05, down=1000)), HOUR)
    starved = [ts for ts, state in states["down"] if state == "starved"]
    assert len(starved) >= 3
    for ts in starved:
        assert stopped_within(states["up"], ts - 15_000, ts), ts


def test_a_downstream_stop_blocks_the_machine_upstream() -> None:
    states = timelines(parse_scenario(LINE.format(up=1000, down=0.05)), HOUR)
    blocked = [ts for ts, state in states["up"] if state == "blocked"]
    assert len(blocked) >= 3
    for ts in blocked:
        assert stopped_within(states["down"], ts - 15_000, ts), ts


def test_buffers_start_half_full_and_every_order_is_released_in_full() -> None:
    spec = parse_scenario(LINE.format(up=1, down=1)).lines[0]
    line = Line(spec, seed=1, index=0, start_ms=0)
    assert [len(b) for b in line.buffers] == [1]
    released = [line.orders.release() for _ in range(250_000)]
    sizes = [len(list(group)) for _, group in itertools.groupby(released)]
    assert sizes[1] == line.orders.order(1).quantity == 100_000
