"""Machine physics: signals that make sense for the state, wear and climate; failure rules."""

from __future__ import annotations

import itertools
import statistics

import pytest

from andon.errors import ConfigError
from andon.sim.chance import Draws
from andon.sim.furnace import Furnace
from andon.sim.kinds import KIND_MODELS
from andon.sim.milling import Cnc
from andon.sim.physics import Condition, Kind
from andon.sim.reliability import RELIABILITY_DEFAULTS, Reliability
from andon.sim.rotating import Rotating, degradation
from andon.sim.stamping import CoilFeed, Inspection

MOTION_AND_POWER = {
    "cnc": ("spindle_speed_rpm", "power_kw"),
    "coil_feed": ("feed_rate_spm", "power_kw"),
    "rotating": ("speed_rpm", "power_kw"),
    "press": ("stroke_rate_spm", "power_kw"),
    "packer": ("speed_ppm", "power_kw"),
}
STATES = ("running", "micro_stop", "equipment_failure", "break", "no_shift", "starved")


def model(kind: str, seed: int = 0, **params: float) -> Kind:
    return KIND_MODELS[kind](params, 10.0, Draws(seed, 0), 24.0)


def run_for(m: Kind, seconds: int, c: Condition) -> list[dict[str, float]]:
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


@pytest.mark.parametrize("kind", sorted(KIND_MODELS))
def test_every_kind_publishes_its_declared_tags_within_their_ranges(kind: str) -> None:
    m = model(kind, seed=5)
    tags = {tag.name: tag for tag in KIND_MODELS[kind].TAGS}
    for state, wear in itertools.product(STATES, (0.0, 0.6, 1.2)):
        c = Condition(running=state == "running", state=state, wear=wear, wear_min=wear * 240)
        m.begin_part(c, fresh=True)
        for values in run_for(m, 30, c):
            assert set(values) == set(tags)
            for name, value in values.items():
                assert tags[name].low <= value <= tags[name].high, (name, value)


def test_cnc_process_runs_ten_kelvin_above_the_air_and_stays_warm_through_a_break() -> None:
    m = Cnc({}, 40.0, Draws(1, 0), 24.0)
    hot = run_for(m, 1800, Condition(running=True, air_c=24.0))[-600:]
    assert statistics.fmean(v["process_temp_c"] - v["air_temp_c"] for v in hot) == pytest.approx(
        10.0, abs=0.5
    )
    held = run_for(m, 1800, Condition(running=False, state="break", air_c=24.0))[-1]
    assert 8.5 < held["process_temp_c"] - 24.0 < 10.0


@pytest.mark.parametrize(
    ("wear_min", "torque", "rpm", "dt", "product", "mode"),
    [
        (10.0, 48.0, 1300.0, 8.5, 0, "heat_dissipation_failure"),
        (10.0, 48.0, 1390.0, 8.5, 0, None),  # fast enough to dissipate the heat
        (10.0, 25.0, 1200.0, 10.0, 0, "power_failure"),  # 3142 W
        (10.0, 60.0, 1500.0, 10.0, 0, "power_failure"),  # 9425 W
        (200.0, 56.0, 1000.0, 10.0, 0, "overstrain_failure"),  # L: 11200 > 11000
        (200.0, 56.0, 1000.0, 10.0, 1, None),  # M: 11200 < 12000
        (200.0, 66.0, 1000.0, 10.0, 2, "overstrain_failure"),  # H: 13200 > 13000
        (100.0, 40.0, 1500.0, 10.0, 0, None),
    ],
)
def test_cnc_parts_fail_by_the_ai4i_rules(
    wear_min: float, torque: float, rpm: float, dt: float, product: int, mode: str | None
) -> None:
    cnc = Cnc({"random_failure_pct": 0.0}, 40.0, Draws(3, 0), 24.0)
    c = Condition(wear_min=wear_min, product=product)
    assert cnc.failure_mode(c, torque=torque, rpm=rpm, dt=dt) == mode


