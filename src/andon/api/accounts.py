"""Routes for signing in and managing who may: sessions, API keys, users.

``/api/v1/auth/login`` opens a dashboard session from an API key or a user name and
password; ``/auth/me`` tells the page who it is (and whether it must sign in); keys and users
are managed by admins here or with ``andon keys`` on the command line.
"""

from __future__ import annotations

import logging
import time
from functools import partial
from typing import Annotated, Literal, cast

import anyio.to_thread
from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, Field

from andon.api.auth import (
    SESSION_COOKIE,
    Principal,
    PrincipalDep,
    authenticator_of,
    check_origin,
    client_of,
    principal_of,
    public,
    requires,
)
from andon.api.credentials import KeyRecord, Role
from andon.api.errors import Unauthenticated
from andon.errors import InvalidRequest

__all__ = ["router"]

_logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])
RoleName = Literal["viewer", "operator", "engineer", "admin"]


class Login(BaseModel):
    """Either ``key`` or ``username`` + ``password``."""

    key: str | None = Field(default=None, max_length=200)
    username: str | None = Field(default=None, max_length=64)
    password: str | None = Field(default=None, max_length=1024)


class Me(BaseModel):
    authenticated: bool
    auth_required: bool
    subject: str | None = None
    role: RoleName | None = None
    csrf_token: str | None = None
    expires_ms: int | None = None


class KeyInfo(BaseModel):
    id: str
    name: str
    role: RoleName
    created_ms: int
    revoked_ms: int | None


class NewKey(BaseModel):
    role: RoleName
    name: str = Field(default="", max_length=100)


class CreatedKey(BaseModel):
    key: str = Field(description="shown once: store it now, andon keeps only its hash")
    info: KeyInfo


class UserInfo(BaseModel):
    name: str
    role: RoleName
    created_ms: int


class UserUpdate(BaseModel):
    password: str = Field(min_length=10, max_length=1024)
    role: RoleName


def _name(role: Role) -> RoleName:
    return cast(RoleName, role.label)


def _key_info(record: KeyRecord) -> KeyInfo:
    return KeyInfo.model_validate(record.public())


async def _prove(request: Request, body: Login) -> Principal:
    auth = authenticator_of(request)
    client = client_of(request)
    if body.key:
        return await auth.from_key(body.key, client)
    if body.username and body.password is not None:
        return await auth.from_password(body.username, body.password, client)
    raise InvalidRequest("send either 'key' or 'username' and 'password'")


@router.post("/login")
@public
async def login(request: Request, response: Response, body: Login) -> Me:
    """Open a dashboard session (an HttpOnly, SameSite=Strict cookie) and get its CSRF token."""
    check_origin(request)
    principal = await _prove(request, body)
    me = await _open_session(request, response, principal.subject)
    _logger.info("session opened for %s from %s", principal.subject, client_of(request))
    return me.model_copy(update={"role": _name(principal.role)})


async def _open_session(request: Request, response: Response, subject: str) -> Me:
    """Set a fresh session cookie for ``subject``; the answer carries its CSRF token."""
    auth = authenticator_of(request)
    snapshot = await auth.snapshot()
    codec = auth.codec(snapshot)
    cookie, data = codec.encode(subject, auth.version_of(snapshot, subject))
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=auth.config.session_ttl_s,
        httponly=True,
        samesite="strict",
        secure=auth.config.secure_cookies or request.url.scheme == "https",
        path="/",
    )
    return Me(
        authenticated=True,
        auth_required=auth.required(snapshot),
        subject=subject,
        csrf_token=data.csrf,
        expires_ms=data.issued_ms + codec.ttl_ms,
    )


@router.post("/logout")
@public
async def logout(response: Response) -> Me:
    """End the session on this browser (the cookie is cleared)."""
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return Me(authenticated=False, auth_required=True)


