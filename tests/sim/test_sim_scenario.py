"""Scenario files: the packaged demo plant and clear errors for bad files."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest

from andon.errors import ConfigError
from andon.namespace import validate_path
from andon.sim import load_scenario
from andon.sim.kinds import KIND_MODELS
from andon.sim.scenario import parse_scenario

TINY = """
enterprise: tiny
site: s1
lines:
  - area: a1
    name: l1
    machines:
      - {name: m1, kind: press, ideal_cycle_time_s: 3}
"""


def test_demo_describes_the_acme_plant() -> None:
    demo = load_scenario("demo")
    assert (demo.name, demo.enterprise, demo.site, demo.timezone) == (
        "demo",
        "acme",
        "plant1",
        "UTC",
    )
    assert 7 <= len(demo.machines) <= 10
    assert [line.path for line in demo.lines] == [
        "acme/plant1/machining/line1",
        "acme/plant1/forming/line2",
    ]
    assert [m.kind for m in demo.lines[0].machines] == ["cnc"] * 3
    assert {m.kind for m in demo.machines} <= set(KIND_MODELS)
    for machine in demo.machines:
        assert validate_path(machine.path).count("/") == 4
        assert machine.ideal_cycle_time_s > 0


def test_demo_has_three_eight_hour_shifts_with_a_break_in_the_middle() -> None:
    shifts = load_scenario("demo").shifts
    assert [s.start for s in shifts] == [time(6), time(14), time(22)]
    for shift in shifts:
        assert shift.hours == 8
        (brk,) = shift.breaks
        assert brk.minutes == 30
        middle = (shift.start.hour + 4) % 24
        assert (brk.start.hour, brk.start.minute) == ((middle - 1) % 24, 45)


def test_a_file_path_loads(tmp_path: Path) -> None:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY, encoding="utf-8")
    scenario = load_scenario(str(path))
    assert scenario.machines[0].path == "tiny/s1/a1/l1/m1"
    assert scenario.timezone == "UTC"
    assert scenario.shifts == ()


def test_unquoted_clock_times_are_read_despite_yaml_sexagesimals() -> None:
    text = TINY + "shifts:\n  - {start: 06:00, hours: 8, breaks: [{start: 09:45, minutes: 30}]}\n"
    (shift,) = parse_scenario(text).shifts
    assert (shift.start, shift.breaks[0].start) == (time(6), time(9, 45))


def test_machine_params_override_kind_defaults() -> None:
    text = TINY.replace("ideal_cycle_time_s: 3}", "ideal_cycle_time_s: 3, params: {mtbf_h: 2}}")
    assert parse_scenario(text).machines[0].params == {"mtbf_h": 2.0}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("enterprise: tiny", "enterprise: Tiny Corp"), "enterprise"),
        (("kind: press", "kind: robot"), "kind"),
        (("ideal_cycle_time_s: 3", "ideal_cycle_time_s: -1"), "ideal_cycle_time_s"),
        (("ideal_cycle_time_s: 3", "ideal_cycle_time_s: fast"), "ideal_cycle_time_s"),
        (("name: m1", "name: m1/x"), "name"),
        (("site: s1", "site: s1\ntimezone: Mars/Olympus"), "time zone"),
        (("ideal_cycle_time_s: 3}", "ideal_cycle_time_s: 3, params: {warp: 9}}"), "warp"),
        (("ideal_cycle_time_s: 3}", "ideal_cycle_time_s: 3, params: {mtbf_h: 0}}"), "mtbf_h"),
        (("    machines:", "    order_size: [10, 5]\n    machines:"), "order_size"),
        (("    machines:", "    buffer_capacity: 0\n    machines:"), "buffer_capacity"),
        (("lines:", "shifts: [{start: '06:00', hours: 25}]\nlines:"), "hours"),
        (("    machines:", "    copies: 0\n    machines:"), "copies"),
        (("    machines:", "    copies: 2.5\n    machines:"), "copies"),
        (
            ("ideal_cycle_time_s: 3}", "ideal_cycle_time_s: 3, params: {maintenance_at: -1}}"),
            "maint",
        ),
        (("lines:", "ambient: {asset: weather}\nlines:"), "ambient.asset"),
        (("lines:", "ambient: {asset: a1/l1/m1}\nlines:"), "also a machine"),
    ],
)
def test_bad_values_name_the_key(change: tuple[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_scenario(TINY.replace(*change))


def test_a_break_outside_its_shift_is_rejected() -> None:
    text = TINY + "shifts:\n  - {start: '06:00', hours: 8, breaks: [{start: '13:45', minutes: 30}]}"
    with pytest.raises(ConfigError, match=r"shifts\[0\]\.breaks\[0\].*not inside the shift"):
        parse_scenario(text)


def test_duplicate_machines_are_rejected() -> None:
    text = TINY + "      - {name: m1, kind: cnc, ideal_cycle_time_s: 30}\n"
    with pytest.raises(ConfigError, match="duplicate machine path 'tiny/s1/a1/l1/m1'"):
        parse_scenario(text)


@pytest.mark.parametrize(
    "content",
    ["enterprise: [unclosed", "- just\n- a list\n", "enterprise: e\nsite: s\nlines: []\n", ""],
)
def test_bad_files_raise_config_error_naming_the_file(tmp_path: Path, content: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.yaml"):
        load_scenario(str(path))


def test_a_missing_file_raises_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_scenario(str(tmp_path / "nowhere.yaml"))
    with pytest.raises(ConfigError, match="cannot read"):
        load_scenario("no-such-scenario")


def test_the_packaged_stamping_and_large_plants() -> None:
    stamping = load_scenario("stamping")
    assert [m.kind for m in stamping.machines] == ["coil_feed", "press", "press", "inspection"]
    assert stamping.timezone == "Europe/Berlin"
    large = load_scenario("large")
    assert len(large.machines) >= 100
    assert {m.kind for m in large.machines} == set(KIND_MODELS)
    assert len({m.path for m in large.machines}) == len(large.machines)


def test_copies_stand_for_identical_lines() -> None:
    scenario = parse_scenario(TINY.replace("    machines:", "    copies: 3\n    machines:"))
    assert [line.path for line in scenario.lines] == [
        "tiny/s1/a1/l1-01",
        "tiny/s1/a1/l1-02",
        "tiny/s1/a1/l1-03",
    ]
    assert [m.path for m in scenario.machines][-1] == "tiny/s1/a1/l1-03/m1"


def test_the_ambient_station_sits_below_the_site() -> None:
    assert parse_scenario(TINY).ambient_path == "tiny/s1/utilities/ambient/station1"
    moved = parse_scenario(TINY + "ambient: {asset: hall/climate/sensor7}\n")
    assert moved.ambient_path == "tiny/s1/hall/climate/sensor7"
