"""API security: roles on every route, keys hashed at rest, sessions, CSRF, limits, CORS."""

from __future__ import annotations

import base64
import json
import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from andon.api import create_app
from andon.api.auth import AuthConfig, requires
from andon.api.credentials import Credentials, Role
from andon.api.sessions import SessionCodec
from andon.config import Settings
from andon.historian import DuckDBHistorian

_probe = APIRouter(prefix="/api/v1/probe", tags=["probe"])


@_probe.get("/read")
def probe_read() -> dict[str, str]:
    return {"ok": "read"}


@_probe.post("/write")
def probe_write(body: dict[str, Any]) -> dict[str, Any]:
    return {"ok": "write", "size": len(str(body))}


@_probe.post("/tune", dependencies=[requires(Role.ENGINEER)])
def probe_tune() -> dict[str, str]:
    return {"ok": "tune"}


@pytest.fixture(scope="module")
def historian(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DuckDBHistorian]:
    h = DuckDBHistorian(tmp_path_factory.mktemp("auth") / "plant.duckdb")
    yield h
    h.close()


def _app(historian: DuckDBHistorian, **config: Any) -> FastAPI:
    app = create_app(Settings(), historian=historian, auth=AuthConfig(**config))
    # A router included after create_app, as another domain would: protected all the same.
    app.include_router(_probe)
    return app


# argon2 costs ~0.2-0.5 s per hash or first check, on purpose: one key per role for the
# module, one app that has verified them once.
@pytest.fixture(scope="module")
def keys(historian: DuckDBHistorian) -> dict[Role, str]:
    credentials = Credentials(historian)
    return {
        role: credentials.create_key(role, f"test {role.label}", actor="test")[0] for role in Role
    }


@pytest.fixture(scope="module")
def app(historian: DuckDBHistorian, keys: dict[Role, str]) -> FastAPI:
    return _app(historian)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:  # a fresh cookie jar per test
        yield c


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _operations(app: FastAPI) -> list[tuple[str, str, str]]:
    """(method, path with dummy parameters, role) of every protected operation."""
    found = []
    for path, item in app.openapi()["paths"].items():
        for method, operation in item.items():
            role = operation.get("x-andon-role")
            if role is not None:
                found.append((method.upper(), re.sub(r"\{[^}]+\}", "abcdefghij", path), role))
    return found


def test_without_keys_the_local_demo_needs_none() -> None:
    with TestClient(_app(DuckDBHistorian(":memory:"))) as client:
        assert client.get("/api/v1/health").status_code == 200
        assert client.post("/api/v1/probe/tune").status_code == 200  # local admin
        me = client.get("/api/v1/auth/me").json()
    assert me["auth_required"] is False
    assert me["role"] == "admin"


def test_every_route_needs_a_key_once_one_exists(
    app: FastAPI, client: TestClient, keys: dict[Role, str]
) -> None:
    operations = _operations(app)
    assert len(operations) >= 12
    assert {path for _, path, _ in operations} >= {"/api/v1/health", "/api/v1/probe/write"}
    for method, path, _ in operations:
        response = client.request(method, path)
        assert response.status_code == 401, (method, path, response.text)
        assert response.json()["error"]["type"] == "Unauthenticated"
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_guessing_a_key_secret_is_throttled(
    historian: DuckDBHistorian, keys: dict[Role, str]
) -> None:
    wrong = _bearer(keys[Role.ADMIN][:-4] + "AAAA")  # a real id with a wrong secret
    with TestClient(_app(historian, login_attempts=3)) as client:
        codes = [client.get("/api/v1/health", headers=wrong).status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]


def test_every_route_refuses_a_role_too_low(
    app: FastAPI, client: TestClient, keys: dict[Role, str]
) -> None:
    checked = 0
    for method, path, role in _operations(app):
        needed = Role.parse(role)
        if needed == Role.VIEWER:
            continue
        lower = Role(needed - 1)
        response = client.request(method, path, headers=_bearer(keys[lower]))
        assert response.status_code == 403, (method, path, lower, response.text)
        assert response.json()["error"]["type"] == "Forbidden"
        checked += 1
    assert checked >= 7


