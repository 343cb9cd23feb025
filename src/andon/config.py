"""Settings of one andon process, built once by the CLI or passed to ``create_app``.

Values come from, in increasing priority: defaults, a YAML file (``andon.yaml``), and the
command line. Nothing is read at import time.

>>> Settings(db="plant.duckdb").db
'plant.duckdb'
>>> broker_address("mqtt://10.0.0.5:1884")
('10.0.0.5', 1884)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from andon.errors import ConfigError
from andon.signals import STATE_CODES

__all__ = [
    "IngestSettings",
    "MlSettings",
    "OeeSettings",
    "Settings",
    "broker_address",
    "load_settings",
    "read_settings_file",
]


class IngestSettings(BaseModel):
    """How the ingestion pipeline batches and subscribes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    batch_size: int = Field(default=20_000, ge=1, description="records per historian write")
    max_delay_s: float = Field(default=0.5, gt=0, description="longest wait before a write")
    queue_batches: int = Field(default=8, ge=1, description="batches waiting for the writer")
    client_id: str = "andon-ingest"
    shared_group: str | None = Field(default=None, description="MQTT v5 $share group")
    qos: int = Field(default=1, ge=0, le=2)


class MlSettings(BaseModel):
    """Live scoring: which trained models score which machines, and when alerts open.

    ``failure`` and ``rul`` map an asset glob to a model: a name in ``models_dir`` or a
    path. Alert thresholds override :mod:`andon.ml.live`'s defaults field by field
    (``warning``, ``critical``, ``clear``, ``confirm``, ``clear_after_ms``). In ``andon.yaml``::

        ml:
          models_dir: data/models
          failure: {"*/cnc*": ai4i}
          rul: {"*/cnc*": tool-life}
          failure_alert: {warning: 0.6, critical: 0.85}

    >>> MlSettings(failure={"*/cnc*": "ai4i"}).model_path("ai4i")
    PosixPath('data/models/ai4i')
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    models_dir: str = Field(default="data/models", description="the model registry")
    failure: dict[str, str] = Field(default_factory=dict, description="asset glob -> model")
    rul: dict[str, str] = Field(default_factory=dict, description="asset glob -> model")
    every_ms: int = Field(default=5_000, ge=100, description="scores written this often")
    anomaly: bool = Field(default=True, description="an anomaly detector on every tag")
    anomaly_probation_s: int = Field(
        default=3_600, ge=0, description="seconds of production a detector learns first"
    )
    learn: bool = Field(
        default=True,
        description="andon demo and serve: learn failure and RUL models from the plant's own "
        "history (their failure alert levels calibrated on its later part)",
    )
    failure_alert: dict[str, float] = Field(default_factory=dict)
    rul_alert: dict[str, float] = Field(default_factory=dict)
    anomaly_alert: dict[str, float] = Field(default_factory=dict)

    def model_path(self, model: str) -> Path:
        """Where model ``model`` (a registry name or a path) lives."""
        path = Path(model)
        return path if path.is_absolute() or len(path.parts) > 1 else Path(self.models_dir) / path


StateRef = str | int
"""A machine state by name (``signals.STATE_CODES``) or code (a category or a sub-code)."""


class OeeSettings(BaseModel):
    """The OEE policy (:class:`andon.mes.OeePolicy`, whose docstring explains each choice).

    ``planned`` states are planned downtime (out of planned busy time), ``producing`` ones
    actual production time, every other state an availability loss; ``breakdown`` and
    ``setup`` pick the loss bars of the six-big-losses waterfall. States are named or given
    as codes: a category (``180000``) or an exact sub-code (``180012``, which then wins over
    its category). A stop that ends within ``micro_stop_threshold_s`` is a micro-stop, a
    performance loss unless ``micro_stops_in_performance`` is false; an unknown stop of at most
    ``unknown_backfill_s`` followed by another stop takes that stop's reason. In
    ``andon.yaml``::

        oee:
          planned: [break, no_shift, no_order, planned_maintenance, 130000]
          micro_stop_threshold_s: 60
          micro_stops_in_performance: false

    >>> sorted(OeeSettings(planned=["break", 130000]).codes("planned"))
    [130000, 150000]
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    planned: tuple[StateRef, ...] = Field(
        default=("break", "no_shift", "no_order", "planned_maintenance"),
        description="planned downtime: taken out of planned busy time",
    )
    producing: tuple[StateRef, ...] = Field(
        default=("running", "reduced_speed"), description="actual production time"
    )
    breakdown: tuple[StateRef, ...] = Field(
        default=("equipment_failure",), description="the breakdowns bar of the waterfall"
    )
    setup: tuple[StateRef, ...] = Field(
        default=("changeover", "cleaning"), description="the setup and adjustments bar"
    )
    micro_stop_threshold_s: float = Field(
        default=120.0, ge=0, le=86_400, description="stops this short are micro-stops"
    )
    micro_stops_in_performance: bool = Field(
        default=True, description="micro-stops are a performance loss (their time in APT)"
    )
    unknown_backfill_s: float = Field(
        default=900.0, ge=0, le=86_400, description="an unknown stop this short takes the next"
    )

    @field_validator("planned", "producing", "breakdown", "setup")
    @classmethod
    def _known(cls, states: tuple[StateRef, ...]) -> tuple[StateRef, ...]:
        for state in states:
            if isinstance(state, str) and state not in STATE_CODES:
                raise ValueError(f"unknown state {state!r}: use one of {sorted(STATE_CODES)}")
            if isinstance(state, int) and not 0 < state < 1_000_000:
                raise ValueError(f"state code {state} is out of range")
        return states

    def codes(self, field: str) -> frozenset[int]:
        """The state codes of ``planned``, ``producing``, ``breakdown`` or ``setup``."""
        states: tuple[StateRef, ...] = getattr(self, field)
        return frozenset(STATE_CODES[s] if isinstance(s, str) else s for s in states)


class Settings(BaseModel):
    """Everything one andon process needs to know."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    db: str = Field(default="data/andon.duckdb", description="DuckDB file path")
    broker: str | None = Field(default=None, description="mqtt://host:port of the broker")
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=0, le=65535)
    ingest: IngestSettings = IngestSettings()
    ml: MlSettings = MlSettings()
    oee: OeeSettings = OeeSettings()


def load_settings(path: Path | None = None, **overrides: Any) -> Settings:
    """Settings from an optional YAML file, then ``overrides`` (None values are ignored)."""
    data: dict[str, Any] = {}
    if path is not None:
        data = read_settings_file(path)
    data.update({key: value for key, value in overrides.items() if value is not None})
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"invalid settings: {exc}") from exc


def read_settings_file(path: Path) -> dict[str, Any]:
    """The mapping in a YAML settings file; :class:`ConfigError` when it is not one."""
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read settings file {path}: {exc}") from exc
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"settings file {path} must hold a mapping at the top")
    return loaded


def broker_address(url: str) -> tuple[str, int]:
    """(host, port) of an ``mqtt://host[:port]`` URL; port 1883 by default."""
    parts = urlsplit(url if "://" in url else f"mqtt://{url}")
    if parts.scheme not in {"mqtt", "tcp"}:
        raise ConfigError(f"broker URL {url!r}: only mqtt:// is supported (TLS is coming)")
    if not parts.hostname:
        raise ConfigError(f"broker URL {url!r} has no host")
    try:
        port = parts.port or 1883
    except ValueError as exc:
        raise ConfigError(f"broker URL {url!r}: bad port") from exc
    return parts.hostname, port
