"""The live dashboard: a few HTML pages, small ES modules, a stylesheet and plotly.js.

Plants are often air-gapped, so everything the pages need is served from here: our own
files from ``andon/web/static/``, plotly.js from the installed ``plotly`` wheel and the API
explorer at ``/docs`` from the ``fastapi_offline`` wheel, never from a CDN. Pages are
sent with a Content-Security-Policy that lets the browser load and fetch only from its own
origin, so an accidental external reference fails loudly in
development instead of silently in a plant. The pages and their files are public (they hold
no plant data); the API they read checks every call (see :mod:`andon.api.auth`).

Static files are served from an allow-list built when the router is created: a request
path is looked up in that dict, never joined onto a directory, so ``..`` and encoded
variants of it can only ever miss (404).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path, PurePosixPath

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.responses import FileResponse, JSONResponse, Response

from andon.api.auth import public

__all__ = ["PAGES", "create_router"]

_logger = logging.getLogger(__name__)

_PLOTLY_NAME = "plotly.min.js"
_TOPBAR = "  <!-- andon:topbar -->"  # where a page takes the shared header
# Swagger UI for /docs, from the installed ``fastapi_offline`` wheel (as plotly.js).
_SWAGGER_FILES = ("swagger-ui-bundle.js", "swagger-ui.css")

# The pages: route (under the router's prefix) -> HTML file in static/. Each page is a
# static file; its ES module reads the API. Pages that need routes of other domains are
# listed once those routes exist.
PAGES = {
    "": "index.html",
    "machine": "machine.html",
    "quality": "quality.html",
    "maintenance": "maintenance.html",
    "orders": "orders.html",
    "tags": "tags.html",
    "login": "login.html",
}

# An explicit table rather than `mimetypes`, whose answers depend on the host (Windows
# registries have been known to map .js to text/plain, which browsers refuse for modules).
_MEDIA_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".ico": "image/x-icon",
    ".js": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".woff2": "font/woff2",
}

# Our own files change with every andon upgrade: the browser must revalidate them.
# plotly.js only changes with the plotly wheel; a day of caching saves 4.8 MB per reload.
_REVALIDATE = {"Cache-Control": "no-cache"}
_PLOTLY_CACHE = {"Cache-Control": "public, max-age=86400"}

# 'unsafe-eval': plotly.js probes the global object with `new Function("return this")`;
# 'unsafe-inline' styles: plotly.js positions its SVG and hover labels with inline styles.
# Neither loosens the origin rule, which is what keeps the page inside the plant network.
_CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'unsafe-eval'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
    ]
)


def create_router() -> APIRouter:
    """Build the router serving the dashboard page at ``/`` and its files at ``/static/``."""
    static = _static_root()
    files = _index_static_files(static)
    plotly_js = _locate_plotly_js()
    swagger = _locate_swagger_ui()
    router = APIRouter()

    topbar = _topbar(static)
    for route, name in PAGES.items():
        router.add_api_route(
            f"/{route}",
            _page_endpoint(_assembled(static / name, topbar)),
            methods=["GET"],
            include_in_schema=False,
        )

    @router.get("/static/{path:path}", include_in_schema=False)
    @public
    async def static_file(path: str) -> Response:
        if path == _PLOTLY_NAME and plotly_js is not None:
            return _file_response(plotly_js, _MEDIA_TYPES[".js"], _PLOTLY_CACHE)
        name = path.removeprefix("swagger/")
        if path.startswith("swagger/") and name in _SWAGGER_FILES and swagger is not None:
            return _file_response(swagger.joinpath(name), _media_type(name), _PLOTLY_CACHE)
        found = files.get(path)
        if found is None:
            return _not_found(path)
        return _file_response(found, _media_type(path), _REVALIDATE)

    @router.get("/docs", include_in_schema=False)
    @public
    async def api_docs() -> Response:
        """The OpenAPI explorer, with Swagger UI served by andon (no CDN)."""
        html = get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="andon API",
            swagger_js_url="/static/swagger/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg",
        )
        return html

    return router


def _page_endpoint(body: bytes) -> Callable[[Request], Awaitable[Response]]:
    etag = f'"{hashlib.blake2b(body, digest_size=16).hexdigest()}"'
    headers = {**_REVALIDATE, "Content-Security-Policy": _CONTENT_SECURITY_POLICY, "ETag": etag}

    @public
    async def page(request: Request) -> Response:
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        return Response(body, media_type=_MEDIA_TYPES[".html"], headers=headers)

    return page


def _topbar(static: Traversable) -> str:
    """The header every page shares (``topbar.html`` without its leading comment)."""
    text = static.joinpath("topbar.html").read_text(encoding="utf-8")
    return text.split("-->\n", 1)[1]


def _assembled(page: Traversable, topbar: str) -> bytes:
    """A page as sent: its file with the shared header where it has ``_TOPBAR``."""
    return page.read_text(encoding="utf-8").replace(_TOPBAR, topbar.rstrip("\n")).encode()


def _static_root() -> Traversable:
    return resources.files("andon.web").joinpath("static")


def _index_static_files(root: Traversable) -> dict[str, Traversable]:
    """Map each servable file below ``root`` to its POSIX path relative to ``root``.

    Only files whose suffix is in the media-type table are listed, so an editor's backup
    file or a stray ``.py`` never becomes downloadable.
    """
    found: dict[str, Traversable] = {}
    pending: list[tuple[PurePosixPath, Traversable]] = [(PurePosixPath(), root)]
    while pending:
        prefix, folder = pending.pop()
        for entry in folder.iterdir():
            relative = prefix / entry.name
            if entry.is_dir():
                pending.append((relative, entry))
            elif relative.suffix in _MEDIA_TYPES:
                found[relative.as_posix()] = entry
    return found


def _locate_plotly_js() -> Traversable | None:
    """Find plotly.min.js inside the installed ``plotly`` package (a hard dependency)."""
    try:
        candidate = resources.files("plotly").joinpath("package_data", _PLOTLY_NAME)
    except ModuleNotFoundError:
        candidate = None
    if candidate is None or not candidate.is_file():
        _logger.warning("plotly.js not found in the plotly package; the charts will not draw")
        return None
    return candidate


def _locate_swagger_ui() -> Traversable | None:
    """Swagger UI's files inside the installed ``fastapi_offline`` package (Swagger UI 5,
    which draws the OpenAPI 3.1 documents FastAPI writes)."""
    try:
        folder = resources.files("fastapi_offline").joinpath("static")
    except ModuleNotFoundError:
        folder = None
    if folder is None or not all(folder.joinpath(name).is_file() for name in _SWAGGER_FILES):
        _logger.warning("Swagger UI not found in fastapi_offline; /docs will not draw")
        return None
    return folder


def _media_type(path: str) -> str:
    return _MEDIA_TYPES[PurePosixPath(path).suffix]


def _file_response(file: Traversable, media_type: str, headers: dict[str, str]) -> Response:
    # Installed packages are plain directories, so files stream from disk with ETag and
    # Last-Modified; a zipped install (rare) falls back to reading the bytes.
    if isinstance(file, Path):
        return FileResponse(file, media_type=media_type, headers=headers)
    return Response(file.read_bytes(), media_type=media_type, headers=headers)


def _not_found(path: str) -> Response:
    # Same shape as the API's errors, so the page and scripts handle one format.
    error = {"type": "NotFound", "message": f"no dashboard file {path!r}"}
    return JSONResponse({"error": error}, status_code=404)
