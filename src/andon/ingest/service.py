"""A running ingestion: the historian, the pipeline with its disk buffer, and every source.

:class:`IngestService` assembles what ``andon ingest`` runs from the settings and the
``connect:`` section of ``andon.yaml``: the unified-namespace MQTT subscription, the
Sparkplug B host, and the OPC UA and Modbus connectors (on an asyncio loop of their own).
Leaving it stops the sources first, then flushes the pipeline (what the historian cannot
take stays on disk for the next start), then closes the historian.

The unified-namespace subscription (QoS 1, MQTT v5) acknowledges a message only once its
batch is committed or on disk, so ``kill -9`` loses nothing: the broker redelivers what was
not acknowledged, and the historian ignores samples it already holds. DuckDB's buffer pool
is capped at :data:`DUCKDB_MEMORY_LIMIT` here, and the DuckDB file is reopened every
:data:`DUCKDB_REOPEN` (writes, sample rows) to give back what DuckDB keeps outside its buffer
pool: the worker's memory stays flat however long it runs.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from andon.config import Settings, broker_address, read_settings_file
from andon.connect import (
    ConnectConfig,
    MqttSource,
    MqttSubscription,
    SparkplugSource,
    connect_config,
)
from andon.errors import ConfigError, HistorianUnavailable
from andon.historian import PostgresHistorian, open_historian
from andon.ingest.buffer import DiskBuffer
from andon.ingest.pipeline import Pipeline

if TYPE_CHECKING:  # loaded when configured: asyncua and pymodbus take seconds to import
    from andon.connect.modbus import ModbusSource
    from andon.connect.opcua import OpcUaSource

__all__ = [
    "DUCKDB_MEMORY_LIMIT",
    "DUCKDB_REOPEN",
    "AsyncSources",
    "IngestService",
    "default_buffer",
    "load_ingest_settings",
]

_logger = logging.getLogger(__name__)
DUCKDB_MEMORY_LIMIT = "32MB"
"""DuckDB's buffer pool in an ingest worker: what it caches of the blocks it has written."""
DUCKDB_REOPEN = (500, 20_000_000)
"""An ingest worker reopens its DuckDB file after this many writes or sample rows, whichever
comes first: at most a few MB of DuckDB's own bookkeeping (5 KB a write, 0.25 byte a row), a
reopen every few minutes (one costs about a checkpoint: 30-250 ms here)."""


def load_ingest_settings(path: Path | None, **overrides: Any) -> tuple[Settings, ConnectConfig]:
    """Settings and the ``connect:`` section of one YAML file (+ the non-None overrides)."""
    data: dict[str, Any] = read_settings_file(path) if path is not None else {}
    connect = connect_config(data.pop("connect", None))
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings.model_validate(data), connect
    except ValidationError as exc:
        raise ConfigError(f"invalid settings: {exc}") from exc


def default_buffer(db: str) -> Path:
    """Where batches wait while ``db`` is unavailable: beside a DuckDB file, else ``data/``."""
    if db.startswith(("postgresql://", "postgres://")):
        return Path("data/ingest-buffer")
    return Path(f"{db}.buffer")


class IngestService:
    """Historian, pipeline and sources, started and stopped in the right order."""

    def __init__(
        self,
        settings: Settings,
        connect: ConnectConfig,
        buffer: Path,
        *,
        memory_limit: str = DUCKDB_MEMORY_LIMIT,
    ) -> None:
        self.settings = settings
        self.connect = connect
        self.historian = open_historian(  # may start during an outage
            settings.db, lazy=True, memory_limit=memory_limit, reopen=DUCKDB_REOPEN
        )
        self.pipeline = Pipeline(self.historian, settings.ingest, buffer=DiskBuffer(buffer))
        self.names: list[str] = []
        self._stack = contextlib.ExitStack()

    @property
    def target(self) -> str:
        """Where the data goes (a file path, or the URL without its password)."""
        historian = self.historian
        return historian.url if isinstance(historian, PostgresHistorian) else historian.path

    def __enter__(self) -> IngestService:
        try:
            self._define_units()
            self._stack.enter_context(self.pipeline)
            self._start_sources()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            self._stack.close()  # sources first (last in, first out), then the pipeline
        finally:
            self.historian.close()

    def _define_units(self) -> None:
        connect = self.connect
        targets = [
            *(t for server in connect.opcua for t in server.tags),
            *(r for device in connect.modbus for g in device.groups for r in g.registers),
            *(connect.sparkplug.tags if connect.sparkplug else []),
        ]
        units: list[tuple[str, str, str | None]] = [
            (t.asset, t.label, t.unit) for t in targets if t.unit and t.role == "sample"
        ]
        try:
            self.historian.define_tags(units)
        except HistorianUnavailable:
            _logger.warning("historian unavailable: configured units are set on a later start")

    def _start_sources(self) -> None:
        broker = self.settings.broker
        if broker:
            subscription = self._subscription(broker)
            manual_ack = subscription.qos == 1 and subscription.mqtt5
            mqtt = MqttSource(subscription, self.pipeline.submit, manual_ack=manual_ack)
            self._stack.enter_context(mqtt)
            self._stack.callback(self.pipeline.flush)  # commit and ack before disconnecting
            self.names.append(f"mqtt {broker}")
        sparkplug = self.connect.sparkplug
        if sparkplug is not None:
            url = sparkplug.broker or broker
            if url is None:
                raise ConfigError("connect.sparkplug needs a broker (or --broker)")
            source = SparkplugSource(*broker_address(url), self.pipeline, sparkplug)
            self._stack.enter_context(source)
            self.names.append(f"sparkplug {url}")
        self._start_async_sources()
        if not self.names:
            raise ConfigError("nothing to ingest: give --broker or a connect: section (--config)")

    def _subscription(self, broker: str) -> MqttSubscription:
        host, port = broker_address(broker)
        mqtt, ingest = self.connect.mqtt, self.settings.ingest
        return MqttSubscription(
            host,
            port,
            client_id=mqtt.client_id or ingest.client_id,
            qos=ingest.qos,
            shared_group=mqtt.shared_group or ingest.shared_group,
        )

    def _start_async_sources(self) -> None:
        if not self.connect.opcua and not self.connect.modbus:
            return
        from andon.connect.modbus import ModbusSource
        from andon.connect.opcua import OpcUaSource

        sources: list[OpcUaSource | ModbusSource] = [
            *(OpcUaSource(server, self.pipeline) for server in self.connect.opcua),
            *(ModbusSource(device, self.pipeline) for device in self.connect.modbus),
        ]
        self._stack.enter_context(AsyncSources(sources))
        self.names += [source.link.name for source in sources]


class AsyncSources:
    """Async sources (OPC UA, Modbus) on an asyncio loop in a thread of their own."""

    def __init__(self, sources: list[OpcUaSource | ModbusSource]) -> None:
        self.sources = sources
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="andon-connectors", daemon=True
        )
        self._main: concurrent.futures.Future[None] | None = None
        self._started = threading.Event()
        self._done = threading.Event()

    def __enter__(self) -> AsyncSources:
        self._thread.start()
        self._main = asyncio.run_coroutine_threadsafe(self._run_all(), self._loop)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._main is not None:
            self._main.cancel()  # cancels the task on its loop; each source cleans up
            if self._started.is_set():
                self._done.wait(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _run_all(self) -> None:
        self._started.set()
        try:
            await asyncio.gather(*(source.run() for source in self.sources))
        finally:
            self._done.set()
