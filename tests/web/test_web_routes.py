"""The dashboard router: the page, its static files, plotly.js, and nothing else."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from html.parser import HTMLParser
from importlib import resources

import pytest
from fastapi import FastAPI

from andon import web

with warnings.catch_warnings():
    # Starlette 1.x warns at import when its test client falls back to `httpx` instead of
    # `httpx2`; harmless here, and a no-op once the dev extras install httpx2.
    warnings.filterwarnings("ignore", message=r"Using `httpx` with `starlette\.testclient`")
    from fastapi.testclient import TestClient

STATIC = resources.files("andon.web").joinpath("static")
OUR_FILES = sorted(
    entry.name for entry in STATIC.iterdir() if entry.name.endswith((".js", ".css", ".html"))
)


class _References(HTMLParser):
    """Collects the ids and the src/href of scripts and links in a page."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if (element_id := values.get("id")) is not None:
            self.ids.add(element_id)
        if tag in {"script", "link", "img", "iframe"}:
            self.urls += [url for key in ("src", "href") if (url := values.get(key))]


def _parse(html: str) -> _References:
    parser = _References()
    parser.feed(html)
    return parser


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    app = FastAPI()
    app.include_router(web.create_router())
    with TestClient(app) as test_client:
        yield test_client


def test_public_surface() -> None:
    assert web.__all__ == ["PAGES", "create_router"]


def test_page_is_html_with_the_board_elements(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    ids = _parse(response.text).ids
    assert {"tiles", "trend", "timeline", "tag-select", "status", "tile-template"} <= ids
    for part in ("tile-state", "tile-oee", "tile-since", "tile-produced", "tile-scrap"):
        assert f'class="{part}' in response.text


def test_page_references_only_its_own_origin(client: TestClient) -> None:
    urls = _parse(client.get("/").text).urls
    assert "static/plotly.min.js" in urls
    assert "static/app.js" in urls
    for url in urls:
        assert not re.match(r"^(https?:)?//", url), url


def test_every_file_the_page_references_is_served(client: TestClient) -> None:
    for url in _parse(client.get("/").text).urls:
        assert client.get(f"/{url}").status_code == 200, url


def test_page_forbids_other_origins_in_the_browser(client: TestClient) -> None:
    policy = client.get("/").headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "connect-src 'self'" in policy
    assert "script-src 'self' 'unsafe-eval'" in policy


def test_page_is_revalidated(client: TestClient) -> None:
    assert client.get("/").headers["cache-control"] == "no-cache"


@pytest.mark.parametrize("name", OUR_FILES)
def test_our_files_name_no_external_url(name: str) -> None:
    text = STATIC.joinpath(name).read_text(encoding="utf-8")
    # The SVG namespace is a name the DOM API takes, never fetched.
    text = text.replace('"http://www.w3.org/2000/svg"', "")
    assert not re.search(r"https?://", text), name


@pytest.mark.parametrize(
    ("path", "media_type"),
    [
        ("/static/app.js", "text/javascript"),
        ("/static/charts.js", "text/javascript"),
        ("/static/app.css", "text/css"),
        ("/static/favicon.svg", "image/svg+xml"),
    ],
)
def test_static_files_carry_their_media_type(
    client: TestClient, path: str, media_type: str
) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == media_type
    assert response.headers["cache-control"] == "no-cache"


@pytest.mark.parametrize("name", [n for n in OUR_FILES if n.endswith(".js")])
def test_module_imports_resolve(client: TestClient, name: str) -> None:
    source = STATIC.joinpath(name).read_text(encoding="utf-8")
    for target in re.findall(r'from "\./([\w.-]+)"', source):
        assert client.get(f"/static/{target}").status_code == 200, f"{name} -> {target}"


def _module_graph(entry: str) -> set[str]:
    """The ES module ``entry`` and every module it imports, transitively."""
    seen: set[str] = set()
    pending = [entry]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        pending += re.findall(r'from "\./([\w.-]+)"', STATIC.joinpath(name).read_text("utf-8"))
    return seen


def _page_module(html: str) -> str:
    found = re.findall(r'<script type="module" src="static/([\w.-]+)"', html)
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize("route", sorted(web.PAGES))
def test_scripts_use_only_ids_the_page_has(client: TestClient, route: str) -> None:
    html = client.get(f"/{route}").text
    ids = _parse(html).ids
    for name in _module_graph(_page_module(html)):
        source = STATIC.joinpath(name).read_text(encoding="utf-8")
        used = set(re.findall(r'(?:\$|getElementById)\("([\w-]+)"\)', source))
        assert used <= ids, (route, name, used - ids)


@pytest.mark.parametrize("route", sorted(web.PAGES))
def test_every_page_is_served_with_its_policy(client: TestClient, route: str) -> None:
    response = client.get(f"/{route}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in response.headers["content-security-policy"]
    for url in _parse(response.text).urls:
        assert client.get(f"/{url}").status_code == 200, (route, url)


def _header(html: str) -> str:
    start = html.find('<header class="topbar">')
    return html[start : html.find("</header>", start)]


def test_every_page_shares_one_header(client: TestClient) -> None:
    headers = {
        route: _header(client.get(f"/{route}").text) for route in web.PAGES if route != "login"
    }
    reference = headers[""]
    assert 'id="status"' in reference
    for route, header in headers.items():
        assert header == reference, f"the header of /{route} differs from the overview's"
    linked = set(re.findall(r'data-page="([\w-]+)"', reference))
    assert len(linked) == len(headers)


def test_plotly_is_served_from_the_plotly_package(client: TestClient) -> None:
    response = client.get("/static/plotly.min.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert len(response.content) > 1_000_000
    assert b"plotly.js" in response.content[:1000]
    assert "max-age" in response.headers["cache-control"]


@pytest.mark.parametrize(
    "path",
    [
        "/static/../__init__.py",
        "/static/%2e%2e/x",
        "/static/%2e%2e/dashboard.py",
        "/static/..%2fdashboard.py",
        "/static/%2e%2e%2f%2e%2e%2fweb%2f__init__.py",
        "/static/%2fetc%2fpasswd",
        "/static/",
    ],
)
def test_nothing_outside_the_static_files_is_served(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 404


def test_unknown_file_is_a_json_404(client: TestClient) -> None:
    response = client.get("/static/nope.js")
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "NotFound"


def test_router_works_under_a_prefix() -> None:
    app = FastAPI()
    app.include_router(web.create_router(), prefix="/board")
    with TestClient(app) as prefixed:
        assert prefixed.get("/board/").status_code == 200
        # The page names its files relative to itself, so they follow the prefix.
        assert prefixed.get("/board/static/app.js").status_code == 200


def test_the_api_explorer_and_its_assets_are_served_locally(client: TestClient) -> None:
    app = FastAPI(docs_url=None)  # as create_app: FastAPI's own /docs loads from a CDN
    app.include_router(web.create_router())
    with TestClient(app) as local:
        page = local.get("/docs")
    assert page.status_code == 200
    urls = _parse(page.text).urls
    assert "/static/swagger/swagger-ui-bundle.js" in urls
    assert not [u for u in urls if u.startswith(("http:", "https:", "//"))]
    for name in ("swagger-ui-bundle.js", "swagger-ui.css"):
        asset = client.get(f"/static/swagger/{name}")
        assert asset.status_code == 200
        assert len(asset.content) > 10_000
    assert client.get("/static/swagger/index.html").status_code == 404
