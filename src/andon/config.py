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
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from andon.errors import ConfigError

__all__ = ["IngestSettings", "Settings", "broker_address", "load_settings", "read_settings_file"]


class IngestSettings(BaseModel):
    """How the ingestion pipeline batches and subscribes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    batch_size: int = Field(default=20_000, ge=1, description="records per historian write")
    max_delay_s: float = Field(default=0.5, gt=0, description="longest wait before a write")
    queue_batches: int = Field(default=8, ge=1, description="batches waiting for the writer")
    client_id: str = "andon-ingest"
    shared_group: str | None = Field(default=None, description="MQTT v5 $share group")
    qos: int = Field(default=1, ge=0, le=2)


class Settings(BaseModel):
    """Everything one andon process needs to know."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    db: str = Field(default="data/andon.duckdb", description="DuckDB file path")
    broker: str | None = Field(default=None, description="mqtt://host:port of the broker")
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=0, le=65535)
    ingest: IngestSettings = IngestSettings()


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
