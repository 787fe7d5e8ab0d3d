"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc), served from assets shipped in this package.

The pages load their scripts, styles and icon from ``/docs/assets/`` (``static/``, see its
README for the versions and licences), never from a CDN, and start without an inline script:
they work offline and behind a Content-Security-Policy that allows this API's own origin only
(``security.DOCS_CSP``). Swagger UI's "Authorize" signs in with the OAuth2 password flow the
OpenAPI document declares (``/api/v1/auth/token``); no redirect page is needed for that flow.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

DOCS_PATH = "/docs"
REDOC_PATH = "/redoc"
ASSETS_PATH = "/docs/assets"
STATIC_DIR = Path(__file__).with_name("static")


def install_docs_pages(app: FastAPI, openapi_url: str) -> frozenset[str]:
    """Serve the two pages and their assets; the pages' paths (they get the docs' policy)."""
    title = escape(app.title)
    spec = escape(openapi_url, quote=True)
    swagger = _page(
        f"{title} - Swagger UI",
        head=[
            f'<link rel="stylesheet" href="{ASSETS_PATH}/swagger-ui/swagger-ui.css">',
        ],
        body=[
            f'<div id="swagger-ui" data-openapi-url="{spec}"></div>',
            f'<script src="{ASSETS_PATH}/swagger-ui/swagger-ui-bundle.js"></script>',
            f'<script src="{ASSETS_PATH}/swagger-init.js"></script>',
        ],
    )
    redoc = _page(
        f"{title} - ReDoc",
        head=[],
        body=[
            f'<redoc spec-url="{spec}"></redoc>',
            f'<script src="{ASSETS_PATH}/redoc/redoc.standalone.js"></script>',
        ],
    )

    @app.get(DOCS_PATH, include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return HTMLResponse(swagger)

    @app.get(REDOC_PATH, include_in_schema=False)
    async def redoc_page() -> HTMLResponse:
        return HTMLResponse(redoc)

    app.mount(ASSETS_PATH, StaticFiles(directory=STATIC_DIR), name="docs-assets")
    return frozenset({DOCS_PATH, REDOC_PATH})


def _page(title: str, *, head: list[str], body: list[str]) -> str:
    lines = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{title}</title>",
        f'<link rel="icon" type="image/png" href="{ASSETS_PATH}/swagger-ui/favicon-32x32.png">',
        *head,
        "</head>",
        "<body>",
        *body,
        "</body>",
        "</html>",
    ]
    return "\n".join(lines) + "\n"
