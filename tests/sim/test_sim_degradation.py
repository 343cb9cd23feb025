"""Rotating equipment runs to failure like a C-MAPSS unit, unless maintenance renews it."""

from __future__ import annotations

import itertools
import statistics
from collections import defaultdict
from dataclasses import dataclass, field

import orjson
import pytest

from andon.namespace import parse_topic
from andon.sim import Factory
from andon.sim.scenario import parse_scenario

# Bearings that last two running hours, and no random failures: the run-to-failure shape
# shows within a simulated day. The pump on line p2 gets maintenance at 80 % of its life.
PUMPS = """
enterprise: wear
site: s1
lines:
  - area: a1
    name: p1
    order_size: [100000, 100000]
    machines:
      - name: pump
        kind: rotating
        ideal_cycle_time_s: 5
        params: {wear_life_h: 2, mtbf_h: 100000, life_sd: 0.1, micro_stop_every_min: 600}
  - area: a1
    name: p2
    order_size: [100000, 100000]
    machines:
      - name: pump
        kind: rotating
        ideal_cycle_time_s: 5
        params:
          wear_life_h: 2
          mtbf_h: 100000
          life_sd: 0.1
          micro_stop_every_min: 600
          maintenance_at: 0.8
"""
HOURS = 10


@dataclass
class PumpLog:
    """What one pump published: states, its metrics while spinning, events."""

    states: list[tuple[int, str, str | None]] = field(default_factory=list)
    metrics: list[tuple[int, dict[str, float]]] = field(default_factory=list)
    events: list[str] = field(default_factory=list)

    def mean(self, tag: str, start: int, end: int) -> float:
        return statistics.fmean(
            v[tag] for ts, v in self.metrics if start <= ts < end and v["speed_rpm"] > 2000
        )


@pytest.fixture(scope="module")
def pumps() -> dict[str, PumpLog]:
    factory = Factory(parse_scenario(PUMPS), seed=4, start_ms=0)
    logs: defaultdict[str, PumpLog] = defaultdict(PumpLog)
    for _ in range(HOURS * 3600):
        for topic, payload in factory.step():
            asset, channel = parse_topic(topic)
            log, doc = logs[asset.split("/")[3]], orjson.loads(payload)
            if channel == "state":
                log.states.append((doc["ts"], doc["state"], doc["reason"]))
            elif channel == "metrics":
                log.metrics.append((doc["ts"], doc["values"]))
            elif channel == "event":
                log.events.append(doc["kind"])
    return logs


@pytest.mark.slow
def test_bearings_fail_after_a_rise_in_vibration_and_repairs_reset_it(
    pumps: dict[str, PumpLog],
) -> None:
    log = pumps["p1"]
    failures = [ts for ts, _, reason in log.states if reason == "bearing_failure"]
    assert len(failures) >= 3
    back_at_work = [ts for ts, state, _ in log.states if state == "running"]
    for before, failure in itertools.pairwise(failures):
        renewed = min(ts for ts in back_at_work if ts > before)  # with a new bearing
        healthy, worn = (renewed, renewed + 900_000), (failure - 900_000, failure)
        for tag, factor in (
            ("band_bearing_mm_s", 4),
            ("vibration_rms_mm_s", 2),
            ("band_hf_mm_s", 2),
        ):
            assert log.mean(tag, *worn) > factor * log.mean(tag, *healthy), tag


@pytest.mark.slow
def test_maintenance_renews_a_bearing_before_it_fails(pumps: dict[str, PumpLog]) -> None:
    log = pumps["p2"]
    assert ("planned_maintenance", "preventive") in {(s, r) for _, s, r in log.states}
    assert all(reason != "bearing_failure" for _, _, reason in log.states)
    assert log.events.count("maintenance") >= 3
