"""Scenarios: the virtual factory described in YAML (lines, machines, shifts, ambient).

A scenario names the enterprise and site, the lines of each area with their machines in
flow order, the shift calendar and the plant's ambient climate. A line with ``copies: N``
stands for N identical lines named ``<name>-01`` .. ``<name>-NN`` (for large plants).
Packaged scenarios: ``demo`` (two lines, seven machines), ``stamping`` (a press line: coil
feed, press, trim press, inspection) and ``large`` (100+ machines, for load tests).
``load_scenario("demo")`` reads a packaged scenario; any other argument is a path to a
YAML file:

>>> demo = load_scenario("demo")
>>> demo.enterprise, demo.site, demo.lines[0].path
('acme', 'plant1', 'acme/plant1/machining/line1')
>>> demo.lines[0].machines[0].path
'acme/plant1/machining/line1/cnc1'
"""

from __future__ import annotations

import importlib.resources
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from andon.errors import ConfigError, InvalidRequest
from andon.namespace import validate_path
from andon.sim.kinds import KIND_MODELS
from andon.sim.reliability import RELIABILITY_DEFAULTS, Reliability

__all__ = [
    "AmbientSpec",
    "BreakSpec",
    "LineSpec",
    "MachineSpec",
    "Scenario",
    "ShiftSpec",
    "load_scenario",
    "parse_scenario",
]

_logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BreakSpec:
    """A planned break starting at local wall-clock ``start`` inside a shift."""

    start: time
    minutes: float


@dataclass(frozen=True, slots=True)
class ShiftSpec:
    """A shift starting every day at local ``start`` and lasting ``hours`` of wall-clock time."""

    name: str
    start: time
    hours: float
    breaks: tuple[BreakSpec, ...] = ()


@dataclass(frozen=True, slots=True)
class MachineSpec:
    """One machine (ISA-95 cell) of a line; ``params`` override its kind's defaults."""

    path: str
    name: str
    kind: str
    ideal_cycle_time_s: float
    params: Mapping[str, float] = field(default_factory=dict, hash=False)


@dataclass(frozen=True, slots=True)
class LineSpec:
    """A line: machines in flow order joined by buffers of ``buffer_capacity`` good parts."""

    path: str
    area: str
    name: str
    machines: tuple[MachineSpec, ...]
    buffer_capacity: int
    products: tuple[str, ...]
    order_size: tuple[int, int]


@dataclass(frozen=True, slots=True)
class AmbientSpec:
    """The plant climate: daily sinusoids (mean, amplitude) of humidity and air temperature.

    ``asset`` is where the plant's ambient station publishes them, below the site.
    """

    humidity_pct: tuple[float, float] = (55.0, 12.0)
    air_temp_c: tuple[float, float] = (24.0, 3.0)
    asset: str = "utilities/ambient/station1"


@dataclass(frozen=True, slots=True)
class Scenario:
    """A whole virtual plant as parsed from a scenario file."""

    name: str
    enterprise: str
    site: str
    timezone: str
    lines: tuple[LineSpec, ...]
    shifts: tuple[ShiftSpec, ...]
    ambient: AmbientSpec = AmbientSpec()

    @property
    def machines(self) -> tuple[MachineSpec, ...]:
        """Every machine of every line, lines in file order, machines in flow order."""
        return tuple(m for line in self.lines for m in line.machines)

    @property
    def ambient_path(self) -> str:
        """The asset path of the plant's ambient station."""
        return f"{self.enterprise}/{self.site}/{self.ambient.asset}"


def load_scenario(name_or_path: str) -> Scenario:
    """Load the packaged scenario ``name_or_path`` (e.g. ``"demo"``) or a YAML file.

    Raises :class:`~andon.errors.ConfigError` naming the file and the offending key.
    """
    packaged = importlib.resources.files("andon.sim") / "scenarios" / f"{name_or_path}.yaml"
    if "/" not in name_or_path and packaged.is_file():
        return parse_scenario(packaged.read_text(encoding="utf-8"), f"scenario {name_or_path!r}")
    path = Path(name_or_path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"scenario {name_or_path!r}: cannot read file ({exc})") from exc
    return parse_scenario(text, f"scenario file {str(path)!r}")


