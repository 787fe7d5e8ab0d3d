"""The FastAPI application factory: ``uvicorn orderly_http.app:create_app --factory``.

Nothing is built at import time. The factory reads and validates the settings and turns
tracing on when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set; the lifespan configures logging, opens
the engine and the Redis client, and closes them at shutdown. ``GET /metrics`` serves the
Prometheus metrics (docs/observability.md).
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version
from typing import Any

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp

from orderly_core.unit_of_work import Dependencies
from orderly_db.log import configure_logging
from orderly_http.auth import SIGNED_IN
from orderly_http.container import open_resources
from orderly_http.docs_pages import install_docs_pages
from orderly_http.middleware import (
    BodyLimitMiddleware,
    ErrorBoundaryMiddleware,
    RequestIdMiddleware,
    SecurityHeadersMiddleware,
)
from orderly_http.openapi import API_DESCRIPTION, openapi_builder, require_operation_ids
from orderly_http.problems import install_problem_handlers, problem_responses
from orderly_http.routes import (
    audit,
    auth,
    health,
    imports,
    jobs,
    mail,
    orders,
    payments,
    product_writes,
    products,
    provider_events,
    reports,
    returns,
    shipments,
    shipping_rates,
    stock,
    users,
    webhooks,
)
from orderly_http.routes.provider_events import MAX_EVENT_BYTES, STRIPE_EVENTS_PATH
from orderly_http.security import AllowListCors, SecurityPolicy
from orderly_http.settings import HttpSettings, http_settings
from orderly_telemetry.exposition import forget_dead_processes, render
from orderly_telemetry.tracing import configure_tracing, tracing_enabled

METRICS_PATH = "/metrics"
# Probes and scrapes make no spans: they would bury the traces of real requests.
_UNTRACED = "/health,/ready,/metrics"
# Product imports upload whole CSV files: they get MAX_IMPORT_BYTES instead of MAX_BODY_BYTES.
IMPORT_PATH = "/api/v1/products/imports"

OPENAPI_TAGS = [
    {
        "name": "products",
        "description": "The catalogue and its stock levels. Reads are public; writes need a "
        "staff or admin account.",
    },
    {
        "name": "auth",
        "description": "Signing in (OAuth2 password flow: use Authorize in /docs), refreshing "
        "and signing out.",
    },
    {"name": "users", "description": "Signing up, your own account, and user administration."},
    {
        "name": "audit",
        "description": "Who changed what, when, under which request: the audit trail of "
        "every write (admins).",
    },
    {
        "name": "webhooks",
        "description": "Endpoints that receive Orderly's events, signed, their secrets, "
        "deliveries, redeliveries and replays (admins).",
    },
    {
        "name": "jobs",
        "description": "Background work: product imports, and the record of every job Orderly "
        "runs (imports, webhook deliveries, scheduled runs), with retries of the failed and "
        "the dead (staff and admins).",
    },
    {
        "name": "orders",
        "description": "Placing orders (with an Idempotency-Key), reading them, and paying, "
        "shipping, delivering and cancelling them.",
    },
    {
        "name": "reports",
        "description": "Daily sales summaries: orders, revenue per currency, top SKUs "
        "(staff and admins).",
    },
    {
        "name": "shipping",
        "description": "The shop's shipping rates: admins define what each way of shipping "
        "costs, where it ships and from which subtotal it is free; orders choose one.",
    },
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
        forget_dead_processes()
        async with open_resources(settings, dependencies) as resources:
            app.state.resources = resources
            # Everything built so far (modules, routes, schemas, the engine) lives as long as
            # the process: moved out of the collector's sight, it is not scanned again by
            # each full collection, which would otherwise pause requests for milliseconds.
            gc.freeze()
            try:
                yield
            finally:
                del app.state.resources

    docs = settings.docs_enabled
    app = _SecuredFastAPI(
        title="Orderly",
        version=version("orderly-http"),
        description=API_DESCRIPTION,
        openapi_tags=OPENAPI_TAGS,
        openapi_url="/openapi.json" if docs else None,
        docs_url=None,  # served from the package's own assets: see orderly_http.docs_pages
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
        lifespan=lifespan,
    )
    docs_paths = install_docs_pages(app, "/openapi.json") if docs else frozenset()
    app.security_policy = SecurityPolicy(
        docs_paths=docs_paths,
        hsts_max_age_s=settings.hsts_max_age_s if settings.hsts_enabled else None,
    )
    app.openapi = openapi_builder(app)  # type: ignore[method-assign]
    install_problem_handlers(app)
    # A request is matched against the routes one by one, in this order, which costs a few
    # microseconds per route passed. No two routers serve the same path, so the order only
    # decides how soon a request finds its route: the busiest come first.
    app.include_router(orders.router, dependencies=SIGNED_IN, responses=problem_responses(401))
    app.include_router(products.router)
    app.include_router(payments.router, dependencies=SIGNED_IN, responses=problem_responses(401))
    # Called by Stripe, which signs its events instead of signing in: no bearer token.
    app.include_router(provider_events.router)
    app.include_router(imports.router, dependencies=SIGNED_IN)
    app.include_router(jobs.router, dependencies=SIGNED_IN)
    app.include_router(
        product_writes.router, dependencies=SIGNED_IN, responses=problem_responses(401)
    )
    app.include_router(stock.router, dependencies=SIGNED_IN)
    app.include_router(auth.router)
    app.include_router(users.router)
    app.include_router(audit.router, dependencies=SIGNED_IN)
    app.include_router(reports.router, dependencies=SIGNED_IN)
    app.include_router(webhooks.router, dependencies=SIGNED_IN, responses=problem_responses(401))
    app.include_router(mail.router, dependencies=SIGNED_IN, responses=problem_responses(401))
    app.include_router(shipping_rates.router, dependencies=SIGNED_IN)
    app.include_router(returns.router, dependencies=SIGNED_IN, responses=problem_responses(401))
    app.include_router(shipments.router, dependencies=SIGNED_IN, responses=problem_responses(401))
    app.include_router(health.router)
    require_operation_ids(app)
    # Each one added wraps the ones before: see orderly_http.middleware for the order's reasons.
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        path_limits={
            IMPORT_PATH: settings.max_import_bytes,
            # Stripe's events are small: their URL, open to anyone, takes less.
            STRIPE_EVENTS_PATH: min(settings.max_body_bytes, MAX_EVENT_BYTES),
        },
    )
    app.add_middleware(ErrorBoundaryMiddleware)
    if settings.cors_origins:
        app.add_middleware(AllowListCors, origins=settings.cors_origins)
    app.add_middleware(RequestIdMiddleware)
    if settings.metrics_enabled:
        app.add_route(METRICS_PATH, _metrics, methods=["GET"], include_in_schema=False)
    configure_tracing("orderly-api", endpoint=settings.otel_exporter_otlp_endpoint)
    if tracing_enabled():
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        FastAPIInstrumentor.instrument_app(app, excluded_urls=_UNTRACED)
    return app


async def _metrics(request: Request) -> Response:
    """Prometheus metrics of the API (every process of it: see orderly_telemetry.exposition).
    Not in the OpenAPI document; unauthenticated, so kept from the public at the proxy."""
    body, media_type = await run_in_threadpool(render, request.headers.get("accept"))
    return Response(body, media_type=media_type)


class _SecuredFastAPI(FastAPI):
    """FastAPI with the security headers outside Starlette's last-resort error middleware, so
    that even its 500 carries them."""

    security_policy: SecurityPolicy

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.security_policy = SecurityPolicy()

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeadersMiddleware(super().build_middleware_stack(), self.security_policy)