def test_roles_include_the_ones_below(client: TestClient, keys: dict[Role, str]) -> None:
    assert client.get("/api/v1/probe/read", headers=_bearer(keys[Role.VIEWER])).status_code == 200
    write = {"json": {"a": 1}}
    assert (
        client.post("/api/v1/probe/write", headers=_bearer(keys[Role.VIEWER]), **write).status_code
        == 403
    )
    assert (
        client.post(
            "/api/v1/probe/write", headers=_bearer(keys[Role.OPERATOR]), **write
        ).status_code
        == 200
    )
    assert (
        client.post("/api/v1/probe/write", headers=_bearer(keys[Role.ADMIN]), **write).status_code
        == 200
    )
    assert (
        client.post("/api/v1/probe/tune", headers=_bearer(keys[Role.OPERATOR])).status_code == 403
    )
    assert (
        client.post("/api/v1/probe/tune", headers=_bearer(keys[Role.ENGINEER])).status_code == 200
    )
    assert client.get("/api/v1/health", headers={"X-API-Key": keys[Role.VIEWER]}).status_code == 200


def test_dashboard_files_stay_public(client: TestClient, keys: dict[Role, str]) -> None:
    for path in ("/", "/tags", "/login", "/static/app.js", "/static/plotly.min.js"):
        assert client.get(path).status_code == 200, path
    assert client.get("/api/v1/auth/me").json() == {
        "authenticated": False,
        "auth_required": True,
        "subject": None,
        "role": None,
        "csrf_token": None,
        "expires_ms": None,
    }


def test_keys_are_not_stored_in_clear(historian: DuckDBHistorian, keys: dict[Role, str]) -> None:
    rows = historian.sql("SELECT id, name, role, hash FROM auth_keys")
    assert len(rows) >= len(Role)
    dump = repr(rows)
    for key in keys.values():
        secret = key.split("_", 2)[2]
        assert key not in dump
        assert secret not in dump
    assert all(row[3].startswith("$argon2id$") for row in rows)
    historian.sql("CHECKPOINT")
    raw = Path(historian.path).read_bytes()
    for key in keys.values():
        assert key.split("_", 2)[2].encode() not in raw


def test_a_revoked_key_is_refused_at_once(
    client: TestClient, historian: DuckDBHistorian, keys: dict[Role, str]
) -> None:
    admin = _bearer(keys[Role.ADMIN])
    made = client.post("/api/v1/auth/keys", json={"role": "viewer", "name": "gone"}, headers=admin)
    key, ident = made.json()["key"], made.json()["info"]["id"]
    assert client.get("/api/v1/health", headers=_bearer(key)).status_code == 200
    listed = client.get("/api/v1/auth/keys", headers=admin).json()
    assert ident in {k["id"] for k in listed}
    assert all("hash" not in k for k in listed)
    revoked = client.delete(f"/api/v1/auth/keys/{ident}", headers=admin)
    assert revoked.status_code == 200
    assert revoked.json()["revoked_ms"] is not None
    assert client.get("/api/v1/health", headers=_bearer(key)).status_code == 401
    trail = historian.sql(
        "SELECT actor, action FROM mes_audit WHERE entity = 'api_key' AND entity_key = ?", [ident]
    )
    admin_id = keys[Role.ADMIN].split("_")[1]
    assert trail == [(f"key:{admin_id}", "create"), (f"key:{admin_id}", "revoke")]


def test_admin_creates_a_key_shown_once(client: TestClient, keys: dict[Role, str]) -> None:
    admin = _bearer(keys[Role.ADMIN])
    made = client.post("/api/v1/auth/keys", json={"role": "operator", "name": "MES"}, headers=admin)
    assert made.status_code == 201
    key = made.json()["key"]
    assert made.json()["info"]["role"] == "operator"
    assert client.post("/api/v1/probe/write", json={}, headers=_bearer(key)).status_code == 200
    assert key not in client.get("/api/v1/auth/keys", headers=admin).text


def _login(client: TestClient, **body: str) -> dict[str, Any]:
    response = client.post("/api/v1/auth/login", json=body)
    assert response.status_code == 200, response.text
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    return dict(response.json())


