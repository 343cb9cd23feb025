"""What wraps every request: auth set-up, body-size limit, write log, headers, CORS.

:func:`install` is called once by ``create_app``. The middlewares are plain ASGI (no
``BaseHTTPMiddleware``), so the Server-Sent Events stream passes through them untouched.

Every successful write (POST, PUT, PATCH, DELETE answered below 400) is logged with who made
it: an access log. The record of *what* changed is the MES audit trail, which each domain's
write appends to in the same transaction as the change, with the caller as actor
(``auth.PrincipalDep``).
"""

from __future__ import annotations

import ipaddress
import logging

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from andon.api import accounts
from andon.api.auth import AuthConfig, Authenticator, Principal, install_openapi_security
from andon.api.credentials import Credentials
from andon.errors import ConfigError
from andon.historian import Historian

__all__ = ["BodyLimit", "SecurityHeaders", "WriteLog", "install", "is_loopback", "refuse_open_bind"]

_logger = logging.getLogger(__name__)
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` with 413, declared or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await _too_large(self.max_bytes)(scope, receive, send)
            return
        await _Limited(scope, receive, send, self.max_bytes).run(self.app)


class _Limited:
    """One request whose body has no declared length: counted as it arrives.

    Past the limit the 413 goes out at once, the app sees the client leave, and whatever it
    still tries to send (or raise about the lost body) is dropped.
    """

    def __init__(self, scope: Scope, receive: Receive, send: Send, max_bytes: int) -> None:
        self.scope, self.receive, self.send = scope, receive, send
        self.max_bytes = max_bytes
        self.received = 0
        self.refused = False

    async def run(self, app: ASGIApp) -> None:
        try:
            await app(self.scope, self.limited, self.guarded)
        except Exception:
            if not self.refused:
                raise

    async def limited(self) -> Message:
        if self.refused:
            return {"type": "http.disconnect"}
        message = await self.receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.max_bytes:
                self.refused = True
                await _too_large(self.max_bytes)(self.scope, self.receive, self.send)
                return {"type": "http.disconnect"}
        return message

    async def guarded(self, message: Message) -> None:
        if not self.refused:
            await self.send(message)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def _too_large(max_bytes: int) -> JSONResponse:
    message = f"request body over {max_bytes} bytes"
    return JSONResponse({"error": {"type": "PayloadTooLarge", "message": message}}, 413)


class WriteLog:
    """Log each successful write with its caller (the access log next to the audit trail)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _WRITES:
            await self.app(scope, receive, send)
            return
        status = 0

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        await self.app(scope, receive, watch)
        if 0 < status < 400:
            state = scope["app"].state  # a version of "what was written", for caches
            state.writes = getattr(state, "writes", 0) + 1
            principal = scope.get("state", {}).get("principal")
            who = principal.subject if isinstance(principal, Principal) else "anonymous"
            _logger.info("write %s %s by %s -> %d", scope["method"], scope["path"], who, status)


_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]


class SecurityHeaders:
    """Headers that cost nothing: no MIME sniffing, no framing, no referrer to other sites."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *_HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)


def install(app: FastAPI, db: Historian, config: AuthConfig) -> Authenticator:
    """Set up auth on ``app`` (whose routes already depend on ``auth.authorize``)."""
    authenticator = Authenticator(Credentials(db), config)
    app.state.auth = authenticator
    app.include_router(accounts.router)
    install_openapi_security(app)
    app.add_middleware(WriteLog)
    app.add_middleware(BodyLimit, max_bytes=config.max_body_bytes)
    app.add_middleware(SecurityHeaders)
    if config.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(config.cors_origins),
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type", "If-None-Match"],
            expose_headers=["ETag"],
        )
    return authenticator


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost).

    >>> is_loopback("127.0.0.1"), is_loopback("::1"), is_loopback("0.0.0.0"), is_loopback("plant")
    (True, True, False, False)
    """
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name may resolve anywhere: treat it as reachable


def refuse_open_bind(host: str, db: Historian) -> None:
    """Raise :class:`ConfigError` for a non-loopback ``host`` while no key or user exists."""
    if is_loopback(host) or Credentials(db).configured():
        return
    raise ConfigError(
        f"refusing to serve on {host} without auth: anyone on the network could change "
        "plant data. Create a key first (andon keys create --role admin --db ...) or a user "
        "(andon keys add-user NAME --role admin), or bind 127.0.0.1."
    )
