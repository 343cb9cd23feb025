"""Every route behind a role: API keys, dashboard sessions, and the check itself.

``create_app`` installs :func:`authorize` as an app-level dependency, so every router it
includes is protected without doing anything: reads (GET, HEAD) need ``viewer``, writes need
``operator``, unless the route asks for more with ``dependencies=[requires(Role.ENGINEER)]``.
Routes marked :func:`public` (the login, the dashboard's HTML and static files) are open.

A caller proves who they are with an API key (``Authorization: Bearer <key>`` or
``X-API-Key: <key>``) or the dashboard's session cookie. Keys are verified against their
argon2 hash once, then remembered by a SHA-256 of the key for as long as the key stays
active. Sessions are HMAC-signed cookies (HttpOnly, SameSite=Strict) bound to the key or
user that opened them; a write through a session must carry its CSRF token in the
``X-CSRF-Token`` header and, when the browser says where it comes from, our own origin.

Until the first key or user exists, auth is not configured and every caller acts as a local
``admin``: ``andon demo`` on 127.0.0.1 works in one command. ``andon serve`` refuses to bind a
non-loopback address in that state (see :mod:`andon.cli`).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, TypeVar

import anyio.to_thread
import fastapi.routing
from fastapi import Depends, FastAPI, Request
from fastapi.params import Depends as DependsParam
from fastapi.routing import APIRoute

from andon.api.credentials import Credentials, KeyRecord, Role, UserRecord, key_id, verify_secret
from andon.api.errors import Forbidden, TooManyRequests, Unauthenticated
from andon.api.sessions import SessionCodec, SessionData

__all__ = [
    "AuthConfig",
    "Authenticator",
    "Principal",
    "PrincipalDep",
    "authenticator_of",
    "authorize",
    "public",
    "required_role",
    "requires",
]

_logger = logging.getLogger(__name__)
_READS = frozenset({"GET", "HEAD", "OPTIONS"})
_VERIFIED_CACHE = 4096
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class AuthConfig:
    """How the API protects itself (passed to ``create_app``; the defaults are safe)."""

    required: bool | None = None  # None: from the first key or user on
    session_ttl_s: int = 12 * 3600
    refresh_s: float = 5.0  # how stale the in-memory copy of keys and users may get
    max_body_bytes: int = 1 << 20
    cors_origins: tuple[str, ...] = ()  # empty: no CORS headers at all
    secure_cookies: bool = False  # also set automatically on https requests
    login_attempts: int = 10  # failed logins per client (and per user) per window
    login_window_s: float = 300.0


Kind = Literal["key", "session", "local"]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: ``subject`` is ``key:<id>``, ``user:<name>`` or ``local``."""

    kind: Kind
    subject: str
    role: Role
    session: SessionData | None = None


@dataclass(frozen=True, slots=True)
class _Snapshot:
    keys: dict[str, KeyRecord]
    users: dict[str, UserRecord]
    secret: str
    loaded: float

    @property
    def configured(self) -> bool:
        return bool(self.users) or any(k.active for k in self.keys.values())


