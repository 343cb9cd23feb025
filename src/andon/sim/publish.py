"""Publishing the factory's messages to an MQTT broker with paho-mqtt.

:class:`MqttPublisher` is a :class:`~andon.sim.pacing.Sink`: ``send`` hands messages to
paho's network thread and only blocks when too many QoS 1 publishes await their PUBACK, so
a backfill cannot outrun the broker or exhaust memory. Leaving the context waits until
every message has been acknowledged.
"""

from __future__ import annotations

import logging
import threading
import time
from types import TracebackType
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.client import ConnectFlags, DisconnectFlags
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from andon.errors import BrokerError
from andon.sim.messages import Message

__all__ = ["MqttPublisher"]

_logger = logging.getLogger(__name__)

_MAX_INFLIGHT = 1000


class MqttPublisher:
    """Publish simulated messages to ``host:port`` (MQTT v5) from a paho network thread.

    ``send`` blocks while more than ``max_pending`` messages await acknowledgement. The
    client id must be unique on the broker: a second client with the same id evicts the first.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        client_id: str = "andon-sim",
        qos: int = 1,
        connect_timeout_s: float = 10.0,
        drain_timeout_s: float = 60.0,
        max_pending: int = 20_000,
    ) -> None:
        self.host, self.port, self.qos = host, port, qos
        self._max_pending = max_pending
        self._connect_timeout_s = connect_timeout_s
        self._drain_timeout_s = drain_timeout_s
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5
        )
        self._client.max_inflight_messages_set(_MAX_INFLIGHT)
        self._client.max_queued_messages_set(0)  # unbounded: send() applies the back-pressure
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_publish = self._on_publish
        self._connected = threading.Event()
        self._refused: str | None = None
        self._acked = threading.Condition()
        self._pending = 0
        self.sent = 0

    def __enter__(self) -> MqttPublisher:
        try:
            self._client.connect(self.host, self.port, keepalive=30)
        except OSError as exc:
            raise BrokerError(f"cannot reach MQTT broker {self.host}:{self.port}: {exc}") from exc
        self._client.loop_start()
        if not self._connected.wait(self._connect_timeout_s) or self._refused:
            self._client.loop_stop()
            why = self._refused or f"no CONNACK within {self._connect_timeout_s} s"
            raise BrokerError(f"MQTT broker {self.host}:{self.port} refused the session: {why}")
        _logger.info("publishing to mqtt://%s:%d", self.host, self.port)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if not self.flush(self._drain_timeout_s):
                _logger.warning("%d messages still unacknowledged at shutdown", self._pending)
        finally:
            self._client.disconnect()
            self._client.loop_stop()

    def send(self, messages: list[Message]) -> None:
        """Queue ``messages`` for publishing; waits while too many are unacknowledged."""
        publish, qos = self._client.publish, self.qos
        with self._acked:
            while self._pending > self._max_pending:
                self._acked.wait(1.0)
            self._pending += len(messages)  # paho reports QoS 0 sends through on_publish too
        for topic, payload in messages:
            if publish(topic, payload, qos=qos).rc and not qos:
                self._settle_one()  # paho drops QoS 0 messages while disconnected
        self.sent += len(messages)

    def flush(self, timeout_s: float) -> bool:
        """Wait until every QoS 1 message has been acknowledged; False on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._acked:
            while self._pending > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._acked.wait(left)
        return True

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: ConnectFlags,
        reason: ReasonCode,
        props: Properties | None,
    ) -> None:
        if reason.is_failure:
            self._refused = str(reason)
        self._connected.set()

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: DisconnectFlags,
        reason: ReasonCode,
        props: Properties | None,
    ) -> None:
        if reason.is_failure:
            _logger.warning("disconnected from MQTT broker (%s); paho reconnects", reason)

    def _on_publish(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason: ReasonCode,
        props: Properties | None,
    ) -> None:
        self._settle_one()

    def _settle_one(self) -> None:
        with self._acked:
            self._pending -= 1
            if self._pending <= self._max_pending:  # wakes send() and flush()
                self._acked.notify_all()
