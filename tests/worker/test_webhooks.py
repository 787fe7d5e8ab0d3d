"""Webhooks end to end: an order committed in PostgreSQL reaches a real receiver on 127.0.0.1
through a real worker's delivery engine, signed, retried on failure, recorded once, and never
held up by another endpoint that hangs."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from dataclasses import replace

import pytest
from arq import ArqRedis
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly_core.orders.placement import LineRequest, NewOrder, place_order
from orderly_core.shared.context import Actor, Context, Role
from orderly_core.unit_of_work import Dependencies
from orderly_core.webhooks.model import DeliveryState, Endpoint
from orderly_core.webhooks.signing import InvalidSignature, verify
from orderly_db.unit_of_work import sql_dependencies
from tests.core.helpers import fresh, make_product
from tests.core.webhooks.helpers import add_endpoint
from tests.worker.helpers import stored_jobs, worker_running
from tests.worker.receiver import Receiver, receiving

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning"),
]

ORDERS = 8
ANN = Actor.user("00000000-0000-0000-0000-0000000000a1", Role.CUSTOMER)


async def shop(engine: AsyncEngine, receiver: Receiver) -> tuple[Dependencies, Endpoint]:
    deps = sql_dependencies(engine)
    await make_product(deps, on_hand=10)
    endpoint = await add_endpoint(deps, url=receiver.url)
    return deps, endpoint


async def place(deps: Dependencies, request_id: str) -> uuid.UUID:
    new = NewOrder((LineRequest("MUG-1", 1),))
    return fresh(await place_order(deps, Context(ANN, request_id), new)).order.id


async def test_a_placed_order_reaches_the_receiver_once_signed(
    webhook_env: dict[str, str], queue: ArqRedis, clean_engine: AsyncEngine
) -> None:
    with receiving() as receiver:
        deps, endpoint = await shop(clean_engine, receiver)
        async with worker_running():
            order_id = await place(deps, "req-checkout-1")
            [delivery] = await receiver.wait_for(1)
            await asyncio.sleep(0.5)  # nothing else arrives

        assert len(receiver.received) == 1
    now = int(time.time())
    verify(endpoint.secret, delivery.headers, delivery.body, now=now)
    tampered = delivery.body.replace(b'"quantity":1', b'"quantity":9')
    assert tampered != delivery.body
    with pytest.raises(InvalidSignature):
        verify(endpoint.secret, delivery.headers, tampered, now=now)
    envelope = json.loads(delivery.body)
    assert (envelope["type"], envelope["request_id"]) == ("order.placed", "req-checkout-1")
    assert envelope["data"]["id"] == str(order_id)
    assert delivery.headers["webhook-id"] == envelope["id"]
    async with deps.unit_of_work() as uow:
        recorded = await uow.deliveries.of_endpoint(endpoint.id, after=None, limit=10)
    assert [(d.state, d.attempts) for d in recorded] == [(DeliveryState.DELIVERED, 1)]


async def test_a_failing_receiver_gets_the_delivery_on_the_third_attempt(
    webhook_env: dict[str, str], queue: ArqRedis, clean_engine: AsyncEngine
) -> None:
    with receiving(statuses=[500, 500]) as receiver:
        deps, endpoint = await shop(clean_engine, receiver)
        async with worker_running():
            await place(deps, "req-checkout-2")
            arrived = await receiver.wait_for(3)
            await asyncio.sleep(0.5)
            for _ in range(50):  # the last attempt is recorded just after it arrived
                async with deps.unit_of_work() as uow:
                    found = await uow.deliveries.of_endpoint(endpoint.id, after=None, limit=1)
                if found[0].state is DeliveryState.DELIVERED:
                    break
                await asyncio.sleep(0.1)

        assert len(receiver.received) == 3
    assert len({d.headers["webhook-id"] for d in arrived}) == 1
    assert len({d.body for d in arrived}) == 1
    async with deps.unit_of_work() as uow:
        [delivery] = await uow.deliveries.of_endpoint(endpoint.id, after=None, limit=10)
        attempts = await uow.deliveries.attempts(delivery.id)
        saved = await uow.endpoints.get(endpoint.id)
    assert (delivery.state, delivery.attempts) == (DeliveryState.DELIVERED, 3)
    assert [(a.number, a.status) for a in attempts] == [(1, 500), (2, 500), (3, 200)]
    assert all(a.latency_ms >= 0 for a in attempts)
    assert saved == replace(endpoint, failing_since=None)
    assert await stored_jobs(clean_engine) == []  # deliveries are not jobs of the queue


async def test_every_line_about_a_delivery_names_the_request_behind_it(
    webhook_env: dict[str, str],
    queue: ArqRedis,
    clean_engine: AsyncEngine,
    job_logs: list[dict[str, object]],
) -> None:
    with receiving(statuses=[503]) as receiver:
        deps, _ = await shop(clean_engine, receiver)
        async with worker_running():
            await place(deps, "req-checkout-3")
            await receiver.wait_for(2)
            for _ in range(200):  # the second attempt is recorded just after it arrived
                if any(e["event"] == "webhook_delivered" for e in job_logs):
                    break
                await asyncio.sleep(0.05)

    lines = [e for e in job_logs if "delivery_id" in e]
    assert {e["event"] for e in lines} == {"webhook_attempt_failed", "webhook_delivered"}
    assert {e["request_id"] for e in lines} == {"req-checkout-3"}


async def test_an_endpoint_that_hangs_does_not_hold_up_another(
    webhook_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    queue: ArqRedis,
    clean_engine: AsyncEngine,
) -> None:
    monkeypatch.setenv("WORKER_DELIVERY_PER_ENDPOINT", "2")
    monkeypatch.setenv("WORKER_DELIVERY_TIMEOUT_S", "15")
    release = threading.Event()
    deps = sql_dependencies(clean_engine)
    deps = replace(deps, max_open_unpaid_orders=ORDERS)
    await make_product(deps, on_hand=ORDERS)
    with receiving(hold_all=release) as hanging, receiving() as fast:
        stuck = await add_endpoint(deps, url=hanging.url)
        await add_endpoint(deps, url=fast.url)
        async with worker_running():
            for n in range(ORDERS):
                await place(deps, f"req-isolated-{n}")
            arrived = await fast.wait_for(ORDERS)  # every one, while the other hangs
            held = len(hanging.received)
            release.set()
            await hanging.wait_for(ORDERS)

    assert len({d.headers["webhook-id"] for d in arrived}) == ORDERS
    assert held <= 2  # the hanging endpoint's share: two attempts under way at a time
    async with deps.unit_of_work() as uow:
        stuck_ones = await uow.deliveries.of_endpoint(stuck.id, after=None, limit=ORDERS)
    assert len(stuck_ones) == ORDERS