def test_session_reads_and_writes_only_with_its_csrf_token(
    client: TestClient, keys: dict[Role, str]
) -> None:
    me = _login(client, key=keys[Role.OPERATOR])
    assert me["role"] == "operator"
    assert client.get("/api/v1/probe/read").status_code == 200  # the cookie is enough to read
    body = {"json": {"x": 1}}
    no_token = client.post("/api/v1/probe/write", **body)
    assert no_token.status_code == 403
    assert "CSRF" in no_token.json()["error"]["message"]
    token = {"X-CSRF-Token": me["csrf_token"]}
    assert client.post("/api/v1/probe/write", headers=token, **body).status_code == 200
    other_site = {**token, "Origin": "http://evil.example"}
    assert client.post("/api/v1/probe/write", headers=other_site, **body).status_code == 403
    same_site = {**token, "Origin": "http://testserver"}
    assert client.post("/api/v1/probe/write", headers=same_site, **body).status_code == 200
    client.post("/api/v1/auth/logout")
    assert client.get("/api/v1/probe/read").status_code == 401


def test_a_forged_or_tampered_session_is_refused(client: TestClient, keys: dict[Role, str]) -> None:
    _login(client, key=keys[Role.VIEWER])
    cookie = client.cookies["andon_session"]
    body, _, mac = cookie.partition(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    admin_id = keys[Role.ADMIN].split("_")[1]
    payload["s"] = f"key:{admin_id}"  # claim to be the admin key's session
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    client.cookies.clear()
    client.cookies.set("andon_session", f"{forged}.{mac}")
    assert client.get("/api/v1/auth/keys").status_code == 401
    client.cookies.set("andon_session", "garbage")
    assert client.get("/api/v1/health").status_code == 401
    client.cookies.set("andon_session", cookie)
    assert client.get("/api/v1/health").status_code == 200


def test_user_password_sessions_end_when_the_password_changes(
    app: FastAPI, client: TestClient, historian: DuckDBHistorian, keys: dict[Role, str]
) -> None:
    admin = _bearer(keys[Role.ADMIN])
    user = {"password": "correct horse 1", "role": "engineer"}
    put = client.put("/api/v1/auth/users/ana", json=user, headers=admin)
    assert put.status_code == 200
    assert "hash" not in put.text
    wrong = client.post("/api/v1/auth/login", json={"username": "ana", "password": "nope nope"})
    assert wrong.status_code == 401
    me = _login(client, username="ana", password="correct horse 1")
    assert (me["subject"], me["role"]) == ("user:ana", "engineer")
    csrf = {"X-CSRF-Token": me["csrf_token"]}
    assert client.post("/api/v1/probe/tune", headers=csrf).status_code == 200
    Credentials(historian).set_user("ana", "battery staple 2", Role.ENGINEER, actor="test")
    app.state.auth.reload()
    assert client.get("/api/v1/health").status_code == 401
    stored = repr(historian.sql("SELECT * FROM auth_users"))
    assert "battery staple 2" not in stored
    assert "correct horse 1" not in repr(historian.sql("SELECT * FROM mes_audit"))


def test_password_guessing_is_throttled(historian: DuckDBHistorian) -> None:
    Credentials(historian).set_user("bo", "long enough pw", Role.VIEWER, actor="test")
    app = _app(historian, login_attempts=3)
    with TestClient(app) as client:
        codes = [
            client.post(
                "/api/v1/auth/login", json={"username": "bo", "password": f"guess {i}"}
            ).status_code
            for i in range(4)
        ]
        assert codes == [401, 401, 401, 429]
        right = client.post(
            "/api/v1/auth/login", json={"username": "bo", "password": "long enough pw"}
        )
        assert right.status_code == 429  # even the right password waits out the window


def test_request_bodies_over_the_limit_are_refused() -> None:
    with TestClient(_app(DuckDBHistorian(":memory:"), max_body_bytes=1000)) as client:
        small = client.post("/api/v1/probe/write", json={"x": "a" * 100})
        assert small.status_code == 200
        big = client.post("/api/v1/probe/write", json={"x": "a" * 5000})
        assert big.status_code == 413
        assert big.json()["error"]["type"] == "PayloadTooLarge"

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
            yield b'{"x": "'
            for _ in range(20):
                yield b"a" * 100
            yield b'"}'

        streamed = client.post(
            "/api/v1/probe/write", content=chunks(), headers={"Content-Type": "application/json"}
        )
        assert streamed.status_code == 413


def test_cors_is_off_by_default_and_exact_when_configured() -> None:
    historian = DuckDBHistorian(":memory:")
    preflight = {
        "Origin": "http://bi.example",
        "Access-Control-Request-Method": "GET",
    }
    with TestClient(_app(historian)) as client:
        answer = client.options("/api/v1/health", headers=preflight)
        assert "access-control-allow-origin" not in answer.headers
        plain = client.get("/api/v1/health", headers={"Origin": "http://bi.example"})
        assert "access-control-allow-origin" not in plain.headers
    with TestClient(_app(historian, cors_origins=("http://bi.example",))) as client:
        answer = client.options("/api/v1/health", headers=preflight)
        assert answer.headers["access-control-allow-origin"] == "http://bi.example"
        other = client.options(
            "/api/v1/health", headers={**preflight, "Origin": "http://x.example"}
        )
        assert "access-control-allow-origin" not in other.headers


def test_openapi_documents_the_schemes_and_each_role(app: FastAPI) -> None:
    schema = app.openapi()
    assert set(schema["components"]["securitySchemes"]) == {"apiKey", "bearer", "session"}
    roles = {(m, p): r for m, p, r in _operations(app)}
    assert roles[("GET", "/api/v1/health")] == "viewer"
    assert roles[("POST", "/api/v1/probe/write")] == "operator"
    assert roles[("POST", "/api/v1/probe/tune")] == "engineer"
    assert roles[("POST", "/api/v1/auth/keys")] == "admin"
    assert ("POST", "/api/v1/auth/login") not in roles


def test_writes_are_logged_with_their_caller(
    client: TestClient, keys: dict[Role, str], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="andon.api.security"):
        client.post("/api/v1/probe/write", json={}, headers=_bearer(keys[Role.OPERATOR]))
        client.post("/api/v1/probe/write", json={}, headers=_bearer(keys[Role.VIEWER]))  # 403
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1
    assert lines[0].startswith("write POST /api/v1/probe/write by key:")


def test_reads_carry_etags_and_revalidate_to_304(client: TestClient, keys: dict[Role, str]) -> None:
    client.headers.update(_bearer(keys[Role.VIEWER]))
    first = client.get("/api/v1/assets")
    tag = first.headers["etag"]
    assert tag.startswith('W/"')
    assert first.headers["cache-control"] == "no-cache"
    again = client.get("/api/v1/assets", headers={"If-None-Match": tag})
    assert again.status_code == 304
    assert again.content == b""
    assert client.get("/api/v1/assets", headers={"If-None-Match": 'W/"other"'}).status_code == 200


def test_security_headers_on_every_answer(client: TestClient) -> None:
    for path in ("/", "/api/v1/health", "/api/v1/nope"):
        headers = client.get(path).headers
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"


def test_a_session_past_half_its_life_is_renewed_and_an_old_one_ends(
    app: FastAPI, client: TestClient, historian: DuckDBHistorian, keys: dict[Role, str]
) -> None:
    secret = historian.sql("SELECT value FROM auth_secrets WHERE name = 'session'")[0][0]
    codec = SessionCodec(secret, ttl_s=12 * 3600)
    ident = keys[Role.VIEWER].split("_")[1]
    version = next(k.created_ms for k in Credentials(historian).api_keys() if k.id == ident)
    hour = 3_600_000
    now = int(time.time() * 1000)
    aged, _ = codec.encode(f"key:{ident}", version, now_ms=now - 7 * hour)
    client.cookies.set("andon_session", aged)
    renewed = client.get("/api/v1/auth/me")
    assert renewed.json()["authenticated"] is True
    assert "andon_session=" in renewed.headers["set-cookie"]
    assert renewed.json()["expires_ms"] >= now + 12 * hour
    expired, _ = codec.encode(f"key:{ident}", version, now_ms=now - 13 * hour)
    client.cookies.clear()
    client.cookies.set("andon_session", expired)
    assert client.get("/api/v1/health").status_code == 401
