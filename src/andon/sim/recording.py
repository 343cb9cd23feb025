"""Recording the factory's messages to a JSON Lines file (backfills and replays).

One line per message, ``{"topic": ..., "payload": {...}}``, in publishing order: the format
``andon``'s file connector replays (``mosquitto_sub -v`` output turned into JSON).

>>> import io
>>> out = io.BytesIO()
>>> JsonlRecorder(out).send([("andon/v1/a/metrics", b'{"ts":1,"seq":1,"values":{}}')])
>>> out.getvalue()
b'{"topic":"andon/v1/a/metrics","payload":{"ts":1,"seq":1,"values":{}}}\\n'
"""

from __future__ import annotations

from typing import BinaryIO

import orjson

from andon.sim.messages import Message

__all__ = ["JsonlRecorder"]


class JsonlRecorder:
    """A sink writing each message as one JSON line to a binary stream."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.written = 0

    def send(self, messages: list[Message]) -> None:
        """Append one step's messages (payloads are JSON already and are embedded as is)."""
        self._stream.write(
            b"".join(
                b'{"topic":' + orjson.dumps(topic) + b',"payload":' + payload + b"}\n"
                for topic, payload in messages
            )
        )
        self.written += len(messages)
