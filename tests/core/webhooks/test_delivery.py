"""Relaying events and attempting deliveries, on the fakes and on PostgreSQL, with an in-memory
queue and a scripted receiver (the worker's tests use Redis and a real receiver)."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from returns.pipeline import is_successful

from orderly_core.orders.placement import LineRequest, NewOrder, place_order
from orderly_core.orders.steps import OrderStep
from orderly_core.platform.outbox import EventType
from orderly_core.shared.context import Actor, Context
from orderly_core.testing import FixedClock, InMemoryJobQueue, ScriptedSender
from orderly_core.unit_of_work import Dependencies
from orderly_core.webhooks.deliveries import redeliver
from orderly_core.webhooks.delivery import (
    attempt_delivery,
    relay_events,
    sweep_deliveries,
)
from orderly_core.webhooks.model import Delivery, DeliveryState
from orderly_core.webhooks.policy import WebhookPolicy
from orderly_core.webhooks.signing import InvalidSignature, new_secret, verify
from tests.core.helpers import ANN, STAFF, fresh, make_product, ok, pay_order
from tests.core.webhooks.helpers import add_endpoint

SYSTEM = Context(Actor.system("worker"), "req-worker")
SCHEDULE = (timedelta(seconds=10), timedelta(seconds=60))


@pytest.fixture
def shop(deps: Dependencies, clock: FixedClock) -> Dependencies:
    policy = WebhookPolicy(retry_schedule=SCHEDULE, disable_after=timedelta(minutes=5))
    return replace(deps, clock=clock, webhooks=policy)


async def place(deps: Dependencies, request_id: str = "req-place") -> uuid.UUID:
    new = NewOrder((LineRequest("MUG-1", 1),))
    placed = fresh(await place_order(deps, Context(ANN, request_id), new))
    return placed.order.id


async def delivery(deps: Dependencies, delivery_id: uuid.UUID) -> Delivery:
    async with deps.unit_of_work() as uow:
        found = await uow.deliveries.get(delivery_id)
    assert found is not None
    return found


def delivery_id_of(queue: InMemoryJobQueue, index: int = -1) -> uuid.UUID:
    return uuid.UUID(str(queue.jobs[index].payload["delivery_id"]))


async def test_relay_makes_one_delivery_per_subscribed_endpoint_and_queues_it(
    shop: Dependencies,
) -> None:
    await make_product(shop, "MUG-1", on_hand=10)
    placed_hook = await add_endpoint(shop, EventType.ORDER_PLACED)
    await add_endpoint(shop, EventType.ORDER_SHIPPED)  # not interested
    order_id = await place(shop)
    fresh(await pay_order(shop, Context(STAFF, "req-pay"), OrderStep(str(order_id))))
    queue = InMemoryJobQueue()

    report = ok(await relay_events(shop, SYSTEM, queue))
    again = ok(await relay_events(shop, SYSTEM, queue))

    assert (report.events, report.deliveries) == (3, 1)  # placed, payment.succeeded, paid
    assert (again.events, again.deliveries) == (0, 0)
    [job] = queue.jobs
    sent = await delivery(shop, delivery_id_of(queue))
    async with shop.unit_of_work() as uow:
        event = await uow.outbox.get(sent.event_id)
    assert event is not None
    assert event.type is EventType.ORDER_PLACED
    assert job.name == "deliver_webhook"
    assert str(event.id) in job.job_id  # the outbox row names the job
    assert job.payload["request_id"] == "req-place"
    assert (sent.endpoint_id, sent.state, sent.attempts) == (
        placed_hook.id,
        DeliveryState.PENDING,
        0,
    )


async def test_an_unreachable_queue_leaves_the_deliveries_for_the_sweep(
    shop: Dependencies,
) -> None:
    await make_product(shop, "MUG-1", on_hand=10)
    await add_endpoint(shop)
    await place(shop)
    queue = InMemoryJobQueue()
    queue.down = True

    with pytest.raises(ConnectionError):
        await relay_events(shop, SYSTEM, queue)
    queue.down = False
    again = ok(await relay_events(shop, SYSTEM, queue))
    swept = ok(await sweep_deliveries(shop, SYSTEM, queue))

    assert (again.events, again.deliveries) == (0, 0)  # handed on once, by the first relay
    assert (swept, len(queue.jobs)) == (1, 1)
    assert ok(await sweep_deliveries(shop, SYSTEM, queue)) == 0  # now noted queued


async def test_a_job_is_queued_only_once_its_delivery_is_committed(shop: Dependencies) -> None:
    await make_product(shop, "MUG-1", on_hand=10)
    await add_endpoint(shop)
    await place(shop)
    seen: list[Delivery | None] = []

    class LookingQueue(InMemoryJobQueue):
        async def enqueue(self, name: str, payload: Any, job_id: str, **kwargs: Any) -> bool:
            found = await delivery_or_none(shop, uuid.UUID(str(payload["delivery_id"])))
            seen.append(found)
            return await super().enqueue(name, payload, job_id, **kwargs)

    ok(await relay_events(shop, SYSTEM, LookingQueue()))

    assert len(seen) == 1
    assert seen[0] is not None


async def delivery_or_none(deps: Dependencies, delivery_id: uuid.UUID) -> Delivery | None:
    async with deps.unit_of_work() as uow:
        return await uow.deliveries.get(delivery_id)


async def test_a_delivery_is_signed_and_recorded_delivered_once(shop: Dependencies) -> None:
    await make_product(shop, "MUG-1", on_hand=10)
    hook = await add_endpoint(shop)
    order_id = await place(shop, "req-abc")
    queue, receiver = InMemoryJobQueue(), ScriptedSender([200])
    ok(await relay_events(shop, SYSTEM, queue))
    delivery_id = delivery_id_of(queue)

    report = ok(await attempt_delivery(shop, SYSTEM, delivery_id, receiver, queue, attempt=1))
    rerun = ok(await attempt_delivery(shop, SYSTEM, delivery_id, receiver, queue, attempt=1))

    assert report.sent
    assert not rerun.sent
    [(url, body, headers)] = receiver.sent
    assert url == hook.url
    now = int(shop.clock.now().timestamp())
    verify(hook.secret, headers, body, now=now)
    with pytest.raises(InvalidSignature):
        verify(hook.secret, headers, body.replace(b"placed", b"paid!!"), now=now)
    with pytest.raises(InvalidSignature):
        verify(new_secret(), headers, body, now=now)
    envelope = json.loads(body)
    assert envelope["type"] == "order.placed"
    assert envelope["request_id"] == "req-abc"
    assert envelope["subject"] == f"order:{order_id}"
    assert (envelope["sequence"], envelope["data"]["id"]) == (1, str(order_id))
    assert headers["webhook-id"] == envelope["id"]
    done = await delivery(shop, delivery_id)
    assert (done.state, done.attempts, done.last_status) == (DeliveryState.DELIVERED, 1, 200)
    async with shop.unit_of_work() as uow:
        attempts = await uow.deliveries.attempts(delivery_id)
        assert await uow.outbox.claim(10) == []
    assert [(a.number, a.status, a.error) for a in attempts] == [(1, 200, None)]


async def test_failures_are_retried_on_the_schedule_then_delivered(
    shop: Dependencies, clock: FixedClock
) -> None:
    await make_product(shop, "MUG-1", on_hand=10)
    await add_endpoint(shop)
    await place(shop)
    queue, receiver = InMemoryJobQueue(), ScriptedSender([500, None, 204])
    ok(await relay_events(shop, SYSTEM, queue))
    delivery_id = delivery_id_of(queue)

    for attempt, wait in ((1, SCHEDULE[0]), (2, SCHEDULE[1])):
        started = clock.now()
        ok(await attempt_delivery(shop, SYSTEM, delivery_id, receiver, queue, attempt=attempt))
        retry = queue.jobs[-1]
        assert retry.payload["attempt"] == attempt + 1
        assert retry.defer_until is not None
        assert wait * 0.9 <= retry.defer_until - started <= wait * 1.1
        early = ok(
            await attempt_delivery(shop, SYSTEM, delivery_id, receiver, queue, attempt=attempt)
        )
        assert not early.sent  # a leftover job of an attempt already made sends nothing
        clock.current = retry.defer_until
    ok(await attempt_delivery(shop, SYSTEM, delivery_id, receiver, queue, attempt=3))

    done = await delivery(shop, delivery_id)
    assert (done.state, done.attempts) == (DeliveryState.DELIVERED, 3)
    async with shop.unit_of_work() as uow:
        attempts = await uow.deliveries.attempts(delivery_id)
    assert [(a.status, a.error) for a in attempts] == [
        (500, "HTTP 500"),
        (None, "connection refused"),
        (204, None),
    ]
    assert len(receiver.sent) == 3
    assert len({headers["webhook-id"] for _, _, headers in receiver.sent}) == 1


async def test_after_the_last_attempt_the_delivery_is_dead_and_the_endpoint_disabled(
    shop: Dependencies, clock: FixedClock
) -> None:
    await make_product(shop, "MUG-1", on_hand=10)
    hook = await add_endpoint(shop)
    await place(shop)
    queue, receiver = InMemoryJobQueue(), ScriptedSender([503] * 10)
    ok(await relay_events(shop, SYSTEM, queue))
    delivery_id = delivery_id_of(queue)

    for attempt in (1, 2, 3):
        ok(await attempt_delivery(shop, SYSTEM, delivery_id, receiver, queue, attempt=attempt))
        clock.advance(timedelta(minutes=3))

    dead = await delivery(shop, delivery_id)
    assert (dead.state, dead.attempts, dead.next_attempt_at) == (DeliveryState.DEAD, 3, None)
    assert len(queue.jobs) == 3  # the first and two retries: nothing after the last
    async with shop.unit_of_work() as uow:
        endpoint = await uow.endpoints.get(hook.id)
        assert await uow.outbox.claim(10) == []
    assert endpoint is not None
    assert not endpoint.active
    assert endpoint.disabled_reason is not None
    assert "HTTP 503" in endpoint.disabled_reason


async def test_the_sweep_queues_again_what_the_queue_lost(
    shop: Dependencies, clock: FixedClock
) -> None:
    await make_product(shop, "MUG-1", on_hand=10)
    await add_endpoint(shop)
    await place(shop)
    lost = InMemoryJobQueue()
    ok(await relay_events(shop, SYSTEM, lost))  # queued, then Redis restarts empty
    queue, receiver = InMemoryJobQueue(), ScriptedSender()

    grace = timedelta(seconds=30)
    assert ok(await sweep_deliveries(shop, SYSTEM, queue, grace=grace)) == 0  # not overdue yet
    clock.advance(timedelta(minutes=1))
    assert ok(await sweep_deliveries(shop, SYSTEM, queue)) == 0  # only due, never-queued ones
    assert ok(await sweep_deliveries(shop, SYSTEM, queue, grace=grace)) == 1
    [job] = queue.jobs
    assert job.job_id != lost.jobs[0].job_id
    ok(await attempt_delivery(shop, SYSTEM, delivery_id_of(queue), receiver, queue, attempt=1))
    assert (await delivery(shop, delivery_id_of(queue))).state is DeliveryState.DELIVERED
    assert ok(await sweep_deliveries(shop, SYSTEM, queue, grace=grace)) == 0


async def test_a_rotated_secret_signs_beside_the_new_one_during_the_overlap(
    shop: Dependencies, clock: FixedClock
) -> None:
    await make_product(shop, "MUG-1", on_hand=10)
    hook = await add_endpoint(shop)
    old = hook.secret
    rotated = replace(
        hook,
        secret=new_secret(),
        previous_secret=old,
        previous_secret_until=clock.now() + timedelta(hours=1),
    )
    async with shop.unit_of_work() as uow:
        await uow.endpoints.save(rotated)
        await uow.commit()
    await place(shop)
    queue, receiver = InMemoryJobQueue(), ScriptedSender()
    ok(await relay_events(shop, SYSTEM, queue))

    ok(await attempt_delivery(shop, SYSTEM, delivery_id_of(queue), receiver, queue))

    [(_, body, headers)] = receiver.sent
    assert len(headers["webhook-signature"].split()) == 2
    now = int(clock.now().timestamp())
    verify(old, headers, body, now=now)
    verify(rotated.secret, headers, body, now=now)


async def test_only_orderly_itself_or_an_operator_relays(shop: Dependencies) -> None:
    result = await relay_events(shop, Context(ANN, "r"), InMemoryJobQueue())
    assert not is_successful(result)


@pytest.mark.postgres
@pytest.mark.parametrize("deps", ["postgres"], indirect=True)
async def test_two_relays_at_once_never_hand_on_the_same_event(shop: Dependencies) -> None:
    shop = replace(shop, max_open_unpaid_orders=30)  # one customer's 30 unpaid orders
    await make_product(shop, "MUG-1", on_hand=100)
    await add_endpoint(shop)
    for n in range(30):
        await place(shop, f"req-{n}")

    class SlowQueue(InMemoryJobQueue):
        async def enqueue(self, *args: Any, **kwargs: Any) -> bool:
            await asyncio.sleep(0.005)  # both relays hold their claims at once
            return await super().enqueue(*args, **kwargs)

    queue = SlowQueue()
    reports = await asyncio.gather(
        relay_events(shop, SYSTEM, queue, batch=20), relay_events(shop, SYSTEM, queue, batch=20)
    )

    handed = [ok(report).events for report in reports]
    # How the 30 events split depends on which rows each claim locked first; together they
    # hand on every event exactly once.
    assert sum(handed) == 30
    assert all(count <= 20 for count in handed)
    assert len({job.job_id for job in queue.jobs}) == len(queue.jobs) == 30


async def test_a_redelivery_is_queued_at_the_next_wake_up_and_sent_again(
    shop: Dependencies,
) -> None:
    await make_product(shop, "MUG-1", on_hand=10)
    await add_endpoint(shop)
    await place(shop)
    queue, receiver = InMemoryJobQueue(), ScriptedSender()
    ok(await relay_events(shop, SYSTEM, queue))
    first = delivery_id_of(queue)
    ok(await attempt_delivery(shop, SYSTEM, first, receiver, queue, attempt=1))

    again = fresh(await redeliver(shop, Context(Actor.operator("alice"), "req-again"), str(first)))
    queued = ok(await sweep_deliveries(shop, SYSTEM, queue))
    ok(await attempt_delivery(shop, SYSTEM, delivery_id_of(queue), receiver, queue, attempt=1))

    assert queued == 1
    assert delivery_id_of(queue) == again.id
    assert (await delivery(shop, again.id)).state is DeliveryState.DELIVERED
    assert ok(await sweep_deliveries(shop, SYSTEM, queue)) == 0
    [(_, body_1, headers_1), (_, body_2, headers_2)] = receiver.sent
    assert headers_1["webhook-id"] == headers_2["webhook-id"]
    assert body_1 == body_2