@router.get("/me")
@public
async def me(request: Request, response: Response) -> Me:
    """Who this request is, and whether the dashboard must ask for a sign-in.

    A session past half its life is renewed here (a new cookie and CSRF token), so a wall
    screen that asks now and then stays signed in while its key or user stays valid.
    """
    auth = authenticator_of(request)
    snapshot = await auth.snapshot()
    try:
        principal = await principal_of(request)
    except Unauthenticated:
        return Me(authenticated=False, auth_required=True)
    session = principal.session
    if session is not None and _past_half_life(session.issued_ms, auth.config.session_ttl_s):
        renewed = await _open_session(request, response, principal.subject)
        return renewed.model_copy(update={"role": _name(principal.role)})
    return Me(
        authenticated=principal.kind != "local",
        auth_required=auth.required(snapshot),
        subject=principal.subject,
        role=_name(principal.role),
        csrf_token=None if session is None else session.csrf,
        expires_ms=None
        if session is None
        else session.issued_ms + auth.config.session_ttl_s * 1000,
    )


def _past_half_life(issued_ms: int, ttl_s: int) -> bool:
    return time.time() * 1000 - issued_ms > ttl_s * 500


_ADMIN = [requires(Role.ADMIN)]
KeyId = Annotated[str, Path(pattern=r"^[a-z0-9]{10}$", description="the key's public id")]
UserName = Annotated[str, Path(pattern=r"^[A-Za-z0-9._@-]{1,64}$")]


@router.get("/keys", dependencies=_ADMIN)
async def list_keys(request: Request) -> list[KeyInfo]:
    """Every API key, active or revoked (never their secrets)."""
    records = await anyio.to_thread.run_sync(authenticator_of(request).credentials.api_keys)
    return [_key_info(r) for r in records]


@router.post("/keys", dependencies=_ADMIN, status_code=201)
async def create_key(request: Request, body: NewKey, principal: PrincipalDep) -> CreatedKey:
    """A new key with ``role``; the answer is the only time the key is shown."""
    auth = authenticator_of(request)
    key, record = await anyio.to_thread.run_sync(
        partial(auth.credentials.create_key, actor=principal.subject),
        Role.parse(body.role),
        body.name,
    )
    await anyio.to_thread.run_sync(auth.reload)
    return CreatedKey(key=key, info=_key_info(record))


@router.delete("/keys/{key_id}", dependencies=_ADMIN)
async def revoke_key(request: Request, key_id: KeyId, principal: PrincipalDep) -> KeyInfo:
    """Revoke a key now (its sessions end with it)."""
    auth = authenticator_of(request)
    revoke = partial(auth.credentials.revoke_key, actor=principal.subject)
    record = await anyio.to_thread.run_sync(revoke, key_id)
    await anyio.to_thread.run_sync(auth.reload)
    return _key_info(record)


@router.get("/users", dependencies=_ADMIN)
async def list_users(request: Request) -> list[UserInfo]:
    """Dashboard users (never their password hashes)."""
    users = await anyio.to_thread.run_sync(authenticator_of(request).credentials.users)
    return [UserInfo(name=u.name, role=_name(u.role), created_ms=u.created_ms) for u in users]


@router.put("/users/{name}", dependencies=_ADMIN)
async def set_user(
    request: Request, name: UserName, body: UserUpdate, principal: PrincipalDep
) -> UserInfo:
    """Create a user, or set their password and role (their open sessions end)."""
    auth = authenticator_of(request)
    user = await anyio.to_thread.run_sync(
        partial(auth.credentials.set_user, actor=principal.subject),
        name,
        body.password,
        Role.parse(body.role),
    )
    await anyio.to_thread.run_sync(auth.reload)
    return UserInfo(name=user.name, role=body.role, created_ms=user.created_ms)


@router.delete("/users/{name}", dependencies=_ADMIN, status_code=204)
async def remove_user(request: Request, name: UserName, principal: PrincipalDep) -> Response:
    """Remove a user (their sessions end)."""
    auth = authenticator_of(request)
    remove = partial(auth.credentials.remove_user, actor=principal.subject)
    await anyio.to_thread.run_sync(remove, name)
    await anyio.to_thread.run_sync(auth.reload)
    return Response(status_code=204)
