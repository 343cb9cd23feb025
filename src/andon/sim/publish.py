"""Publishing the factory's messages to an MQTT broker with paho-mqtt.

:class:`MqttPublisher` is a :class:`~andon.sim.pacing.Sink`: ``send`` publishes from the
calling thread (:class:`~andon.sim.mqttlink.MqttLink`) and only blocks when too many QoS 1
publishes await their PUBACK, so a backfill cannot outrun the broker or exhaust memory.
Leaving the context waits until every message has been acknowledged. After a network
failure the link reconnects by itself, and paho resends what was not acknowledged.
"""

from __future__ import annotations

import contextlib
import logging
import socket
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
from andon.sim.mqttlink import MqttLink

__all__ = ["MqttPublisher", "drop_socket"]

_logger = logging.getLogger(__name__)

# paho walks its in-flight window on every PUBACK: a small window keeps that cheap, and on
# a LAN a hundred messages in flight already fill the pipe.
_MAX_INFLIGHT = 100
_PUMP_EVERY = 200  # messages published between two reads of the acknowledgements


class MqttPublisher:
    """Publish simulated messages to ``host:port`` (MQTT 3.1.1: v5 adds nothing to publishing
    but the cost of decoding a properties block in every PUBACK).

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
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv311
        )
        self._client.max_inflight_messages_set(_MAX_INFLIGHT)
        self._client.max_queued_messages_set(0)  # unbounded: send() applies the back-pressure
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_publish = self._on_publish
        self._link = MqttLink(self._client, host, port)
        self._connected = threading.Event()
        self._refused: str | None = None
        self._pending = 0  # changed only under the link's lock
        self.sent = 0

    def __enter__(self) -> MqttPublisher:
        self._link.open(self._connected, self._connect_timeout_s)
        if not self._connected.is_set() or self._refused:
            self._link.close()
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
            self._link.close()

    def send(self, messages: list[Message]) -> None:
        """Publish ``messages``; waits while too many are unacknowledged."""
        while self._pending > self._max_pending:
            self._link.pump(0.01)
        publish, qos = self._client.publish, self.qos
        with self._link.lock:
            self._pending += len(messages)  # paho reports QoS 0 sends through on_publish too
            for i, (topic, payload) in enumerate(messages):
                if publish(topic, payload, qos=qos).rc and not qos:
                    self._pending -= 1  # paho drops QoS 0 messages while disconnected
                if i % _PUMP_EVERY == _PUMP_EVERY - 1:
                    self._link.pump()
            self._link.pump()
        self.sent += len(messages)

    def drop_connection(self) -> None:
        """Break the TCP connection without an MQTT DISCONNECT, as a failing network does.

        The broker then publishes the client's will (if any); the link reconnects.
        """
        _logger.info("dropping the connection to %s:%d", self.host, self.port)
        with self._link.lock:
            drop_socket(self._client)

    def flush(self, timeout_s: float) -> bool:
        """Wait until every QoS 1 message has been acknowledged; False on timeout."""
        deadline = time.monotonic() + timeout_s
        while self._pending > 0:
            if time.monotonic() > deadline:
                return False
            self._link.pump(0.01)
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
            _logger.warning("disconnected from MQTT broker (%s)", reason)

    def _on_publish(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason: ReasonCode,
        props: Properties | None,
    ) -> None:
        self._pending -= 1  # under the link's lock: paho calls back from inside pump/publish


def drop_socket(client: mqtt.Client) -> None:
    """Shut a paho client's socket down under it: no DISCONNECT, so the broker sends the will."""
    sock = client.socket()
    if isinstance(sock, socket.socket):  # a plain TCP connection (paho also knows websockets)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
