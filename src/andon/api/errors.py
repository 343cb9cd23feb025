"""One place that turns errors into structured JSON: ``{"error": {"type", "message"}}``."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from andon.errors import AndonError, HistorianUnavailable, InvalidRequest, NotFound

__all__ = [
    "Forbidden",
    "PayloadTooLarge",
    "TooManyRequests",
    "Unauthenticated",
    "install_error_handlers",
]


class Unauthenticated(AndonError):
    """The request proves no identity (no, unknown or revoked key; no session) -> 401."""


class Forbidden(AndonError):
    """The caller's role is too low, or a browser write failed its CSRF check -> 403."""


class TooManyRequests(AndonError):
    """Too many failed sign-in attempts from this client or for this user -> 429."""


class PayloadTooLarge(InvalidRequest):
    """The request body is over the configured limit -> 413."""


# Looked up along the exception's MRO, most specific first.
_STATUS: dict[type[AndonError], int] = {
    NotFound: 404,
    PayloadTooLarge: 413,
    InvalidRequest: 400,
    Unauthenticated: 401,
    Forbidden: 403,
    TooManyRequests: 429,
    HistorianUnavailable: 503,
    AndonError: 500,
}
_HEADERS: dict[type[AndonError], dict[str, str]] = {
    Unauthenticated: {"WWW-Authenticate": 'Bearer realm="andon"'},
    TooManyRequests: {"Retry-After": "60"},
}


def _status_of(exc: AndonError) -> int:
    for cls in type(exc).__mro__:
        if cls in _STATUS:
            return _STATUS[cls]
    return 500


def _body(kind: str, message: str, status: int, **extra: object) -> JSONResponse:
    return JSONResponse({"error": {"type": kind, "message": message, **extra}}, status)


async def _andon_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AndonError)
    response = _body(type(exc).__name__, str(exc), _status_of(exc))
    response.headers.update(_HEADERS.get(type(exc), {}))
    return response


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = [{"loc": list(err.get("loc", ())), "msg": err.get("msg", "")} for err in exc.errors()]
    return _body("ValidationError", "the request is invalid", 422, details=details)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return _body("HTTPError", str(exc.detail), exc.status_code)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(AndonError, _andon_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