def test_a_cnc_tool_fails_or_is_changed_between_200_and_240_minutes() -> None:
    cnc = Cnc({"twf_share": 1.0, "random_failure_pct": 0.0}, 60.0, Draws(4, 0), 24.0)
    lives = []
    for _ in range(200):
        cnc.renew()
        life = next(m for m in range(150, 260) if cnc.worn_out(Condition(wear_min=m)))
        assert cnc.failure_mode(Condition(wear_min=life - 1.0), 40.0, 1500.0, 10.0) == (
            "tool_wear_failure"
        )
        assert cnc.failure_mode(Condition(wear_min=life - 2.5), 40.0, 1500.0, 10.0) is None
        lives.append(life)
    assert 200 <= min(lives) < 210
    assert 230 < max(lives) <= 241


def test_cnc_speed_falls_as_torque_rises_and_wear_adds_torque() -> None:
    cnc = Cnc({}, 40.0, Draws(5, 0), 24.0)
    samples = []
    for wear in (0.0, 1.0):
        for _ in range(2000):
            cnc.begin_part(Condition(wear=wear, wear_min=wear * 200), fresh=True)
            values = cnc.sample(Condition(running=True))
            samples.append((wear, values["torque_nm"], values["spindle_speed_rpm"]))
    fresh = [t for w, t, _ in samples if w == 0.0]
    worn = [t for w, t, _ in samples if w == 1.0]
    assert statistics.fmean(worn) > statistics.fmean(fresh) + 2.0
    assert statistics.correlation([t for _, t, _ in samples], [r for _, _, r in samples]) < -0.7


def test_bearing_degradation_is_flat_then_steep_and_shows_first_at_high_frequency() -> None:
    curve = [degradation(e / 10, 4.0) for e in range(11)]
    assert all(a < b for a, b in itertools.pairwise(curve))
    assert curve[5] < 0.15
    assert curve[10] == pytest.approx(1.0)

    def mean(wear: float, tag: str) -> float:
        m = Rotating({"life_sd": 0.0}, 5.0, Draws(3, 0), 24.0)
        return statistics.fmean(v[tag] for v in run_for(m, 300, Condition(wear=wear))[30:])

    for tag in ("vibration_rms_mm_s", "band_bearing_mm_s", "band_hf_mm_s"):
        assert mean(0.95, tag) > 2 * mean(0.1, tag)
    assert mean(0.1, "band_1x_mm_s") < mean(0.95, "band_1x_mm_s") < 1.5 * mean(0.1, "band_1x_mm_s")
    rise = {tag: mean(0.5, tag) / mean(0.0, tag) for tag in ("band_bearing_mm_s", "band_hf_mm_s")}
    assert rise["band_hf_mm_s"] > rise["band_bearing_mm_s"]  # the early warning


def test_a_worn_bearing_runs_hot() -> None:
    def temperature(wear: float) -> float:
        m = Rotating({"life_sd": 0.0}, 5.0, Draws(3, 0), 24.0)
        return run_for(m, 4 * 3600, Condition(wear=wear, air_c=24.0))[-1]["bearing_temp_c"]

    assert temperature(0.1) == pytest.approx(24.0 + 25.0, abs=2.0)
    assert temperature(0.95) > temperature(0.1) + 8.0


def test_a_bearing_fails_when_its_own_life_is_used_up_and_the_repair_renews_it() -> None:
    m = Rotating({"life_sd": 0.2}, 5.0, Draws(6, 0), 24.0)
    lives = []
    for _ in range(50):
        life = next(w / 100 for w in range(30, 300) if m.begin_part(Condition(wear=w / 100), True))
        trip = m.begin_part(Condition(wear=life), fresh=True)
        assert trip is not None
        assert (trip.reason, trip.renew) == ("bearing_failure", True)
        lives.append(life)
        m.renew()
    assert 0.05 < statistics.stdev(lives) < 0.4
    assert 0.8 < statistics.fmean(lives) < 1.25


def test_a_furnace_holds_temperature_through_breaks_and_cools_when_it_fails() -> None:
    furnace = Furnace(Furnace.DEFAULTS, 5.0, Draws(4, 0), 24.0)
    held = run_for(furnace, 1800, Condition(running=False, state="break"))[-1]
    assert held["zone2_temp_c"] == pytest.approx(900.0, abs=10.0)
    failed = run_for(furnace, 1800, Condition(running=False, state="equipment_failure"))
    assert failed[-1]["zone2_temp_c"] < 600.0
    assert failed[-1]["power_kw"] < 10.0
    energy = [v["energy_kwh"] for v in failed]
    assert all(a <= b for a, b in itertools.pairwise(energy))


