"""Machine physics: signals that make sense for the state, wear and climate."""

from __future__ import annotations

import itertools
import statistics

import pytest

from andon.sim.chance import Draws
from andon.sim.physics import KIND_MODELS, Cnc, Condition, Furnace, KindModel, Rotating
from andon.sim.reliability import RELIABILITY_DEFAULTS, Reliability

MOTION_AND_POWER = {
    "cnc": ("spindle_speed_rpm", "power_kw"),
    "rotating": ("speed_rpm", "power_kw"),
    "press": ("stroke_rate_spm", "power_kw"),
    "packer": ("speed_ppm", "power_kw"),
}


def model(kind: str, seed: int = 0) -> KindModel:
    cls = KIND_MODELS[kind]
    return cls(cls.DEFAULTS, 10.0, Draws(seed, 0), 24.0)


def run_for(m: KindModel, seconds: int, c: Condition) -> list[dict[str, float]]:
    return [m.sample(c) for _ in range(seconds)]


@pytest.mark.parametrize("kind", sorted(MOTION_AND_POWER))
def test_a_stopped_machine_stands_still_and_draws_little_power(kind: str) -> None:
    m = model(kind)
    running = run_for(m, 60, Condition(running=True, speed=0.9))
    stopped = run_for(m, 60, Condition(running=False, state="equipment_failure"))[10:]
    motion, power = MOTION_AND_POWER[kind]
    assert min(v[motion] for v in running) > 0
    assert max(v[motion] for v in stopped) < 0.01 * statistics.mean(v[motion] for v in running)
    assert max(v[power] for v in stopped) < 0.2 * statistics.mean(v[power] for v in running)


def test_cnc_process_temperature_relaxes_towards_air_when_stopped() -> None:
    m = Cnc(Cnc.DEFAULTS, 40.0, Draws(1, 0), 24.0)
    hot = run_for(m, 3600, Condition(running=True))[-1]["process_temp_c"]
    cool = run_for(m, 3600, Condition(running=False, state="break"))[-1]["process_temp_c"]
    assert hot == pytest.approx(34.0, abs=1.0)
    assert cool == pytest.approx(26.0, abs=1.0)


def test_cnc_reports_tool_wear_and_torque_rises_with_it() -> None:
    fresh = run_for(Cnc(Cnc.DEFAULTS, 40.0, Draws(2, 0), 24.0), 300, Condition(wear=0.0))
    worn = run_for(Cnc(Cnc.DEFAULTS, 40.0, Draws(2, 0), 24.0), 300, Condition(wear=1.0))
    assert statistics.mean(v["torque_nm"] for v in worn) > statistics.mean(
        v["torque_nm"] for v in fresh
    )
    assert run_for(model("cnc"), 1, Condition(wear_min=123.45))[0]["tool_wear_min"] == 123.5


def test_bearing_wear_shows_in_vibration() -> None:
    new = run_for(Rotating(Rotating.DEFAULTS, 5.0, Draws(3, 0), 24.0), 300, Condition(wear=0.1))
    worn = run_for(Rotating(Rotating.DEFAULTS, 5.0, Draws(3, 0), 24.0), 300, Condition(wear=1.0))
    vib = "vibration_rms_mm_s"
    assert statistics.mean(v[vib] for v in worn) > 2 * statistics.mean(v[vib] for v in new)


def test_a_furnace_holds_temperature_through_breaks_and_cools_when_it_fails() -> None:
    furnace = Furnace(Furnace.DEFAULTS, 5.0, Draws(4, 0), 24.0)
    held = run_for(furnace, 1800, Condition(running=False, state="break"))[-1]
    assert held["zone2_temp_c"] == pytest.approx(900.0, abs=10.0)
    failed = run_for(furnace, 1800, Condition(running=False, state="equipment_failure"))
    assert failed[-1]["zone2_temp_c"] < 600.0
    assert failed[-1]["power_kw"] < 10.0
    energy = [v["energy_kwh"] for v in failed]
    assert all(a <= b for a, b in itertools.pairwise(energy))


def test_wear_and_humidity_drive_failures_and_scrap() -> None:
    rel = Reliability.from_params(RELIABILITY_DEFAULTS)
    assert rel.hazard(0.0) < rel.hazard(0.5) < rel.hazard(1.0)
    assert rel.scrap_probability(0.0, 40.0) < rel.scrap_probability(0.0, 70.0)
    assert rel.scrap_probability(0.0, 55.0) < rel.scrap_probability(1.0, 55.0)
    assert rel.scrap_probability(3.0, 100.0) <= 0.5


def test_draws_are_reproducible_per_stream() -> None:
    a, b, c = Draws(9, 1), Draws(9, 1), Draws(9, 2)
    first = [a.normal() for _ in range(5000)]
    assert first == [b.normal() for _ in range(5000)]
    assert first != [c.normal() for _ in range(5000)]
    assert sum(Draws(9, 3).pick([0.0, 1.0, 0.0]) for _ in range(100)) == 100
