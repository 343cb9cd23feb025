"""OPC UA client (asyncua): subscriptions to configured variables, quality from status codes.

Each configured variable, by node id or browse path, is monitored in one subscription.
A data change becomes a :class:`~andon.signals.Sample` stamped with the source timestamp
(the server's when the device gives none), scaled and deadbanded as the tag mapping says.
Quality comes from the status code: good and uncertain values are kept; a bad one is not a
measurement, so it becomes a ``quality`` event when the tag goes bad (and another when it
recovers). A value that cannot be a sample (text, NaN) is dead-lettered once per tag.

The session is supervised (:func:`~andon.connect.source.supervise`): when the server goes
away, asyncua's watchdog notices, the session ends, and the next one reconnects with
back-off and subscribes again, also to a restarted server with fresh sessions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from datetime import UTC
from typing import Any

from asyncua import ua
from asyncua.client.client import Client
from asyncua.common.node import Node
from asyncua.ua.uaerrors import UaStatusCodeError

from andon.connect.records import RecordMaker
from andon.connect.source import Backoff, Link, RecordSink, supervise
from andon.connect.tagmap import OpcUaServer, OpcUaTag
from andon.signals import Event, Record

__all__ = ["OpcUaSource"]

_logger = logging.getLogger(__name__)
_BACKOFF = Backoff()


class OpcUaSource:
    """Subscribes to the variables of one OPC UA server and feeds ``sink``."""

    def __init__(
        self,
        server: OpcUaServer,
        sink: RecordSink,
        *,
        backoff: Backoff = _BACKOFF,
        watchdog_s: float = 1.0,
    ) -> None:
        self.server = server
        self.name = server.name or "opcua"
        self.link = Link(f"OPC UA {server.url}")
        self.notifications = 0
        self._sink = sink
        self._backoff = backoff
        self._watchdog_s = watchdog_s
        self._records = RecordMaker()
        self._bad: set[str] = set()  # addresses whose last status was bad
        self._dead_lettered: set[str] = set()

    async def run(self) -> None:
        """Subscribe, and again after every outage, until cancelled."""
        await supervise(self.link, self._session, self._backoff)

    async def _session(self, link: Link) -> None:
        lost = asyncio.Event()
        client = Client(
            self.server.url, timeout=self.server.timeout_s, watchdog_intervall=self._watchdog_s
        )

        async def on_lost(_exc: Exception) -> None:
            lost.set()

        client.connection_lost_callback = on_lost
        try:
            await client.connect()
            nodes = await self._resolve(client)
            subscription = await client.create_subscription(
                self.server.publishing_ms, _Handler(self, nodes)
            )
            results = await subscription.subscribe_data_change(list(nodes.values()))
            _log_refused(self.server, list(nodes), results)
            link.up()
            await lost.wait()
        finally:
            # A lost server never answers CloseSession: do not wait long for it.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.disconnect(), timeout=0.5 if lost.is_set() else 2)
            client.disconnect_socket()

    async def _resolve(self, client: Client) -> dict[OpcUaTag, Node]:
        nodes: dict[OpcUaTag, Node] = {}
        for tag in self.server.tags:
            if tag.node is not None:
                nodes[tag] = client.get_node(tag.node)
                continue
            path = [part for part in (tag.browse_path or "").split("/") if part]
            try:
                nodes[tag] = await client.nodes.objects.get_child(path)
            except UaStatusCodeError as exc:
                _logger.error("OPC UA %s: no node at %s (%s)", self.server.url, tag.address, exc)
        return nodes

    def deliver(self, tag: OpcUaTag, value: Any, data_value: ua.DataValue) -> None:
        """One data change from the subscription (called by asyncua's handler)."""
        self.notifications += 1
        ts = _stamp(data_value)
        status = data_value.StatusCode or ua.StatusCode()  # absent means Good
        records: list[Record] = []
        if status.is_bad():
            if tag.address not in self._bad:
                self._bad.add(tag.address)
                records.append(_quality(tag, ts, status))
        else:
            if tag.address in self._bad:
                self._bad.discard(tag.address)
                records.append(_quality(tag, ts, status))
            record = self._record(tag, value, ts)
            if record is not None:
                records.append(record)
        if records:
            self._sink.submit_records(records, source=self.name)

    def _record(self, tag: OpcUaTag, value: Any, ts: int) -> Record | None:
        if isinstance(value, bool | int | float) and math.isfinite(value):
            return self._records.make(tag, ts, float(value))
        if tag.address not in self._dead_lettered:  # once per tag, not per notification
            self._dead_lettered.add(tag.address)
            reason = f"OPC UA value of {type(value).__name__} is not a finite number"
            payload = repr(value).encode()[:4096]
            self._sink.reject(self.name, f"{self.server.url}|{tag.address}", payload, reason)
        return None


class _Handler:
    """asyncua's subscription handler: routes data changes to the source."""

    def __init__(self, source: OpcUaSource, nodes: dict[OpcUaTag, Node]) -> None:
        self._source = source
        self._tags = {node.nodeid: tag for tag, node in nodes.items()}

    def datachange_notification(self, node: Node, val: Any, data: Any) -> None:
        tag = self._tags.get(node.nodeid)
        if tag is not None:
            self._source.deliver(tag, val, data.monitored_item.Value)

    def status_change_notification(self, status: Any) -> None:
        code = getattr(status, "Status", None)
        _logger.info("OPC UA subscription status: %s", getattr(code, "name", status))


def _stamp(data_value: ua.DataValue) -> int:
    moment = data_value.SourceTimestamp or data_value.ServerTimestamp
    if moment is None:
        return int(time.time() * 1000)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return round(moment.timestamp() * 1000)


def _quality(tag: OpcUaTag, ts: int, status: ua.StatusCode) -> Event:
    good = not status.is_bad()
    return Event(tag.asset, ts, "quality", {"tag": tag.label, "status": status.name, "good": good})


def _log_refused(server: OpcUaServer, tags: list[OpcUaTag], results: Any) -> None:
    for tag, result in zip(tags, results if isinstance(results, list) else [results], strict=False):
        if isinstance(result, ua.StatusCode) and not result.is_good():
            _logger.error("OPC UA %s refused to monitor %s: %s", server.url, tag.address, result)
