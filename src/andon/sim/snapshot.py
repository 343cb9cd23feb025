"""The plant's latest values, kept from the message stream for the protocol servers.

OPC UA and Modbus serve the current value of each tag, not a stream. A :class:`Snapshot` is
a :class:`~andon.sim.pacing.Sink` that reads the factory's unified-namespace messages and
keeps, per asset, the last metrics, state, part totals and event; servers poll it from their
own threads and ask only for what changed since they last looked.

>>> from andon.sim.catalog import AMBIENT_TAGS, PlantAsset
>>> snap = Snapshot([PlantAsset("acme/p1/utilities/ambient/station1", "ambient", AMBIENT_TAGS)])
>>> snap.send([("andon/v1/acme/p1/utilities/ambient/station1/metrics",
...             b'{"ts": 1000, "seq": 1, "values": {"humidity_pct": 61.5}}')])
>>> seen: dict[str, int] = {}
>>> [(path, state.values) for path, state in snap.changed(seen)]
[('acme/p1/utilities/ambient/station1', {'humidity_pct': 61.5})]
>>> snap.changed(seen)
[]
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from andon.namespace import TOPIC_PREFIX
from andon.sim.catalog import PlantAsset
from andon.sim.messages import Message

__all__ = ["AssetState", "Snapshot"]

_logger = logging.getLogger(__name__)


@dataclass(slots=True)
class AssetState:
    """What one asset last published (``version`` grows with every message)."""

    values: dict[str, float] = field(default_factory=dict)
    ts: int = 0
    state: str | None = None
    code: int | None = None
    reason: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    event: str | None = None
    version: int = 0

    def copy(self) -> AssetState:
        """An independent copy (the dicts too), safe to read in another thread."""
        return replace(self, values=dict(self.values), counts=dict(self.counts))


def _metrics(state: AssetState, doc: dict[str, Any]) -> None:
    state.values.update(doc["values"])


def _state(state: AssetState, doc: dict[str, Any]) -> None:
    state.state, state.code, state.reason = doc["state"], doc["code"], doc.get("reason")


def _count(state: AssetState, doc: dict[str, Any]) -> None:
    state.counts.update({key: doc[key] for key in ("total", "good", "scrap")})


def _event(state: AssetState, doc: dict[str, Any]) -> None:
    state.event = doc["kind"]


_APPLY: dict[str, Callable[[AssetState, dict[str, Any]], None]] = {
    "metrics": _metrics,
    "state": _state,
    "count": _count,
    "event": _event,
}


class Snapshot:
    """Latest values of every asset in ``catalog``; a thread-safe sink of factory messages."""

    def __init__(self, catalog: Iterable[PlantAsset]) -> None:
        self._assets = {asset.path: AssetState() for asset in catalog}
        self._lock = threading.Lock()
        self.ignored = 0  # messages not understood (unknown asset, malformed payload)

    def send(self, messages: list[Message]) -> None:
        """Apply one step's messages."""
        with self._lock:
            for topic, payload in messages:
                self._apply(topic, payload)

    def _apply(self, topic: str, payload: bytes) -> None:
        asset, _, channel = topic[len(TOPIC_PREFIX) :].rpartition("/")
        state = self._assets.get(asset)
        apply = _APPLY.get(channel)
        if state is None or apply is None:
            self.ignored += 1
            return
        try:
            doc = orjson.loads(payload)
            apply(state, doc)
            state.ts = max(state.ts, int(doc["ts"]))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            self.ignored += 1
            _logger.debug("snapshot ignores a message on %s: %s", topic, exc)
            return
        state.version += 1

    def read(self, path: str) -> AssetState:
        """A copy of ``path``'s latest state (``KeyError`` when not in the catalog)."""
        with self._lock:
            return self._assets[path].copy()

    def changed(self, seen: dict[str, int]) -> list[tuple[str, AssetState]]:
        """Copies of the assets whose version moved past ``seen`` (which is updated)."""
        with self._lock:
            fresh = [
                (path, state.copy())
                for path, state in self._assets.items()
                if state.version > seen.get(path, 0)
            ]
        for path, state in fresh:
            seen[path] = state.version
        return fresh
