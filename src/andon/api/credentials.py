"""Who may use the API: roles, API keys and dashboard users, hashed at rest with argon2.

Every change (a key created or revoked, a user set or removed) is appended to the MES audit
trail in the same transaction, with who made it; never a secret or a hash.

Keys look like ``andon_<id>_<secret>``: the id is public (it names the key in lists, logs
and the audit trail), the secret is 256 random bits shown once at creation. Only an argon2id
hash of the whole key is stored, as for user passwords. The tables live in the historian's
database, next to the data they protect, through its SQL door (``Historian.sql``).

>>> Role.parse("Engineer") > Role.OPERATOR
True
>>> key = new_key()
>>> key_id(key) == key.split("_")[1], key_id("not-a-key")
(True, None)
"""

from __future__ import annotations

import secrets
import string
import time
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from andon.errors import InvalidRequest, NotFound
from andon.historian import Historian, SqlRunner
from andon.mes import audit, store

__all__ = [
    "Credentials",
    "KeyRecord",
    "Role",
    "UserRecord",
    "key_id",
    "new_key",
    "verify_secret",
]

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS auth_keys (
        id          VARCHAR PRIMARY KEY,
        name        VARCHAR NOT NULL,
        role        VARCHAR NOT NULL,
        hash        VARCHAR NOT NULL,
        created_ms  BIGINT NOT NULL,
        revoked_ms  BIGINT
    )""",
    """CREATE TABLE IF NOT EXISTS auth_users (
        name        VARCHAR PRIMARY KEY,
        role        VARCHAR NOT NULL,
        hash        VARCHAR NOT NULL,
        created_ms  BIGINT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS auth_secrets (
        name        VARCHAR PRIMARY KEY,
        value       VARCHAR NOT NULL
    )""",
)
_PREFIX = "andon"
_ID_ALPHABET = string.ascii_lowercase + string.digits
_USER_NAME = frozenset(string.ascii_letters + string.digits + "._-@")
_MIN_PASSWORD = 10
# argon2id with the library's defaults (RFC 9106 low-memory profile): ~0.2 s per hash here.
_HASHER = PasswordHasher()


class Role(IntEnum):
    """What a caller may do; each role includes the ones below it."""

    VIEWER = 1
    OPERATOR = 2
    ENGINEER = 3
    ADMIN = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Role:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            names = ", ".join(r.label for r in cls)
            raise InvalidRequest(f"unknown role {text!r}: one of {names}") from None


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """An API key as stored: never its secret."""

    id: str
    name: str
    role: Role
    hash: str
    created_ms: int
    revoked_ms: int | None

    @property
    def active(self) -> bool:
        return self.revoked_ms is None

    def public(self) -> dict[str, Any]:
        """What lists show: everything but the hash."""
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role.label,
            "created_ms": self.created_ms,
            "revoked_ms": self.revoked_ms,
        }


@dataclass(frozen=True, slots=True)
class UserRecord:
    """A dashboard user who logs in with a password."""

    name: str
    role: Role
    hash: str
    created_ms: int


def new_key() -> str:
    """A fresh key ``andon_<10-char id>_<43-char secret>`` (the id alphabet has no ``_``)."""
    ident = "".join(secrets.choice(_ID_ALPHABET) for _ in range(10))
    return f"{_PREFIX}_{ident}_{secrets.token_urlsafe(32)}"


def key_id(key: str) -> str | None:
    """The public id inside ``key``, or None when ``key`` is not shaped like an andon key."""
    prefix, _, rest = key.partition("_")
    ident, _, secret = rest.partition("_")
    if prefix != _PREFIX or len(ident) != 10 or len(secret) < 32:
        return None
    return ident if set(ident) <= set(_ID_ALPHABET) else None


def verify_secret(stored_hash: str, secret: str) -> bool:
    """True when ``secret`` matches the argon2 hash (slow on purpose: ~0.2 s)."""
    try:
        return _HASHER.verify(stored_hash, secret)
    except (VerificationError, InvalidHashError):
        return False


def _now_ms() -> int:
    return int(time.time() * 1000)


class Credentials:
    """API keys, users and the session-signing secret in the historian's database."""

    def __init__(self, db: Historian) -> None:
        self._db = db
        for statement in _SCHEMA:
            db.sql(statement)

    # -- keys ---------------------------------------------------------------------------

    def create_key(self, role: Role, name: str = "", *, actor: str) -> tuple[str, KeyRecord]:
        """A new key: returns the key itself (shown once, never stored) and its record."""
        key = new_key()
        ident = key_id(key)
        assert ident is not None  # new_key() builds a well-formed key
        label = name or f"{role.label} key"
        record = KeyRecord(ident, label, role, _HASHER.hash(key), _now_ms(), None)
        with store.transaction(self._db) as tx:
            tx.sql(
                "INSERT INTO auth_keys (id, name, role, hash, created_ms) VALUES (?, ?, ?, ?, ?)",
                [record.id, record.name, role.label, record.hash, record.created_ms],
            )
            audit.append(tx, actor, "create", "api_key", ident, None, record.public())
        return key, record

    def api_keys(self) -> list[KeyRecord]:
        rows = self._db.sql(
            "SELECT id, name, role, hash, created_ms, revoked_ms FROM auth_keys ORDER BY created_ms"
        )
        return [KeyRecord(i, n, Role.parse(r), h, int(c), _opt_int(v)) for i, n, r, h, c, v in rows]

    def revoke_key(self, ident: str, *, actor: str) -> KeyRecord:
        """Revoke a key for good (idempotent); :class:`NotFound` for an unknown id."""
        before = self._key(ident)
        if not before.active:
            return before
        with store.transaction(self._db) as tx:
            tx.sql("UPDATE auth_keys SET revoked_ms = ? WHERE id = ?", [_now_ms(), ident])
            after = self._key(ident, tx)
            audit.append(tx, actor, "revoke", "api_key", ident, before.public(), after.public())
        return after

    def _key(self, ident: str, db: SqlRunner | None = None) -> KeyRecord:
        rows = (db or self._db).sql(
            "SELECT id, name, role, hash, created_ms, revoked_ms FROM auth_keys WHERE id = ?",
            [ident],
        )
        if not rows:
            raise NotFound(f"no API key with id {ident!r}")
        i, n, r, h, c, v = rows[0]
        return KeyRecord(i, n, Role.parse(r), h, int(c), _opt_int(v))

    # -- users --------------------------------------------------------------------------

    def set_user(self, name: str, password: str, role: Role, *, actor: str) -> UserRecord:
        """Create a user or replace their password and role (their sessions end)."""
        _check_user(name, password)
        record = UserRecord(name, role, _HASHER.hash(password), _now_ms())
        before = next(
            ({"name": u.name, "role": u.role.label} for u in self.users() if u.name == name), None
        )
        with store.transaction(self._db) as tx:
            tx.sql("DELETE FROM auth_users WHERE name = ?", [name])
            tx.sql(
                "INSERT INTO auth_users (name, role, hash, created_ms) VALUES (?, ?, ?, ?)",
                [name, role.label, record.hash, record.created_ms],
            )
            after = {"name": name, "role": role.label, "password": "changed"}
            audit.append(tx, actor, "set", "user", name, before, after)
        return record

    def users(self) -> list[UserRecord]:
        rows = self._db.sql("SELECT name, role, hash, created_ms FROM auth_users ORDER BY name")
        return [UserRecord(n, Role.parse(r), h, int(c)) for n, r, h, c in rows]

    def remove_user(self, name: str, *, actor: str) -> None:
        found = [u for u in self.users() if u.name == name]
        if not found:
            raise NotFound(f"no user {name!r}")
        with store.transaction(self._db) as tx:
            tx.sql("DELETE FROM auth_users WHERE name = ?", [name])
            before = {"name": name, "role": found[0].role.label}
            audit.append(tx, actor, "remove", "user", name, before, None)

    # -- state --------------------------------------------------------------------------

    def configured(self) -> bool:
        """True once any active key or any user exists: from then on every call needs one."""
        return any(k.active for k in self.api_keys()) or bool(self.users())

    def secret(self, name: str) -> str:
        """A random secret kept in the database (created on first use), e.g. for sessions."""
        rows = self._db.sql("SELECT value FROM auth_secrets WHERE name = ?", [name])
        if rows:
            return str(rows[0][0])
        value = secrets.token_urlsafe(32)
        self._db.sql("INSERT INTO auth_secrets (name, value) VALUES (?, ?)", [name, value])
        return value


def _check_user(name: str, password: str) -> None:
    if not name or len(name) > 64 or not set(name) <= _USER_NAME:
        raise InvalidRequest("user names are 1-64 characters of letters, digits and ._-@")
    if len(password) < _MIN_PASSWORD:
        raise InvalidRequest(f"passwords need at least {_MIN_PASSWORD} characters")


def _opt_int(value: object) -> int | None:
    return None if value is None else int(str(value))