def test_a_furnace_follows_its_recipe_and_sets_back_when_no_shift_is_planned() -> None:
    furnace = Furnace({"spike_every_h": 0}, 5.0, Draws(7, 0), 24.0)
    recipe = run_for(furnace, 2 * 3600, Condition(product=2))[-600:]
    assert recipe[-1]["setpoint_c"] == 875.0
    assert statistics.fmean(v["zone2_temp_c"] for v in recipe) == pytest.approx(875.0, abs=3.0)
    standby = run_for(furnace, 3 * 3600, Condition(running=False, state="no_shift"))[-600:]
    assert standby[-1]["setpoint_c"] == 750.0
    assert statistics.fmean(v["zone2_temp_c"] for v in standby) == pytest.approx(750.0, abs=3.0)
    power = [statistics.fmean(v["power_kw"] for v in values) for values in (standby, recipe)]
    assert power[0] < power[1]


def test_furnace_zones_spike_now_and_then() -> None:
    bases = {"zone1_temp_c": 850.0, "zone2_temp_c": 900.0, "zone3_temp_c": 875.0}

    def overshoots(spike_every_h: float) -> int:
        """Seconds in which a zone runs more than 10 K above its setpoint."""
        furnace = Furnace({"spike_every_h": spike_every_h}, 5.0, Draws(8, 0), 24.0)
        values = run_for(furnace, 4 * 3600, Condition())
        return sum(max(v[zone] - base for zone, base in bases.items()) > 10 for v in values)

    assert overshoots(0.5) > 1800
    assert overshoots(0.0) == 0


def test_a_coil_lasts_its_parts_then_the_line_waits_for_material() -> None:
    feed = CoilFeed({"coil_parts": 5}, 2.0, Draws(9, 0), 24.0)
    trips = [feed.begin_part(Condition(), fresh=True) for _ in range(30)]
    changes = [i for i, trip in enumerate(trips) if trip is not None]
    assert [b - a for a, b in itertools.pairwise(changes)] == [6] * (len(changes) - 1)
    trip = trips[changes[0]]
    assert trip is not None
    assert (trip.state, trip.reason, trip.at) == ("material", "coil_change", 0)
    assert all(feed.begin_part(Condition(), fresh=False) is None for _ in range(20))


def test_inspection_measures_scrap_out_of_tolerance() -> None:
    station = Inspection({}, 2.0, Draws(10, 0), 24.0)
    good = [station.sample(Condition(parts=i, last_scrap=False)) for i in range(1, 60)]
    bad = [station.sample(Condition(parts=i, last_scrap=True)) for i in range(60, 80)]
    assert all(v["burr_height_pct"] < 100 for v in good)
    assert all(v["burr_height_pct"] > 100 for v in bad)
    assert bad[-1]["reject_rate_pct"] == pytest.approx(100 * 20 / 79, abs=0.01)


def test_wear_and_humidity_drive_failures_and_scrap() -> None:
    rel = Reliability.from_params(RELIABILITY_DEFAULTS)
    assert rel.hazard(0.0) < rel.hazard(0.5) < rel.hazard(1.0)
    assert rel.scrap_probability(0.0, 40.0) < rel.scrap_probability(0.0, 70.0)
    assert rel.scrap_probability(0.0, 55.0) < rel.scrap_probability(1.0, 55.0)
    assert rel.scrap_probability(3.0, 100.0) <= 0.5
    assert rel.maintenance_at == 0.0
    with pytest.raises(ConfigError, match="maintenance_at"):
        Reliability.from_params({"maintenance_at": -1.0})


def test_draws_are_reproducible_per_stream() -> None:
    a, b, c = Draws(9, 1), Draws(9, 1), Draws(9, 2)
    first = [a.normal() for _ in range(5000)]
    assert first == [b.normal() for _ in range(5000)]
    assert first != [c.normal() for _ in range(5000)]
    assert sum(Draws(9, 3).pick([0.0, 1.0, 0.0]) for _ in range(100)) == 100
