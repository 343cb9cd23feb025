"""ETag and If-None-Match for every JSON read of the API, in one place.

A wall screen re-reads its views each time new data arrives; most of the time part of what
it shows has not changed (yesterday's shift, a machine that is down). Each successful GET
answer in JSON gets a weak ETag, a hash of its body, and ``Cache-Control: no-cache`` (the
browser may keep it but must ask). When the request's ``If-None-Match`` names the same tag,
the answer is a bodyless 304: no transfer, no parsing, no redraw on the page.

Streams (Server-Sent Events) and anything not JSON pass through untouched.

>>> etag_of(b'{"a":1}')
'W/"2c6b113b8dd15ffbded9860b43eb0c6c"'
"""

from __future__ import annotations

import hashlib

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["ETags", "etag_of"]

_READS = frozenset({"GET", "HEAD"})


def etag_of(body: bytes) -> str:
    return f'W/"{hashlib.blake2b(body, digest_size=16).hexdigest()}"'


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def _matches(if_none_match: bytes | None, tag: str) -> bool:
    if not if_none_match:
        return False
    wanted = {t.strip() for t in if_none_match.decode("latin-1").split(",")}
    return "*" in wanted or tag in wanted or tag.removeprefix("W/") in wanted


class ETags:
    """ASGI middleware adding ETags to JSON GET answers under ``prefix``."""

    def __init__(self, app: ASGIApp, prefix: str = "/api/") -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in _READS
            or not scope["path"].startswith(self.prefix)
        ):
            await self.app(scope, receive, send)
            return
        await _Exchange(scope, send).run(self.app, receive)


class _Exchange:
    """One request: holds a JSON answer back until its body is complete."""

    def __init__(self, scope: Scope, send: Send) -> None:
        self.scope = scope
        self.send = send
        self.if_none_match = _header(list(scope.get("headers", [])), b"if-none-match")
        self.start: Message | None = None
        self.chunks: list[bytes] = []
        self.passthrough = False

    async def run(self, app: ASGIApp, receive: Receive) -> None:
        await app(self.scope, receive, self.on_send)

    async def on_send(self, message: Message) -> None:
        if self.passthrough:
            await self.send(message)
        elif message["type"] == "http.response.start":
            self._on_start(message)
            if self.passthrough:
                await self.send(message)
        elif message["type"] == "http.response.body":
            self.chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                await self._finish()
        else:
            await self.send(message)

    def _on_start(self, message: Message) -> None:
        headers = list(message.get("headers", []))
        content_type = _header(headers, b"content-type") or b""
        self.passthrough = message["status"] != 200 or not content_type.startswith(
            b"application/json"
        )
        self.start = message

    async def _finish(self) -> None:
        assert self.start is not None  # a body always follows its start
        body = b"".join(self.chunks)
        tag = etag_of(body)
        headers = [
            (k, v) for k, v in self.start.get("headers", []) if k.lower() != b"cache-control"
        ]
        headers += [(b"etag", tag.encode()), (b"cache-control", b"no-cache")]
        if _matches(self.if_none_match, tag):
            kept = [
                (k, v) for k, v in headers if k.lower() not in {b"content-length", b"content-type"}
            ]
            await self.send({"type": "http.response.start", "status": 304, "headers": kept})
            await self.send({"type": "http.response.body", "body": b""})
            return
        await self.send({**self.start, "headers": headers})
        await self.send({"type": "http.response.body", "body": body})
