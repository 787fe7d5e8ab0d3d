"""Helpers shared by the HTTP tests."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from orderly_core.catalogue.model import Product
from orderly_core.catalogue.use_cases import NewProduct, create_product
from orderly_core.shared.context import Actor, Context
from orderly_core.unit_of_work import Dependencies
from orderly_http.settings import HttpSettings
from tests.core.helpers import fresh

OPERATOR = Context(Actor.operator("test"), "req-seed")
CSV_HEADER = b"sku,name,description,price,currency,on_hand\n"
PRODUCTS_CSV = CSV_HEADER + b"mug-1,Mug,,12.50,EUR,4\nTEE-1,Shirt,,20,EUR,\n"


# Every HTTP test signs up from 127.0.0.1 into one Redis: the sign-up limit is the tests'
# own business (tests/http/test_abuse_limits.py), not every test's.
SIGN_UPS_OF_THE_SUITE = 10_000


def settings_for(database_url: str, redis_url: str) -> HttpSettings:
    return HttpSettings(
        database_url=database_url,
        redis_url=redis_url,
        log_format="json",
        signup_max_per_address=SIGN_UPS_OF_THE_SUITE,
    )


def upload(content: bytes = PRODUCTS_CSV) -> dict[str, tuple[str, bytes, str]]:
    """The ``files`` of a product import request: ``content`` as ``products.csv``."""
    return {"file": ("products.csv", content, "text/csv")}


@asynccontextmanager
async def serving(
    app: FastAPI, *, raise_app_exceptions: bool = True
) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan and give a client talking to it in-process."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://test") as client,
    ):
        yield client


@asynccontextmanager
async def listening(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Serve the app with uvicorn on a free port of 127.0.0.1 and give a client of it: real
    sockets and real concurrency between requests, as in production."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="on"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()  # raises why the server could not start
            await asyncio.sleep(0.01)
        limits = httpx.Limits(max_connections=250, max_keepalive_connections=250)
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=60
        ) as client:
            yield client
    finally:
        server.should_exit = True
        await task


async def seed(
    deps: Dependencies,
    sku: str,
    *,
    name: str | None = None,
    unit_price: int = 1000,
    currency: str = "EUR",
    description: str = "",
    on_hand: int = 0,
) -> Product:
    """Create a product through the core, as an operator at the CLI would."""
    new = NewProduct(
        sku=sku,
        name=name or f"Product {sku}",
        unit_price=unit_price,
        currency=currency,
        description=description,
        on_hand=on_hand,
    )
    return fresh(await create_product(deps, OPERATOR, new))


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The response is an RFC 9457 problem with this status and code; returns its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert isinstance(body["title"], str)
    assert body["title"]
    assert isinstance(body["detail"], str)
    assert body["detail"]
    assert body["request_id"] == response.headers["x-request-id"]
    return body
