"""A shop on Stripe for the HTTP tests: the API configured with PAYMENT_PROVIDER=stripe, served
by uvicorn on 127.0.0.1 in front of localstripe (see ``tests/payments_fixtures.py``), with the
helpers its tests share and the environment of a CLI configured the same way.

- ``shop`` (each test): the API on a real port, empty tables but a mug at 10.00 EUR (50 on
  hand), a customer and staff signed in.
- ``orderly_receives_events``: localstripe posts its payment events to the API's event URL.
- ``cli_environment``: the variables `orderly ...` needs to act on the same database and the
  same localstripe (the test runs in an empty directory: no `.env`, no `orderly dev`).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import stripe
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly_core.shared.context import Role
from orderly_core.unit_of_work import Dependencies
from orderly_db.tables import outbox
from orderly_http.app import create_app
from orderly_http.routes.provider_events import STRIPE_EVENTS_PATH
from orderly_http.settings import HttpSettings
from tests.http.accounts import auth_settings, forget_login_failures, signed_in
from tests.http.helpers import listening, seed
from tests.payments_fixtures import SECRET_KEY, WEBHOOK_SECRET, LocalStripe, StripeEventReceiver

ORDERS = "/api/v1/orders"
SUCCEEDED = "payment_intent.succeeded"
FAILED = "payment_intent.payment_failed"
ORDERLY_ENDPOINT = "orderly-api"
# Registering the endpoint again for an event that never happens silences it (localstripe
# keeps endpoints for the whole session and cannot remove one).
NO_EVENT = ["orderly.tests.nothing"]


def stripe_settings(database_url: str, redis_url: str, localstripe: LocalStripe) -> HttpSettings:
    return auth_settings(
        database_url,
        redis_url,
        payment_provider="stripe",
        stripe_secret_key=SECRET_KEY,
        stripe_webhook_secret=WEBHOOK_SECRET,
        stripe_api_base=localstripe.url,
        log_level="DEBUG",  # every line the API could write is checked for secrets
    )


@dataclass(frozen=True)
class Shop:
    client: httpx.AsyncClient  # the API, on a real port
    engine: AsyncEngine
    deps: Dependencies
    customer: dict[str, str]
    staff: dict[str, str]
    localstripe: LocalStripe
    events: StripeEventReceiver  # the tests' receiver of every localstripe event

    def stripe(self) -> stripe.StripeClient:
        """Stripe's SDK pointed at localstripe, to look at what Orderly left there."""
        return stripe.StripeClient(
            SECRET_KEY,
            base_addresses={"api": self.localstripe.url},
            http_client=stripe.RequestsClient(timeout=10),
        )


@pytest_asyncio.fixture(loop_scope="session")
async def shop(
    *,
    database_url: str,
    redis_url: str,
    clean_engine: AsyncEngine,
    pg_deps: Dependencies,
    localstripe: LocalStripe,
    stripe_events: StripeEventReceiver,
) -> AsyncIterator[Shop]:
    """A shop on Stripe (localstripe), served on 127.0.0.1, that Stripe's events do not reach
    yet (see ``orderly_receives_events``); a mug at 10.00 EUR, a customer and staff."""
    forget_login_failures(redis_url)
    app = create_app(stripe_settings(database_url, redis_url, localstripe))
    async with listening(app) as client:
        await seed(pg_deps, "MUG-1", unit_price=1000, on_hand=50)
        _, customer = await signed_in(client, pg_deps, "ann@example.com")
        _, staff = await signed_in(client, pg_deps, "stan@example.com", Role.STAFF)
        yield Shop(client, clean_engine, pg_deps, customer, staff, localstripe, stripe_events)


@pytest.fixture
def orderly_receives_events(shop: Shop) -> Iterator[None]:
    """localstripe posts the payment events to the API's event URL, as a shop registers it
    in Stripe; silenced afterwards."""
    url = f"{shop.client.base_url}{STRIPE_EVENTS_PATH}"
    shop.localstripe.register_webhook(ORDERLY_ENDPOINT, url, WEBHOOK_SECRET, [SUCCEEDED, FAILED])
    try:
        yield
    finally:
        shop.localstripe.register_webhook(ORDERLY_ENDPOINT, url, WEBHOOK_SECRET, NO_EVENT)


# --- helpers ---------------------------------------------------------------------------------


def keyed(headers: dict[str, str], key: str | None = None) -> dict[str, str]:
    return headers | {"Idempotency-Key": key or uuid.uuid4().hex}


async def start(shop: Shop, at: str, key: str | None = None) -> dict[str, Any]:
    """The customer starts paying the order: the payment, with its client secret."""
    started = await shop.client.post(f"{at}/payments", headers=keyed(shop.customer, key))
    assert started.status_code == 201, started.text
    body: dict[str, Any] = started.json()
    return body


async def order_of(shop: Shop, at: str) -> dict[str, Any]:
    response = await shop.client.get(at, headers=shop.customer)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def payments_of(shop: Shop, at: str) -> list[dict[str, Any]]:
    response = await shop.client.get(f"{at}/payments", headers=shop.customer)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def eventually(shop: Shop, at: str, payment_status: str, within_s: float = 15) -> None:
    """Wait until the order's last payment has ``payment_status`` (Stripe's event applied)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if (await payments_of(shop, at))[-1]["status"] == payment_status:
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"the payment of {at} is not {payment_status} after {within_s} s")


async def outbox_types(shop: Shop) -> list[str]:
    async with shop.engine.connect() as connection:
        rows = await connection.execute(select(outbox.c.type).order_by(outbox.c.position))
    return [row.type for row in rows]


def order_id(at: str) -> str:
    return at.rsplit("/", 1)[-1]


@pytest.fixture
def cli_environment(
    database_url: str, redis_url: str, localstripe: LocalStripe, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, str]:  # fmt: skip
    monkeypatch.chdir(tmp_path)  # no `.env`, no `orderly dev` here
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "PAYMENT_PROVIDER": "stripe",
        "STRIPE_SECRET_KEY": SECRET_KEY,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STRIPE_API_BASE": localstripe.url,
    }
