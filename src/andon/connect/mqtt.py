"""MQTT source for the unified namespace: a supervised paho-mqtt client.

paho decodes in its own network thread at about twice aiomqtt's rate on these machines
(DESIGN.md section 9), so the hot path stays there: each message goes straight to the
handler (the ingestion pipeline's ``submit``). The client reconnects by itself with
exponential back-off and resubscribes on every connect; an outage is logged once when it
starts and once when it ends. With a fixed client id and ``clean_start=False`` the broker
keeps QoS 1 messages for us while we are away (a persistent session).

With ``manual_ack`` the handler gets an ``ack`` with each QoS 1 message and the PUBACK goes
out only when it is called, i.e. once the message is committed (the ingestion pipeline calls
it after the historian's commit or the disk buffer's fsync). A worker killed with messages in
memory has not acknowledged them, and the broker redelivers them to the persistent session.
The client then asks for a receive maximum of 65535 (MQTT v5) so that the broker keeps
sending while a batch is being filled; an ack from before a reconnect is dropped, since the
broker redelivers that message on the new connection anyway.

Several ingest workers share the load with an MQTT v5 shared subscription: give each the
same ``shared_group`` (and its own ``client_id``); the broker hands every message to one of
them (``$share/<group>/<filter>``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from andon.errors import BrokerError

__all__ = ["AckingHandler", "MqttSource", "MqttSubscription"]

_logger = logging.getLogger(__name__)
_RECEIVE_MAXIMUM = 65535  # unacknowledged QoS 1 messages the broker may have in flight to us

MessageHandler = Callable[[str, bytes], object]


class AckingHandler(Protocol):
    """A handler that acknowledges each message itself, once it is safe (``manual_ack``)."""

    def __call__(
        self, topic: str, payload: bytes, *, ack: Callable[[], object] | None
    ) -> object: ...


@dataclass(frozen=True, slots=True)
class MqttSubscription:
    """Where and how to subscribe."""

    host: str
    port: int
    topics: tuple[str, ...] = ("andon/v1/#",)
    client_id: str = "andon-ingest"
    qos: int = 1
    persistent: bool = True
    session_expiry_s: int = 3600
    keepalive_s: int = 30
    mqtt5: bool = True  # False for brokers that speak only 3.1.1 (amqtt)
    shared_group: str | None = None  # MQTT v5 shared subscription for several workers
    will: tuple[str, bytes, bool] | None = None  # (topic, payload, retain) if we vanish

    def filters(self) -> list[str]:
        """The topic filters to subscribe to, shared when a group is set.

        >>> MqttSubscription("h", 1883, shared_group="andon").filters()
        ['$share/andon/andon/v1/#']
        """
        if self.shared_group is None:
            return list(self.topics)
        if not self.mqtt5:
            raise BrokerError("shared subscriptions need MQTT v5 (mqtt5=True)")
        return [f"$share/{self.shared_group}/{topic}" for topic in self.topics]


class MqttSource:
    """Delivers every message of the subscription to ``handler`` from paho's thread."""

    def __init__(
        self,
        subscription: MqttSubscription,
        handler: MessageHandler | AckingHandler,
        *,
        on_connect: Callable[[], None] | None = None,
        manual_ack: bool = False,
    ) -> None:
        if manual_ack and not subscription.mqtt5:
            raise BrokerError("acknowledging after commit needs MQTT v5 (a receive maximum)")
        self.subscription = subscription
        self.manual_ack = manual_ack
        self.messages = 0
        self.connects = 0
        self._handler: Callable[..., object] = handler
        self._after_connect = on_connect
        self._filters = subscription.filters()
        self._connected = threading.Event()
        self._down_since: float | None = None
        self._client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=subscription.client_id,
            protocol=paho.MQTTv5 if subscription.mqtt5 else paho.MQTTv311,
            clean_session=None if subscription.mqtt5 else not subscription.persistent,
            manual_ack=manual_ack,
        )
        self._client.max_inflight_messages_set(1000)
        self._client.max_queued_messages_set(0)
        self._client.reconnect_delay_set(min_delay=1, max_delay=30)
        if subscription.will is not None:
            topic, payload, retain = subscription.will
            self._client.will_set(topic, payload, qos=1, retain=retain)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.on_subscribe = self._on_subscribe

    def __enter__(self) -> MqttSource:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def start(self, timeout_s: float = 10.0) -> None:
        """Connect and subscribe; raises :class:`BrokerError` if the first connect fails."""
        sub = self.subscription
        try:
            if sub.mqtt5:
                props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]  # untyped
                props.SessionExpiryInterval = sub.session_expiry_s if sub.persistent else 0
                if self.manual_ack:
                    props.ReceiveMaximum = _RECEIVE_MAXIMUM
                self._client.connect(
                    sub.host,
                    sub.port,
                    keepalive=sub.keepalive_s,
                    clean_start=not sub.persistent,
                    properties=props,
                )
            else:
                self._client.connect(sub.host, sub.port, keepalive=sub.keepalive_s)
        except OSError as exc:
            raise BrokerError(f"cannot reach MQTT broker {sub.host}:{sub.port}: {exc}") from exc
        self._client.loop_start()
        if not self._connected.wait(timeout_s):
            self.stop()
            raise BrokerError(f"MQTT broker {sub.host}:{sub.port} did not accept us in time")

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None:
        """Publish from this connection (Sparkplug commands, host state); never blocks."""
        self._client.publish(topic, payload, qos=qos, retain=retain)

    def stop(self) -> None:
        """Disconnect and stop the network thread."""
        self._client.disconnect()
        self._client.loop_stop()
        self._connected.clear()

    def _on_connect(
        self, client: paho.Client, _u: Any, flags: paho.ConnectFlags, rc: ReasonCode, _p: Any
    ) -> None:
        if rc.is_failure:
            _logger.warning("MQTT broker refused the connection: %s", rc)
            return
        sub = self.subscription
        self.connects += 1
        client.subscribe([(topic, sub.qos) for topic in self._filters])
        if flags.session_present and sub.persistent:
            # The session still holds our subscription, and the broker may send what it
            # queued for us before the SUBACK: connected now, not after a long backlog.
            self._connected.set()
        if self._after_connect is not None:
            self._after_connect()
        if self._down_since is not None:
            _logger.info("MQTT reconnected after %.1f s", time.monotonic() - self._down_since)
            self._down_since = None

    def _on_subscribe(
        self, _c: paho.Client, _u: Any, _mid: int, codes: list[ReasonCode], _p: Any
    ) -> None:
        refused = [code for code in codes if code.is_failure]
        if refused:
            _logger.error("MQTT broker refused the subscription: %s", refused)
            return
        self._connected.set()  # only now can nothing published after start() be missed

    def _on_disconnect(self, _c: paho.Client, _u: Any, _f: Any, rc: ReasonCode, _p: Any) -> None:
        self._connected.clear()
        if rc.is_failure and self._down_since is None:
            self._down_since = time.monotonic()
            _logger.warning("MQTT connection lost (%s); reconnecting with back-off", rc)

    def _on_message(self, _c: paho.Client, _u: Any, message: paho.MQTTMessage) -> None:
        self.messages += 1
        try:
            payload = message.payload
            if type(payload) is not bytes:
                payload = bytes(payload)
            if not self.manual_ack:
                self._handler(message.topic, payload)
            elif message.qos:
                ack = partial(self._ack, self.connects, message.mid, message.qos)
                self._handler(message.topic, payload, ack=ack)
            else:
                self._handler(message.topic, payload, ack=None)
        except Exception:  # a handler bug must not kill the network thread
            _logger.exception("message handler failed on %s", message.topic)

    def _ack(self, connection: int, mid: int, qos: int) -> None:
        """Acknowledge ``mid`` if it came on this connection (else it is redelivered)."""
        if connection == self.connects:
            self._client.ack(mid, qos)
