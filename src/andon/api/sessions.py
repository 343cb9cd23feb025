"""Dashboard sessions: HMAC-signed cookies, no server-side storage.

A cookie is ``<base64url(json payload)>.<base64url(HMAC-SHA256)>`` signed with a secret kept
in the database, so sessions survive a restart of the server. The payload names the subject
(``key:<id>`` or ``user:<name>``), the version of its credential (a changed password ends old
sessions), when it was issued and a random nonce. The CSRF token is derived from the nonce
with the same secret: the page reads it from the login answer and sends it with each write,
which a page on another site can neither read nor guess.

>>> codec = SessionCodec("s3cret", ttl_s=60)
>>> cookie, data = codec.encode("user:ana", version=7, now_ms=1_000)
>>> codec.decode(cookie, now_ms=2_000) == data
True
>>> codec.decode(cookie, now_ms=62_000) is None, codec.decode(cookie[:-2] + "xx") is None
(True, True)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

import orjson

__all__ = ["SessionCodec", "SessionData"]


@dataclass(frozen=True, slots=True)
class SessionData:
    subject: str
    version: int
    issued_ms: int
    nonce: str
    csrf: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionCodec:
    """Signs and checks session cookies valid for ``ttl_s`` seconds after issue."""

    def __init__(self, secret: str, ttl_s: int) -> None:
        self._key = hashlib.sha256(b"andon-session|" + secret.encode()).digest()
        self.ttl_ms = ttl_s * 1000

    def _mac(self, message: bytes) -> bytes:
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def _csrf(self, nonce: str) -> str:
        return _b64(self._mac(b"csrf|" + nonce.encode()))[:32]

    def encode(
        self, subject: str, version: int, now_ms: int | None = None
    ) -> tuple[str, SessionData]:
        issued = int(time.time() * 1000) if now_ms is None else now_ms
        nonce = secrets.token_urlsafe(16)
        payload = orjson.dumps({"s": subject, "v": version, "i": issued, "n": nonce})
        cookie = f"{_b64(payload)}.{_b64(self._mac(payload))}"
        return cookie, SessionData(subject, version, issued, nonce, self._csrf(nonce))

    def decode(self, cookie: str, now_ms: int | None = None) -> SessionData | None:
        """The session in ``cookie``, or None when forged, malformed or expired."""
        body, _, mac = cookie.partition(".")
        try:
            payload = _unb64(body)
            if not hmac.compare_digest(_unb64(mac), self._mac(payload)):
                return None
            fields = orjson.loads(payload)
            data = SessionData(
                str(fields["s"]), int(fields["v"]), int(fields["i"]), str(fields["n"]), ""
            )
        except (ValueError, KeyError, TypeError):
            return None
        now = int(time.time() * 1000) if now_ms is None else now_ms
        if not data.issued_ms <= now < data.issued_ms + self.ttl_ms:
            return None
        return SessionData(
            data.subject, data.version, data.issued_ms, data.nonce, self._csrf(data.nonce)
        )
