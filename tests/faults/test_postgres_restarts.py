"""Orders placed by retrying clients through the real API while PostgreSQL restarts twice
and then stays stopped for seconds: every acknowledged order exists exactly once, stock
agrees with its ledger, and clients meet only 503 (with ``Retry-After``) or 409
``request_in_flight``, never a 500 (item 17)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly_cli.embedded import EmbeddedPostgres, start_postgres
from orderly_db.tables import orders, products, stock_movements
from orderly_db.unit_of_work import sql_dependencies
from orderly_http.app import create_app
from tests.db_fixtures import FAST_PASSWORDS
from tests.http.accounts import auth_settings, forget_login_failures, signed_in
from tests.http.helpers import listening, seed

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

CLIENTS = 6
STOPPED_S = 3.0
GIVE_UP_S = 30.0  # a client retries one order this long at most
ALLOWED = {200, 201, 409, 503}


async def _outages(pg: EmbeddedPostgres) -> None:
    """Two fast restarts, then a stop of a few seconds, while the clients place orders."""
    for _ in range(2):
        await asyncio.sleep(0.8)
        await asyncio.to_thread(pg.restart)
    await asyncio.sleep(0.8)
    await asyncio.to_thread(pg.stop)
    await asyncio.sleep(STOPPED_S)
    await asyncio.to_thread(start_postgres, pg.data_dir)
    await asyncio.sleep(1.0)  # orders go through again before the clients stop


async def _place(
    client: httpx.AsyncClient, headers: dict[str, str], key: str, seen: Counter[int | str]
) -> str:
    """Place one order, retrying with the same key until it is acknowledged."""
    deadline = time.monotonic() + GIVE_UP_S
    while True:
        assert time.monotonic() < deadline, f"order {key} never acknowledged: {seen}"
        try:
            answer = await client.post(
                "/api/v1/orders",
                json={"lines": [{"sku": "MUG-1", "quantity": 1}]},
                headers=headers | {"Idempotency-Key": key},
                timeout=15,
            )
        except httpx.TransportError as error:
            seen[type(error).__name__] += 1
            await asyncio.sleep(0.1)
            continue
        seen[answer.status_code] += 1
        assert answer.status_code in ALLOWED, answer.text
        if answer.status_code in (200, 201):
            order_id: str = answer.json()["id"]
            return order_id
        if answer.status_code == 503:
            assert answer.headers["Retry-After"], answer.headers
        else:
            assert answer.json()["code"] == "request_in_flight", answer.text
        await asyncio.sleep(0.1)


async def test_orders_placed_through_postgresql_restarts_and_a_stop_hold_every_invariant(
    fault_engine: AsyncEngine, fault_postgres: EmbeddedPostgres, redis_url: str
) -> None:
    forget_login_failures(redis_url)
    deps = sql_dependencies(fault_engine, passwords=FAST_PASSWORDS)
    await seed(deps, "MUG-1", on_hand=1_000_000)
    # One customer places every order of the run, and pays none.
    settings = auth_settings(
        fault_postgres.url("orderly_faults"), redis_url, max_open_unpaid_orders=1000
    )
    app = create_app(settings)
    seen: Counter[int | str] = Counter()
    acknowledged: dict[str, str] = {}  # idempotency key -> order id

    async with listening(app) as client:
        _, customer = await signed_in(client, deps, "ann@example.com")
        outages = asyncio.create_task(_outages(fault_postgres))

        async def placing(n: int) -> None:
            number = 0
            while not outages.done():
                key = f"fault-{n}-{number}-{uuid.uuid4().hex[:6]}"
                acknowledged[key] = await _place(client, customer, key, seen)
                number += 1

        await asyncio.gather(outages, *(placing(n) for n in range(CLIENTS)))

    print(f"answers by status: {dict(seen)}; orders acknowledged: {len(acknowledged)}")  # noqa: T201
    assert set(seen) <= ALLOWED | {"ReadError", "RemoteProtocolError", "ConnectError"}
    assert 500 not in seen
    async with fault_engine.connect() as connection:
        stored = list((await connection.execute(select(orders.c.id))).scalars())
        product = (
            await connection.execute(select(products).where(products.c.sku == "MUG-1"))
        ).one()
        ledger = (
            await connection.execute(
                select(
                    func.sum(stock_movements.c.on_hand_delta),
                    func.sum(stock_movements.c.reserved_delta),
                ).where(stock_movements.c.sku == "MUG-1")
            )
        ).one()
    assert len(stored) == len(set(stored))
    assert {str(order_id) for order_id in stored} == set(acknowledged.values())  # no phantom
    assert len(set(acknowledged.values())) == len(acknowledged)  # one order per key
    assert (product.on_hand, product.reserved) == (1_000_000, len(acknowledged))
    assert (ledger[0], ledger[1]) == (product.on_hand, product.reserved)