@dataclass
class _Throttle:
    """At most ``limit`` failures per key (client, user) within ``window_s``."""

    limit: int
    window_s: float
    _failures: dict[str, list[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def check(self, *keys: str) -> None:
        now = time.monotonic()
        with self._lock:
            for key in keys:
                recent = [t for t in self._failures.get(key, []) if now - t < self.window_s]
                self._failures[key] = recent
                if len(recent) >= self.limit:
                    raise TooManyRequests("too many failed attempts: wait a few minutes")

    def fail(self, *keys: str) -> None:
        with self._lock:
            if len(self._failures) > 10_000:
                self._failures.clear()  # bounded memory under a spray of client addresses
            for key in keys:
                self._failures.setdefault(key, []).append(time.monotonic())


class Authenticator:
    """Turns a request into a :class:`Principal` (or an error), fast on the hot path."""

    def __init__(self, credentials: Credentials, config: AuthConfig) -> None:
        self.credentials = credentials
        self.config = config
        self.throttle = _Throttle(config.login_attempts, config.login_window_s)
        self._verified: dict[str, str] = {}  # sha256(key) -> key id
        self._lock = threading.Lock()
        self._snapshot = self._load()

    # -- the in-memory copy of keys and users ------------------------------------------

    def _load(self) -> _Snapshot:
        return _Snapshot(
            keys={k.id: k for k in self.credentials.api_keys()},
            users={u.name: u for u in self.credentials.users()},
            secret=self.credentials.secret("session"),
            loaded=time.monotonic(),
        )

    def reload(self) -> None:
        """Re-read keys and users now (after a change made through this process)."""
        snapshot = self._load()
        with self._lock:
            self._snapshot = snapshot

    async def snapshot(self) -> _Snapshot:
        if time.monotonic() - self._snapshot.loaded > self.config.refresh_s:
            await anyio.to_thread.run_sync(self.reload)
        return self._snapshot

    def required(self, snapshot: _Snapshot) -> bool:
        return snapshot.configured if self.config.required is None else self.config.required

    def codec(self, snapshot: _Snapshot) -> SessionCodec:
        return SessionCodec(snapshot.secret, self.config.session_ttl_s)

    # -- proofs ------------------------------------------------------------------------

    async def from_key(self, key: str, client: str) -> Principal:
        """The principal of an API key; 401 for an unknown, wrong or revoked key."""
        snapshot = await self.snapshot()
        ident = key_id(key)
        record = snapshot.keys.get(ident or "")
        if record is None or not record.active:
            raise Unauthenticated("unknown or revoked API key")
        digest = hashlib.sha256(key.encode()).hexdigest()
        if self._verified.get(digest) != record.id:
            self.throttle.check(f"client:{client}")
            if not await anyio.to_thread.run_sync(verify_secret, record.hash, key):
                self.throttle.fail(f"client:{client}")
                raise Unauthenticated("unknown or revoked API key")
            if len(self._verified) >= _VERIFIED_CACHE:
                self._verified.clear()
            self._verified[digest] = record.id
        return Principal("key", f"key:{record.id}", record.role)

    async def from_password(self, name: str, password: str, client: str) -> Principal:
        snapshot = await self.snapshot()
        keys = (f"client:{client}", f"user:{name}")
        self.throttle.check(*keys)
        user = snapshot.users.get(name)
        # Verify against a real hash even for unknown users: equal time, no user probing.
        stored = user.hash if user else _dummy_hash()
        if not await anyio.to_thread.run_sync(verify_secret, stored, password) or user is None:
            self.throttle.fail(*keys)
            raise Unauthenticated("wrong user name or password")
        return Principal("session", f"user:{user.name}", user.role)

    def from_session(self, snapshot: _Snapshot, cookie: str) -> Principal | None:
        """The principal of a session cookie still backed by an active key or user."""
        data = self.codec(snapshot).decode(cookie)
        if data is None:
            return None
        kind, _, name = data.subject.partition(":")
        if kind == "key":
            record = snapshot.keys.get(name)
            if record is None or not record.active or record.created_ms != data.version:
                return None
            return Principal("session", data.subject, record.role, data)
        user = snapshot.users.get(name)
        if kind != "user" or user is None or user.created_ms != data.version:
            return None  # removed, or the password changed since this session opened
        return Principal("session", data.subject, user.role, data)

    def version_of(self, snapshot: _Snapshot, subject: str) -> int:
        """What a session for ``subject`` is bound to (changes when it must end)."""
        kind, _, name = subject.partition(":")
        if kind == "key":
            return snapshot.keys[name].created_ms
        return snapshot.users[name].created_ms


_DUMMY: list[str] = []


def _dummy_hash() -> str:
    if not _DUMMY:
        from argon2 import PasswordHasher

        _DUMMY.append(PasswordHasher().hash("andon: no such user"))
    return _DUMMY[0]


SESSION_COOKIE = "andon_session"
CSRF_HEADER = "x-csrf-token"
_LOCAL = Principal("local", "local", Role.ADMIN)


def authenticator_of(request: Request) -> Authenticator:
    auth: Authenticator = request.app.state.auth
    return auth


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _presented_key(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.headers.get("x-api-key") or None


async def principal_of(request: Request) -> Principal:
    """Authenticate ``request`` once (cached on it); raises 401 when it proves nothing."""
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    auth = authenticator_of(request)
    snapshot = await auth.snapshot()
    key = _presented_key(request)
    principal: Principal | None = None
    if key is not None:
        principal = await auth.from_key(key, client_of(request))
    elif cookie := request.cookies.get(SESSION_COOKIE):
        principal = auth.from_session(snapshot, cookie)
    if principal is None:
        if auth.required(snapshot):
            raise Unauthenticated("sign in, or send an API key (Authorization: Bearer ...)")
        principal = _LOCAL
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(principal_of)]
"""Who is calling, for routes that record it (e.g. in the audit trail)."""


def _check_csrf(request: Request, principal: Principal) -> None:
    if request.method in _READS or principal.session is None:
        return
    token = request.headers.get(CSRF_HEADER, "")
    if not hmac.compare_digest(token, principal.session.csrf):
        raise Forbidden("missing or wrong CSRF token (header X-CSRF-Token)")
    check_origin(request)


def check_origin(request: Request) -> None:
    """Refuse a browser request that says it comes from another site."""
    origin = request.headers.get("origin")
    if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
        raise Forbidden(f"cross-origin request from {origin} refused")
    if request.headers.get("sec-fetch-site") in {"cross-site", "same-site"}:
        raise Forbidden("cross-site request refused")


def public(endpoint: F) -> F:
    """Mark a route's endpoint as open to everyone (login, dashboard files)."""
    endpoint.__andon_public__ = True  # type: ignore[attr-defined]  # a marker attribute
    return endpoint


class _RoleCheck:
    """The dependency behind :func:`requires`; ``role`` is read by :func:`required_role`."""

    def __init__(self, role: Role) -> None:
        self.role = role

    async def __call__(self, request: Request) -> Principal:
        principal = await principal_of(request)
        _check_role(principal, self.role)
        return principal


def requires(role: Role) -> Any:
    """``dependencies=[requires(Role.ENGINEER)]``: a route that needs more than the default."""
    return Depends(_RoleCheck(role))


def _declared(route: APIRoute) -> Role | None:
    roles = [
        dep.dependency.role
        for dep in route.dependencies
        if isinstance(dep, DependsParam) and isinstance(dep.dependency, _RoleCheck)
    ]
    return max(roles) if roles else None


def required_role(route: object, method: str) -> Role | None:
    """The role a route needs for ``method``; None for a public route."""
    if getattr(getattr(route, "endpoint", None), "__andon_public__", False):
        return None
    base = Role.VIEWER if method.upper() in _READS else Role.OPERATOR
    declared = _declared(route) if isinstance(route, APIRoute) else None
    return base if declared is None else max(base, declared)


def _check_role(principal: Principal, needed: Role) -> None:
    if principal.role < needed:
        raise Forbidden(
            f"this needs the {needed.label} role; {principal.subject} is {principal.role.label}"
        )


async def authorize(request: Request) -> None:
    """The app-level dependency: authenticate and check the route's role (and CSRF)."""
    needed = required_role(request.scope.get("route"), request.method)
    if needed is None:
        return
    principal = await principal_of(request)
    _check_role(principal, needed)
    _check_csrf(request, principal)


def _operations(app: FastAPI) -> Iterator[tuple[str, set[str], APIRoute]]:
    """(path, methods, route) of every documented route, through included routers.

    FastAPI >= 0.160 includes routers lazily; ``iter_route_contexts`` walks them.
    """
    walk = getattr(fastapi.routing, "iter_route_contexts", None)
    contexts: Iterable[Any] = app.routes if walk is None else walk(app.routes)
    for context in contexts:
        route = getattr(context, "original_route", context)
        if isinstance(route, APIRoute) and context.include_in_schema:
            yield context.path_format, set(context.methods or ()), route


def install_openapi_security(app: FastAPI) -> None:
    """Document the schemes and each operation's role in the OpenAPI schema."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        schema = original()
        schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
        schemes["apiKey"] = {"type": "apiKey", "in": "header", "name": "X-API-Key"}
        schemes["bearer"] = {"type": "http", "scheme": "bearer"}
        schemes["session"] = {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE}
        for path, methods, route in _operations(app):
            _document(schema.get("paths", {}).get(path, {}), methods, route)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override


def _document(operations: dict[str, Any], methods: set[str], route: APIRoute) -> None:
    for method in methods:
        operation = operations.get(method.lower())
        role = required_role(route, method)
        if operation is None or role is None:
            continue
        operation["security"] = [{"apiKey": []}, {"bearer": []}, {"session": []}]
        operation["x-andon-role"] = role.label
        operation.setdefault("responses", {}).update(_AUTH_RESPONSES)


_AUTH_RESPONSES = {
    "401": {"description": "no valid key or session"},
    "403": {"description": "the caller's role is too low, or a CSRF check failed"},
}
