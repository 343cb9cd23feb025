"""The connectors' configuration: which machine address becomes which asset tag.

The ``connect:`` section of ``andon.yaml`` lists OPC UA servers, Modbus devices and the
Sparkplug B host; each tag entry maps a source address to an asset path and tag name, with
an optional unit, a linear scaling (``value * scale + offset``) and a deadband (a new value
is kept only when it moved at least that much). Everything is validated at start-up, and an
error names the entry that is wrong::

    connect:
      opcua:
        - url: opc.tcp://10.0.0.7:4840
          tags:
            - {node: "ns=2;s=Press1.Force", asset: acme/p1/press/l1/p1, tag: force_kn}
      modbus:
        - host: 10.0.0.9
          groups:
            - interval_ms: 500
              registers:
                - {address: 0, type: float32, asset: acme/p1/oven/l1/o1, tag: temp_c}

>>> cfg = connect_config({"modbus": [{"host": "h", "groups": [{"registers": [
...     {"address": 3, "type": "int16", "asset": "a/b", "tag": "t_c", "scale": 0.1}]}]}]})
>>> cfg.modbus[0].groups[0].registers[0].value(215)
21.5
>>> connect_config({"opcua": [{"url": "opc.tcp://h:4840", "tags": [{"node": "i=1",
...     "asset": "A", "tag": "x"}]}]})  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
andon.errors.ConfigError: connect.opcua[0].tags[0].asset: asset path 'A': level 'A' is not...
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from andon.errors import ConfigError, InvalidRequest
from andon.namespace import validate_path

__all__ = [
    "ConnectConfig",
    "Deadband",
    "ModbusDevice",
    "ModbusGroup",
    "ModbusRegister",
    "MqttConnect",
    "OpcUaServer",
    "OpcUaTag",
    "Role",
    "SparkplugConnect",
    "SparkplugTag",
    "TagTarget",
    "connect_config",
    "load_connect_config",
]

_STRICT = ConfigDict(frozen=True, extra="forbid")


Role = Literal["sample", "state", "total", "good", "scrap"]


class TagTarget(BaseModel):
    """Where a source value lands: asset, tag, unit, scaling and deadband.

    ``role`` says what the value is: a ``sample`` of tag ``tag`` (the default), the asset's
    ``state`` code (DESIGN.md section 3), or one of its non-resetting counters ``total``,
    ``good``, ``scrap`` (two of the three are enough; the third is derived).
    """

    model_config = _STRICT

    asset: str
    tag: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9_.\-]+$", description="tag name, no slashes"
    )
    role: Role = "sample"
    unit: str | None = None
    scale: float = 1.0
    offset: float = 0.0
    deadband: float = Field(default=0.0, ge=0, description="minimum change worth keeping")

    @field_validator("asset")
    @classmethod
    def _asset_path(cls, value: str) -> str:
        try:
            return validate_path(value)
        except InvalidRequest as exc:
            raise ValueError(str(exc)) from exc

    @model_validator(mode="after")
    def _samples_have_a_tag(self) -> TagTarget:
        if self.role == "sample" and self.tag is None:
            raise ValueError("a sample needs a 'tag' name (or a role: state, total, good, scrap)")
        return self

    @property
    def key(self) -> str:
        """What this target writes: ``asset/tag`` for samples, ``asset#role`` otherwise."""
        return f"{self.asset}/{self.tag}" if self.role == "sample" else f"{self.asset}#{self.role}"

    @property
    def label(self) -> str:
        """The tag name, or the role for states and counters."""
        return self.tag or self.role

    def value(self, raw: float) -> float:
        """The engineering value of a raw reading."""
        return raw * self.scale + self.offset if (self.scale, self.offset) != (1, 0) else raw


class OpcUaTag(TagTarget):
    """One OPC UA variable, by node id (``ns=2;s=Line1.Temp``) or browse path."""

    node: str | None = None
    browse_path: str | None = Field(
        default=None, description="from Objects, e.g. 2:Line1/2:Temp (namespace:name)"
    )

    @model_validator(mode="after")
    def _one_address(self) -> OpcUaTag:
        if (self.node is None) == (self.browse_path is None):
            raise ValueError("give exactly one of 'node' or 'browse_path'")
        return self

    @property
    def address(self) -> str:
        return self.node or f"browse:{self.browse_path}"


class OpcUaServer(BaseModel):
    """An OPC UA server and the variables to subscribe to."""

    model_config = _STRICT

    url: str = Field(pattern=r"^opc\.tcp://")
    name: str | None = None
    publishing_ms: int = Field(default=500, ge=10, description="subscription interval")
    timeout_s: float = Field(default=4.0, gt=0)
    tags: list[OpcUaTag] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_addresses(self) -> OpcUaServer:
        _no_duplicates([t.address for t in self.tags], "node")
        return self


RegisterType = Literal[
    "bool", "int16", "uint16", "int32", "uint32", "int64", "uint64", "float32", "float64"
]
REGISTER_WIDTH: dict[str, int] = {
    "bool": 1,
    "int16": 1,
    "uint16": 1,
    "int32": 2,
    "uint32": 2,
    "float32": 2,
    "int64": 4,
    "uint64": 4,
    "float64": 4,
}


