"""``andon keys`` and the rule that ``andon serve`` stays on loopback until auth exists."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from andon.api.credentials import Credentials, Role
from andon.api.security import is_loopback, refuse_open_bind
from andon.cli import app
from andon.errors import ConfigError
from andon.historian import DuckDBHistorian

runner = CliRunner()


def _keys(db: Path, *args: str) -> str:
    result = runner.invoke(app, ["keys", *args, "--db", str(db)])
    assert result.exit_code == 0, result.output
    return result.output


def test_create_list_revoke_with_an_audit_trail(tmp_path: Path) -> None:
    db = tmp_path / "plant.duckdb"
    made = json.loads(_keys(db, "create", "--role", "operator", "--name", "line PLC", "--json"))
    key, ident = made["key"], made["id"]
    assert key.startswith(f"andon_{ident}_")
    assert made["role"] == "operator"
    listed = json.loads(_keys(db, "list", "--json"))
    assert [k["id"] for k in listed["keys"]] == [ident]
    assert key not in json.dumps(listed)
    assert "revoked" in _keys(db, "revoke", ident)
    assert json.loads(_keys(db, "list", "--json"))["keys"][0]["revoked_ms"] is not None
    historian = DuckDBHistorian(db, read_only=True)
    try:
        trail = historian.sql(
            "SELECT actor, action, entity, entity_key FROM mes_audit ORDER BY seq"
        )
        stored = repr(historian.sql("SELECT * FROM auth_keys"))
    finally:
        historian.close()
    assert [row[1:] for row in trail] == [
        ("create", "api_key", ident),
        ("revoke", "api_key", ident),
    ]
    assert all(row[0].startswith("cli") for row in trail)
    assert key.split("_", 2)[2] not in stored


def test_users_with_a_password_from_stdin(tmp_path: Path) -> None:
    db = tmp_path / "plant.duckdb"
    result = runner.invoke(
        app,
        ["keys", "add-user", "ana", "--role", "engineer", "--password-stdin", "--db", str(db)],
        input="a long password\n",
    )
    assert result.exit_code == 0, result.output
    assert "ana is engineer" in result.output
    listed = json.loads(_keys(db, "list", "--json"))
    assert listed["users"][0]["name"] == "ana"
    short = runner.invoke(
        app,
        ["keys", "add-user", "bo", "--role", "viewer", "--password-stdin", "--db", str(db)],
        input="short\n",
    )
    assert short.exit_code == 1
    assert "at least 10 characters" in short.output
    _keys(db, "remove-user", "ana")
    assert json.loads(_keys(db, "list", "--json"))["users"] == []


def test_unknown_role_and_key_are_clear_errors(tmp_path: Path) -> None:
    db = str(tmp_path / "plant.duckdb")
    bad_role = runner.invoke(app, ["keys", "create", "--role", "boss", "--db", db])
    assert bad_role.exit_code == 1
    assert "unknown role 'boss'" in bad_role.output
    missing = runner.invoke(app, ["keys", "revoke", "abcdefghij", "--db", db])
    assert missing.exit_code == 1
    assert "no API key" in missing.output


def test_serve_refuses_a_public_address_without_auth(tmp_path: Path) -> None:
    db = tmp_path / "plant.duckdb"
    result = runner.invoke(app, ["serve", "--db", str(db), "--host", "0.0.0.0", "--port", "9"])
    assert result.exit_code == 1
    assert "refusing to serve on 0.0.0.0 without auth" in result.output


def test_a_public_address_is_allowed_once_a_key_exists(tmp_path: Path) -> None:
    historian = DuckDBHistorian(tmp_path / "plant.duckdb")
    try:
        refuse_open_bind("127.0.0.1", historian)  # loopback: always
        with pytest.raises(ConfigError, match="andon keys create"):
            refuse_open_bind("0.0.0.0", historian)
        Credentials(historian).create_key(Role.ADMIN, actor="test")
        refuse_open_bind("0.0.0.0", historian)
        refuse_open_bind("plant-gw.local", historian)
    finally:
        historian.close()


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.5", False),
        ("andon.plant", False),
    ],
)
def test_loopback_addresses(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
