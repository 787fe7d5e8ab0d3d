"""Helpers shared by the HTTP tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI
from returns.pipeline import is_successful

from orderly_core.catalogue.model import Product
from orderly_core.catalogue.use_cases import NewProduct, create_product
from orderly_core.context import Actor, Context
from orderly_core.ports import Dependencies
from orderly_http.settings import HttpSettings

OPERATOR = Context(Actor.operator("test"), "req-seed")


def settings_for(database_url: str, redis_url: str) -> HttpSettings:
    return HttpSettings(database_url=database_url, redis_url=redis_url, log_format="json")


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
    result = await create_product(deps, OPERATOR, new)
    assert is_successful(result), result
    return result.unwrap()


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