class ModbusRegister(TagTarget):
    """A value in a Modbus table: its address, type, and byte/word order."""

    address: int = Field(ge=0, le=65535)
    table: Literal["holding", "input", "coil", "discrete"] = "holding"
    type: RegisterType = "uint16"
    byte_order: Literal["big", "little"] = "big"
    word_order: Literal["big", "little"] = "big"

    @model_validator(mode="after")
    def _bits_are_bools(self) -> ModbusRegister:
        if self.table in {"coil", "discrete"} and self.type != "bool":
            raise ValueError(f"{self.table} tables hold bits: use type 'bool'")
        return self

    @property
    def width(self) -> int:
        """Registers (or bits) this value spans."""
        return REGISTER_WIDTH[self.type]


class ModbusGroup(BaseModel):
    """Registers polled together at one interval."""

    model_config = _STRICT

    interval_ms: int = Field(default=1000, ge=10)
    registers: list[ModbusRegister] = Field(min_length=1)


class ModbusDevice(BaseModel):
    """A Modbus TCP device and its poll groups."""

    model_config = _STRICT

    host: str
    port: int = Field(default=502, ge=1, le=65535)
    unit_id: int = Field(default=1, ge=0, le=255)
    name: str | None = None
    timeout_s: float = Field(default=3.0, gt=0)
    groups: list[ModbusGroup] = Field(min_length=1)

    @model_validator(mode="after")
    def _no_overlaps(self) -> ModbusDevice:
        taken: dict[tuple[str, int], str] = {}
        for register in (r for g in self.groups for r in g.registers):
            for offset in range(register.width):
                spot = (register.table, register.address + offset)
                if spot in taken:
                    raise ValueError(
                        f"{register.table} register {spot[1]} is read by both "
                        f"{taken[spot]!r} and {register.label!r}"
                    )
                taken[spot] = register.label
        return self


class SparkplugTag(TagTarget):
    """A Sparkplug metric: ``group/edge_node[/device]:metric name``, mapped to a sample."""

    metric: str = Field(pattern=r"^[^/:]+/[^/:]+(/[^/:]+)?:.+$")

    @model_validator(mode="after")
    def _only_samples(self) -> SparkplugTag:
        if self.role != "sample":
            raise ValueError("Sparkplug metrics map to samples (role: sample)")
        return self


class SparkplugConnect(BaseModel):
    """The Sparkplug B host application."""

    model_config = _STRICT

    broker: str | None = Field(default=None, description="mqtt://host:port; default: --broker")
    host_id: str = Field(default="andon", pattern=r"^[^/#+]+$")
    groups: tuple[str, ...] = Field(default=("+",), description="group ids to subscribe to")
    asset_root: str | None = Field(default=None, description="prefix of unmapped assets")
    tags: list[SparkplugTag] = Field(default_factory=list)

    @field_validator("asset_root")
    @classmethod
    def _root(cls, value: str | None) -> str | None:
        return None if value is None else TagTarget._asset_path(value)


class MqttConnect(BaseModel):
    """Options of the unified-namespace MQTT subscription."""

    model_config = _STRICT

    shared_group: str | None = Field(default=None, pattern=r"^[^/#+]+$")
    client_id: str | None = None


class ConnectConfig(BaseModel):
    """The ``connect:`` section of ``andon.yaml``."""

    model_config = _STRICT

    mqtt: MqttConnect = MqttConnect()
    sparkplug: SparkplugConnect | None = None
    opcua: list[OpcUaServer] = Field(default_factory=list)
    modbus: list[ModbusDevice] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_source_per_tag(self) -> ConnectConfig:
        targets = [
            t.key
            for t in [
                *(t for s in self.opcua for t in s.tags),
                *(r for d in self.modbus for g in d.groups for r in g.registers),
                *(self.sparkplug.tags if self.sparkplug else []),
            ]
        ]
        _no_duplicates(targets, "tag (two sources would write it)")
        return self


class Deadband:
    """Drops values that moved less than a tag's deadband since the last kept one.

    >>> band = Deadband()
    >>> [band.keep("t", v, 0.5) for v in (1.0, 1.2, 1.6, 1.1)]
    [True, False, True, True]
    """

    def __init__(self) -> None:
        self._last: dict[str, float] = {}

    def keep(self, key: str, value: float, deadband: float) -> bool:
        last = self._last.get(key)
        if last is not None and abs(value - last) < deadband:
            return False
        self._last[key] = value
        return True


def connect_config(data: dict[str, Any] | None) -> ConnectConfig:
    """Validate a ``connect:`` mapping; :class:`ConfigError` names the faulty entry."""
    try:
        return ConnectConfig.model_validate(data or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = "connect" + "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in first["loc"]
        )
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"{where}: {message}") from exc


def load_connect_config(path: Path) -> ConnectConfig:
    """The ``connect:`` section of a YAML settings file (empty when absent)."""
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path} must hold a mapping at the top")
    return connect_config(loaded.get("connect"))


def _no_duplicates(items: list[str], what: str) -> None:
    seen: set[str] = set()
    for item in items:
        if item in seen:
            raise ValueError(f"duplicate {what}: {item}")
        seen.add(item)