def parse_scenario(text: str, source: str = "scenario") -> Scenario:
    """Parse scenario YAML text; ``source`` prefixes error messages."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML ({exc})") from exc
    try:
        return _scenario(_mapping(doc, "top level"))
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from exc


def _scenario(doc: Mapping[str, Any]) -> Scenario:
    enterprise = _segment(doc, "enterprise", "top level")
    site = _segment(doc, "site", "top level")
    timezone = str(doc.get("timezone", "UTC"))
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"timezone: unknown time zone {timezone!r}") from exc
    lines = tuple(
        line
        for i, item in enumerate(_list(doc, "lines", "top level", required=True))
        for line in _lines(item, f"lines[{i}]", f"{enterprise}/{site}")
    )
    ambient = _ambient(doc.get("ambient", {}))
    machines = [m.path for line in lines for m in line.machines]
    _check_unique(machines, "machine path")
    if f"{enterprise}/{site}/{ambient.asset}" in machines:
        raise ConfigError(f"ambient.asset: {ambient.asset!r} is also a machine")
    return Scenario(
        name=str(doc.get("name", "scenario")),
        enterprise=enterprise,
        site=site,
        timezone=timezone,
        lines=lines,
        shifts=tuple(
            _shift(item, f"shifts[{i}]") for i, item in enumerate(_list(doc, "shifts", "top level"))
        ),
        ambient=ambient,
    )


def _lines(raw: object, where: str, site_path: str) -> list[LineSpec]:
    doc = _mapping(raw, where)
    copies = _number(doc.get("copies", 1), f"{where}.copies")
    if copies < 1 or copies != int(copies):
        raise ConfigError(f"{where}.copies: must be a whole number >= 1, got {copies}")
    if copies == 1:
        return [_line(doc, where, site_path, _segment(doc, "name", where))]
    base = _segment(doc, "name", where)
    width = max(2, len(str(int(copies))))
    return [
        _line(doc, where, site_path, f"{base}-{i:0{width}d}") for i in range(1, int(copies) + 1)
    ]


def _line(doc: Mapping[str, Any], where: str, site_path: str, name: str) -> LineSpec:
    area = _segment(doc, "area", where)
    path = f"{site_path}/{area}/{name}"
    machines = tuple(
        _machine(item, f"{where}.machines[{i}]", path)
        for i, item in enumerate(_list(doc, "machines", where, required=True))
    )
    products = tuple(str(p) for p in _list(doc, "products", where) or ["part"])
    low, high = _pair(doc.get("order_size", (200, 400)), f"{where}.order_size")
    if not 1 <= low <= high:
        raise ConfigError(f"{where}.order_size: need 1 <= min <= max, got {[low, high]}")
    capacity = _number(doc.get("buffer_capacity", 10), f"{where}.buffer_capacity")
    if capacity < 1:
        raise ConfigError(f"{where}.buffer_capacity: must be at least 1, got {capacity}")
    return LineSpec(path, area, name, machines, int(capacity), products, (int(low), int(high)))


def _machine(raw: object, where: str, line_path: str) -> MachineSpec:
    doc = _mapping(raw, where)
    name = _segment(doc, "name", where)
    kind = str(doc.get("kind", ""))
    if kind not in KIND_MODELS:
        raise ConfigError(f"{where}.kind: {kind!r} is not one of {sorted(KIND_MODELS)}")
    cycle = _number(doc.get("ideal_cycle_time_s"), f"{where}.ideal_cycle_time_s")
    if cycle <= 0:
        raise ConfigError(f"{where}.ideal_cycle_time_s: must be positive, got {cycle}")
    params = _params(doc.get("params", {}), kind, f"{where}.params")
    return MachineSpec(f"{line_path}/{name}", name, kind, cycle, params)


def _params(raw: object, kind: str, where: str) -> dict[str, float]:
    doc = _mapping(raw, where)
    known = set(RELIABILITY_DEFAULTS) | set(KIND_MODELS[kind].DEFAULTS)
    unknown = sorted(set(doc) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown parameter(s) {unknown}; known: {sorted(known)}")
    params = {str(key): _number(value, f"{where}.{key}") for key, value in doc.items()}
    try:
        Reliability.from_params({k: v for k, v in params.items() if k in RELIABILITY_DEFAULTS})
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from exc
    return params


def _shift(raw: object, where: str) -> ShiftSpec:
    doc = _mapping(raw, where)
    hours = _number(doc.get("hours"), f"{where}.hours")
    if not 0 < hours <= 24:
        raise ConfigError(f"{where}.hours: must be in (0, 24], got {hours}")
    start = _clock(doc.get("start"), where)
    breaks = tuple(
        _break(item, f"{where}.breaks[{i}]", start, hours)
        for i, item in enumerate(_list(doc, "breaks", where))
    )
    return ShiftSpec(str(doc.get("name", where)), start, hours, breaks)


def _break(raw: object, where: str, shift_start: time, hours: float) -> BreakSpec:
    doc = _mapping(raw, where)
    start = _clock(doc.get("start"), where)
    minutes = _number(doc.get("minutes"), f"{where}.minutes")
    offset = (_minute_of_day(start) - _minute_of_day(shift_start)) % (24 * 60)
    if minutes <= 0 or offset + minutes > hours * 60:
        raise ConfigError(f"{where}: a break of {minutes} min at {start} is not inside the shift")
    return BreakSpec(start, minutes)


def _minute_of_day(moment: time) -> float:
    return moment.hour * 60 + moment.minute + moment.second / 60


def _ambient(raw: object) -> AmbientSpec:
    doc = _mapping(raw, "ambient")
    default = AmbientSpec()
    asset = str(doc.get("asset", default.asset))
    try:
        validate_path(asset)
    except InvalidRequest as exc:
        raise ConfigError(f"ambient.asset: {exc}") from exc
    if asset.count("/") != 2:
        raise ConfigError(f"ambient.asset: {asset!r} must be area/line/cell below the site")
    return AmbientSpec(
        humidity_pct=_pair(doc.get("humidity_pct", default.humidity_pct), "ambient.humidity_pct"),
        air_temp_c=_pair(doc.get("air_temp_c", default.air_temp_c), "ambient.air_temp_c"),
        asset=asset,
    )


def _mapping(raw: object, where: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {type(raw).__name__}")
    return raw


def _list(doc: Mapping[str, Any], key: str, where: str, *, required: bool = False) -> list[Any]:
    raw = doc.get(key, [])
    if not isinstance(raw, list) or (required and not raw):
        raise ConfigError(f"{where}.{key}: expected a non-empty list, got {raw!r}")
    return raw


def _segment(doc: Mapping[str, Any], key: str, where: str) -> str:
    value = str(doc.get(key, ""))
    problem = f"{where}.{key}: {value!r} is not one lowercase [a-z0-9_-] name"
    if "/" in value:
        raise ConfigError(problem)
    try:
        return validate_path(value)
    except InvalidRequest as exc:
        raise ConfigError(problem) from exc


def _number(raw: object, where: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ConfigError(f"{where}: expected a number, got {raw!r}")
    return float(raw)


def _pair(raw: object, where: str) -> tuple[float, float]:
    if not isinstance(raw, list | tuple) or len(raw) != 2:
        raise ConfigError(f"{where}: expected [low, high] or [mean, amplitude], got {raw!r}")
    return _number(raw[0], where), _number(raw[1], where)


def _clock(raw: object, where: str) -> time:
    if isinstance(raw, int) and not isinstance(raw, bool) and 0 <= raw < 24 * 60:
        # YAML 1.1 reads an unquoted 06:00 as the sexagesimal integer 360 (minutes).
        return time(raw // 60, raw % 60)
    try:
        return time.fromisoformat(str(raw))
    except ValueError as exc:
        raise ConfigError(f"{where}.start: expected a local time 'HH:MM', got {raw!r}") from exc


def _check_unique(values: list[str], what: str) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ConfigError(f"duplicate {what} {value!r}")
        seen.add(value)
