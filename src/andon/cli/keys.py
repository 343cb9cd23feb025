"""``andon keys``: API keys and dashboard users (hashed with argon2, never stored in clear).

Each change is recorded in the audit trail as made by ``cli:<login name>``. The first key or
user turns auth on for the whole API; ``andon serve --host 0.0.0.0``
refuses to start until one exists. With DuckDB, one process holds the database file: run
these commands while the server is stopped, or use the admin routes under
``/api/v1/auth/`` of the running server.
"""

from __future__ import annotations

import getpass
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.table import Table

from andon.api.credentials import Credentials, Role
from andon.cli.guard import guarded
from andon.errors import InvalidRequest
from andon.historian import DuckDBHistorian

__all__ = ["app"]

app = typer.Typer(help="API keys and dashboard users.", no_args_is_help=True)
_console = Console()
_err = Console(stderr=True)

DbOption = Annotated[Path, typer.Option(help="DuckDB file of the plant")]
_DEFAULT_DB = Path("data/andon.duckdb")
RoleOption = Annotated[
    str, typer.Option(help="viewer < operator < engineer < admin (each includes the ones below)")
]


@contextmanager
def _credentials(db: Path) -> Iterator[Credentials]:
    historian = DuckDBHistorian(db)
    try:
        yield Credentials(historian)
    finally:
        historian.close()


@app.command()
def create(
    role: RoleOption,
    name: Annotated[str, typer.Option(help="what the key is for, e.g. 'ERP sync'")] = "",
    db: DbOption = _DEFAULT_DB,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Create an API key with ROLE; the key is printed once and never again."""

    def _create() -> None:
        with _credentials(db) as credentials:
            key, record = credentials.create_key(Role.parse(role), name, actor=_actor())
        if as_json:
            sys.stdout.write(orjson.dumps({"key": key, **record.public()}).decode() + "\n")
            return
        _console.print(f"created {record.role.label} key [bold]{record.id}[/] ({record.name})")
        _console.print(key, soft_wrap=True, highlight=False)
        _err.print("store it now: andon keeps only its argon2 hash")

    guarded(_create)


@app.command("list")
def list_keys(
    db: DbOption = _DEFAULT_DB,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """List keys (active and revoked) and users; never a secret or a hash."""

    def _list() -> None:
        with _credentials(db) as credentials:
            keys, users = credentials.api_keys(), credentials.users()
        if as_json:
            users_out = [
                {"name": u.name, "role": u.role.label, "created_ms": u.created_ms} for u in users
            ]
            payload = {"keys": [k.public() for k in keys], "users": users_out}
            sys.stdout.write(orjson.dumps(payload).decode() + "\n")
            return
        table = Table("kind", "id / name", "role", "created (UTC)", "status")
        for k in keys:
            status = "active" if k.active else f"revoked {_when(k.revoked_ms)}"
            table.add_row("key", f"{k.id}  {k.name}", k.role.label, _when(k.created_ms), status)
        for u in users:
            table.add_row("user", u.name, u.role.label, _when(u.created_ms), "active")
        _console.print(table)

    guarded(_list)


@app.command()
def revoke(
    key_id: Annotated[str, typer.Argument(help="the key's id (see `andon keys list`)")],
    db: DbOption = _DEFAULT_DB,
) -> None:
    """Revoke a key for good: requests and sessions made with it are refused."""

    def _revoke() -> None:
        with _credentials(db) as credentials:
            record = credentials.revoke_key(key_id, actor=_actor())
        _console.print(f"revoked key {record.id} ({record.name})")

    guarded(_revoke)


@app.command("add-user")
def add_user(
    name: Annotated[str, typer.Argument(help="user name for the dashboard sign-in")],
    role: RoleOption,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from standard input")
    ] = False,
    db: DbOption = _DEFAULT_DB,
) -> None:
    """Create a dashboard user (or set their password and role); asks for the password."""

    def _add() -> None:
        password = _read_password(password_stdin)
        with _credentials(db) as credentials:
            user = credentials.set_user(name, password, Role.parse(role), actor=_actor())
        _console.print(f"user {user.name} is {user.role.label}")

    guarded(_add)


@app.command("remove-user")
def remove_user(
    name: Annotated[str, typer.Argument(help="user name")],
    db: DbOption = _DEFAULT_DB,
) -> None:
    """Remove a dashboard user (their sessions end)."""

    def _remove() -> None:
        with _credentials(db) as credentials:
            credentials.remove_user(name, actor=_actor())
        _console.print(f"removed user {name}")

    guarded(_remove)


def _actor() -> str:
    """Who ran the command, for the audit trail."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in a bare container
        return "cli"


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    if not password:
        raise InvalidRequest("empty password")
    return password


def _when(ms: int | None) -> str:
    if ms is None:
        return "—"
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(ms / 1000))
