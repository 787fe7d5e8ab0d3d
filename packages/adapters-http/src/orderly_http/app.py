"""The FastAPI application factory: ``uvicorn orderly_http.app:create_app --factory``.

Nothing is built at import time. The factory reads and validates the settings; the lifespan
configures logging, opens the engine and the Redis client, and closes them at shutdown.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version

from fastapi import FastAPI

from orderly_core.log import configure_logging
from orderly_core.ports import Dependencies
from orderly_http.container import open_resources
from orderly_http.middleware import RequestIdMiddleware
from orderly_http.openapi import API_DESCRIPTION, openapi_builder
from orderly_http.problems import install_problem_handlers
from orderly_http.routes import health, products
from orderly_http.settings import HttpSettings, http_settings

OPENAPI_TAGS = [
    {"name": "products", "description": "The catalogue and its stock levels. Public reads."},
    {"name": "health", "description": "Liveness and readiness probes."},
]


def create_app(
    settings: HttpSettings | None = None, *, dependencies: Dependencies | None = None
) -> FastAPI:
    """Build the API. ``dependencies`` replaces the PostgreSQL-backed ones (for tests)."""
    settings = settings if settings is not None else http_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.log_format, settings.log_level)
        async with open_resources(settings, dependencies) as resources:
            app.state.resources = resources
            try:
                yield
            finally:
                del app.state.resources

    docs = settings.docs_enabled
    app = FastAPI(
        title="Orderly",
        version=version("orderly-http"),
        description=API_DESCRIPTION,
        openapi_tags=OPENAPI_TAGS,
        openapi_url="/openapi.json" if docs else None,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        lifespan=lifespan,
    )
    app.openapi = openapi_builder(app)  # type: ignore[method-assign]
    install_problem_handlers(app)
    app.include_router(products.router)
    app.include_router(health.router)
    # Added last, so it is the outermost of the app's middleware and sees every response.
    app.add_middleware(RequestIdMiddleware)
    return app
