"""What the API tells browsers: security headers on every response, CORS from an allow-list,
and request bodies capped while they stream in."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from orderly_db.settings import ConfigurationError, load_settings
from orderly_http.app import create_app
from orderly_http.settings import HttpSettings
from tests.http.actors import STAFF, act_as
from tests.http.helpers import assert_problem, serving

API_CSP = "default-src 'none'; frame-ancestors 'none'"
SHOP = "https://shop.example.com"
NEW_MUG = {"sku": "MUG-1", "name": "Blue mug", "unit_price": 1250, "currency": "EUR"}


def _assert_secured(response: httpx.Response) -> None:
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["content-security-policy"] == API_CSP
    assert "strict-transport-security" not in response.headers
    assert response.headers["x-request-id"]


async def test_security_headers_on_a_success_and_a_problem(client: httpx.AsyncClient) -> None:
    for response in (
        await client.get("/health"),
        await client.get("/api/v1/products"),
        await client.get("/api/v1/products/NOPE"),
        await client.get("/nothing-here"),
    ):
        _assert_secured(response)
        assert "cache-control" not in response.headers


async def test_security_headers_on_a_500_from_a_route(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    async def explode() -> None:
        raise RuntimeError("boom")

    app.add_api_route("/api/v1/explode", explode)

    response = await client.get("/api/v1/explode")

    assert_problem(response, 500, "internal_error")
    _assert_secured(response)


class _Exploding:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raise RuntimeError("outside every Orderly layer")
        await self.app(scope, receive, send)


async def test_security_headers_even_on_starlettes_last_resort_500(
    http_settings: HttpSettings,
) -> None:
    app = create_app(http_settings)
    app.add_middleware(_Exploding)

    async with serving(app, raise_app_exceptions=False) as client:
        response = await client.get("/health")

    assert_problem(response, 500, "internal_error")
    _assert_secured(response)


async def test_a_request_with_credentials_gets_an_answer_no_cache_keeps(
    client: httpx.AsyncClient,
) -> None:
    for path in ("/api/v1/products", "/api/v1/products/NOPE"):
        response = await client.get(path, headers={"Authorization": "Bearer abc"})

        assert response.headers["cache-control"] == "no-store"
        _assert_secured(response)


async def test_hsts_only_when_the_api_is_served_over_tls(http_settings: HttpSettings) -> None:
    settings = http_settings.model_copy(update={"hsts_enabled": True, "hsts_max_age_s": 600})

    async with serving(create_app(settings)) as client:
        response = await client.get("/api/v1/products/NOPE")

    assert response.headers["strict-transport-security"] == "max-age=600"


def _csp(header: str) -> dict[str, set[str]]:
    directives = (part.split() for part in header.split(";") if part.strip())
    return {name: set(sources) for name, *sources in directives}


def _assets(html: str) -> list[str]:
    """Every URL a page loads by itself: scripts, stylesheets, icons, images, frames."""
    return re.findall(r'<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)="([^"]+)"', html)


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
async def test_docs_pages_load_only_their_own_assets_under_a_policy_naming_no_other_origin(
    client: httpx.AsyncClient, path: str
) -> None:
    """Offline and behind a strict policy: no CDN, no web font, no inline script."""
    response = await client.get(path)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = _csp(response.headers["content-security-policy"])
    html = response.text
    assets = _assets(html)
    assert any(url.endswith(".js") for url in assets), assets
    for url in assets:
        assert url.startswith("/docs/assets/"), url  # same origin, shipped with the API
    assert "http://" not in html
    assert "https://" not in html
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)  # no inline script
    assert not re.search(r"\son[a-z]+=", html)  # nor inline handlers
    for directive, sources in policy.items():
        for source in sources:
            assert not source.startswith(("http:", "https:")), (directive, source)
            assert source not in {"*", "'unsafe-eval'"}, (directive, source)
    assert policy["default-src"] == {"'none'"}
    assert policy["script-src"] == {"'self'"}
    assert "'self'" in policy["connect-src"]  # it fetches /openapi.json
    assert "font-src" not in policy
    assert policy["frame-ancestors"] == {"'none'"}
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_the_docs_assets_are_served_with_their_types_and_licences(
    client: httpx.AsyncClient,
) -> None:
    pages = [(await client.get(path)).text for path in ("/docs", "/redoc")]
    assets = {url for page in pages for url in _assets(page)}
    assets |= {
        "/docs/assets/swagger-ui/LICENSE",
        "/docs/assets/swagger-ui/NOTICE",
        "/docs/assets/redoc/LICENSE",
    }
    kinds = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}

    for url in sorted(assets):
        response = await client.get(url)
        assert response.status_code == 200, url
        assert response.content, url
        suffix = url[url.rfind(".") :]
        if suffix in kinds:
            assert response.headers["content-type"].startswith(kinds[suffix]), url
        assert response.headers["x-content-type-options"] == "nosniff"
    swagger = (await client.get("/docs/assets/swagger-ui/swagger-ui-bundle.js")).text
    redoc = (await client.get("/docs/assets/redoc/redoc.standalone.js")).text
    assert "SwaggerUIBundle" in swagger
    assert "cdn.redoc.ly" not in redoc  # its one remote image, emptied (static/README.md)
    assert (await client.get("/docs/assets/../app.py")).status_code == 404
    assert (await client.get("/docs/assets/nothing.js")).status_code == 404


async def test_the_api_itself_keeps_the_strict_policy_next_to_the_docs(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/openapi.json")

    assert response.headers["content-security-policy"] == API_CSP


# --- CORS ---


@pytest.fixture
def cors_settings(http_settings: HttpSettings) -> HttpSettings:
    return load_settings(
        HttpSettings,
        database_url=http_settings.database_url,
        redis_url=http_settings.redis_url,
        cors_origins=f"{SHOP}, http://localhost:3000/",
    )


def _preflight(origin: str, method: str = "PATCH", headers: str = "if-match") -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": headers,
    }


def _cors_headers(response: httpx.Response) -> set[str]:
    return {name for name in response.headers if name.startswith("access-control-")}


async def test_a_preflight_from_an_allowed_origin_passes(cors_settings: HttpSettings) -> None:
    async with serving(create_app(cors_settings)) as client:
        response = await client.options(
            "/api/v1/products/MUG-1",
            headers=_preflight(SHOP, headers="authorization, content-type, if-match"),
        )

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == SHOP
    assert "PATCH" in response.headers["access-control-allow-methods"]
    allowed = {
        h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")
    }
    assert {"authorization", "content-type", "if-match", "idempotency-key"} <= allowed
    assert response.headers["x-request-id"]
    _assert_secured(response)


async def test_a_preflight_from_another_origin_gets_no_cors_headers(
    cors_settings: HttpSettings,
) -> None:
    async with serving(create_app(cors_settings)) as client:
        response = await client.options(
            "/api/v1/products/MUG-1", headers=_preflight("https://evil.example")
        )
        simple = await client.get("/api/v1/products", headers={"Origin": "https://evil.example"})

    assert_problem(response, 403, "cors_rejected")
    assert _cors_headers(response) == set()
    assert simple.status_code == 200
    assert _cors_headers(simple) == set()


async def test_a_browser_at_an_allowed_origin_can_read_answers_and_their_headers(
    cors_settings: HttpSettings,
) -> None:
    app = create_app(cors_settings)

    async def explode() -> None:
        raise RuntimeError("boom")

    app.add_api_route("/api/v1/explode", explode)
    act_as(app, STAFF)
    origin = {"Origin": "http://localhost:3000"}

    async with serving(app) as client:
        created = await client.post("/api/v1/products", json=NEW_MUG, headers=origin)
        failed = await client.get("/api/v1/explode", headers=origin)

    assert created.status_code == 201
    assert created.headers["access-control-allow-origin"] == "http://localhost:3000"
    exposed = {h.strip() for h in created.headers["access-control-expose-headers"].split(",")}
    assert {"X-Request-ID", "ETag", "Location", "Retry-After", "Orderly-Mode"} <= exposed
    assert "Idempotent-Replayed" in exposed
    assert_problem(failed, 500, "internal_error")
    assert failed.headers["access-control-allow-origin"] == "http://localhost:3000"


async def test_without_configured_origins_there_is_no_cors(client: httpx.AsyncClient) -> None:
    response = await client.options("/api/v1/products", headers=_preflight(SHOP, "GET", ""))

    assert _cors_headers(response) == set()
    assert response.status_code == 405


@pytest.mark.parametrize(
    ("raw", "origins"),
    [
        ("", ()),
        ("https://a.example,http://localhost:3000", ("https://a.example", "http://localhost:3000")),
        ('["https://a.example/"]', ("https://a.example",)),
    ],
)
def test_cors_origins_are_read_as_a_list_or_json(raw: str, origins: tuple[str, ...]) -> None:
    settings = load_settings(
        HttpSettings, database_url="postgresql://x@/y", redis_url="redis://x", cors_origins=raw
    )

    assert settings.cors_origins == origins


@pytest.mark.parametrize("raw", ["*", "https://a.example/path", "shop.example.com"])
def test_a_cors_entry_that_is_not_an_origin_is_refused_at_start_up(raw: str) -> None:
    with pytest.raises(ConfigurationError, match="CORS_ORIGINS"):
        load_settings(
            HttpSettings, database_url="postgresql://x@/y", redis_url="redis://x", cors_origins=raw
        )


# --- body limits ---

LIMIT = 1024


@pytest.fixture
def small_bodies(http_settings: HttpSettings) -> FastAPI:
    settings = http_settings.model_copy(
        update={"max_body_bytes": LIMIT, "max_import_bytes": 4 * LIMIT}
    )
    app = create_app(settings)
    act_as(app, STAFF)
    return app


class _Chunks:
    """A request body streamed in chunks, counting how many the server pulled."""

    def __init__(self, count: int, size: int = 256) -> None:
        self.count, self.size, self.sent = count, size, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.count):
            self.sent += 1
            yield b" " * self.size


def _json_body(size: int) -> bytes:
    padding = "x" * max(0, size - 100)
    fields = '"sku": "MUG-1", "name": "Mug", "unit_price": 1, "currency": "EUR"'
    return f'{{{fields}, "description": "{padding}"}}'.encode()


async def _count_products(client: httpx.AsyncClient) -> int:
    items: list[Any] = (await client.get("/api/v1/products")).json()["items"]
    return len(items)


async def test_a_declared_oversized_body_is_refused_before_it_is_read(
    small_bodies: FastAPI,
) -> None:
    body = _Chunks(count=20)
    async with serving(small_bodies) as client:
        response = await client.post(
            "/api/v1/products",
            content=body,
            headers={"Content-Length": str(20 * 256), "Content-Type": "application/json"},
        )
        stored = await _count_products(client)

    problem = assert_problem(response, 413, "payload_too_large")
    assert problem["max_bytes"] == LIMIT
    _assert_secured(response)
    assert body.sent == 0
    assert stored == 0


async def test_a_chunked_oversized_body_is_cut_off_while_it_streams(
    small_bodies: FastAPI,
) -> None:
    body = _Chunks(count=40)
    async with serving(small_bodies) as client:
        response = await client.post(
            "/api/v1/products", content=body, headers={"Content-Type": "application/json"}
        )

    assert "content-length" not in {k.lower() for k in response.request.headers}
    assert_problem(response, 413, "payload_too_large")
    assert body.sent == LIMIT // 256 + 1  # stopped at the first chunk past the limit


async def test_a_body_within_the_limit_is_served(small_bodies: FastAPI) -> None:
    async with serving(small_bodies) as client:
        response = await client.post(
            "/api/v1/products",
            content=_json_body(LIMIT - 10),
            headers={"Content-Type": "application/json"},
        )

    assert response.status_code == 201, response.text


async def test_imports_get_the_larger_limit(small_bodies: FastAPI) -> None:
    async with serving(small_bodies) as client:
        under = await client.post("/api/v1/products/imports", content=b"x" * (2 * LIMIT))
        over = await client.post("/api/v1/products/imports", content=b"x" * (5 * LIMIT))

    assert under.status_code != 413
    assert_problem(over, 413, "payload_too_large")
