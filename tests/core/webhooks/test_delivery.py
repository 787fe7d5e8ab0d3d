"""Relaying events, claiming, sending and recording deliveries, on the fakes and on PostgreSQL,
with a scripted receiver (the worker's tests use a real receiver)."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import replace
from datetime import timedelta

import pytest
from returns.pipeline import is_successful

from orderly_core.orders.placement import LineRequest, NewOrder, place_order
from orderly_core.orders.steps import OrderStep
from orderly_core.platform.outbox import EventType
from orderly_core.shared.context import Actor, Context
from orderly_core.testing import FixedClock, ScriptedSender
from orderly_core.unit_of_work import Dependencies
from orderly_core.webhooks.deliveries import redeliver
from orderly_core.webhooks.delivery import (
    Claimed,
    Room,
    claim_deliveries,
    delivery_id,
    record_deliveries,
    relay_events,
    send_delivery,
)
from orderly_core.webhooks.model import Delivery, DeliveryState, Endpoint
from orderly_core.webhooks.policy import WebhookPolicy
from orderly_core.webhooks.signing import InvalidSignature, new_secret, verify
from tests.core.helpers import ANN, STAFF, fresh, make_product, ok, pay_order
from tests.core.webhooks.helpers import a_delivery, add_endpoint, one_event

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


LEASE = timedelta(seconds=30)


async def claim(
    deps: Dependencies,
    *,
    limit: int = 100,
    per_endpoint: int = 100,
    under_way: dict[uuid.UUID, int] | None = None,
) -> list[Claimed]:
    room = Room(limit, per_endpoint, LEASE, under_way or {})
    return ok(await claim_deliveries(deps, SYSTEM, room))


async def deliver_due(deps: Dependencies, receiver: ScriptedSender) -> list[Delivery]:
    """One worker's round: claim what is due, send it, record the outcomes."""
    sent = [await send_delivery(deps, one, receiver) for one in await claim(deps)]
    return ok(await record_deliveries(deps, SYSTEM, sent)) if sent else []


async def test_relay_makes_one_delivery_per_subscribed_endpoint_due_at_once(
    shop: Dependencies,
) -> None:
    await make_product(shop, "MUG-1", on_hand=10)
    placed_hook = await add_endpoint(shop, EventType.ORDER_PLACED)
    await add_endpoint(shop, EventType.ORDER_SHIPPED)  # not interested
    order_id = await place(shop)
    fresh(await pay_order(shop, Context(STAFF, "req-pay"), OrderStep(str(order_id))))

    report = ok(await relay_events(shop, SYSTEM))
    again = ok(await relay_events(shop, SYSTEM))

    assert (report.events, report.deliveries) == (3, 1)  # placed, payment.succeeded, paid
    assert (again.events, again.deliveries) == (0, 0)
    [claimed] = await claim(shop)
    sent = claimed.delivery
    assert claimed.event.type is EventType.ORDER_PLACED
    assert claimed.event.request_id == "req-place"
    assert claimed.endpoint.id == placed_hook.id
    assert (sent.endpoint_id, sent.state, sent.attempts) == (
        placed_hook.id,
        DeliveryState.PENDING,
        0,
    )


async def test_a_claim_leases_its_deliveries_until_the_lease_runs_out(
    shop: Dependencies, clock: FixedClock
) -> None:
    await make_product(shop, "MUG-1", on_hand=10)
    await add_endpoint(shop)
    await place(shop)
    ok(await relay_events(shop, SYSTEM))
    receiver = ScriptedSender()

    [first] = await claim(shop)  # a worker claims it, sends it, and is killed
    lost = await send_delivery(shop, first, receiver)
    assert await claim(shop) == []  # nobody else takes it while the lease runs
    clock.advance(LEASE + timedelta(seconds=1))
    [again] = await claim(shop)  # then another worker does
    [delivered] = ok(
        await record_deliveries(shop, SYSTEM, [await send_delivery(shop, again, receiver)])
    )

    assert again.delivery.id == first.delivery.id
    assert (delivered.state, delivered.attempts) == (DeliveryState.DELIVERED, 1)
    # The killed worker's outcome, recorded late, is not recorded a second time.
    assert ok(await record_deliveries(shop, SYSTEM, [lost])) == []
    async with shop.unit_of_work() as uow:
        attempts = await uow.deliveries.attempts(first.delivery.id)
    assert len(attempts) == 1
    assert len(receiver.sent) == 2  # at least once: the receiver drops the duplicate by its id
    assert len({headers["webhook-id"] for _, _, headers in receiver.sent}) == 1


async def test_a_claim_shares_the_due_deliveries_out_by_endpoint(shop: Dependencies) -> None:
    shop = replace(shop, max_open_unpaid_orders=10)
    await make_product(shop, "MUG-1", on_hand=50)
    slow = await add_endpoint(shop)
    fast = await add_endpoint(shop, url="https://hooks.example.com/b")
    for n in range(6):
        await place(shop, f"req-{n}")
    ok(await relay_events(shop, SYSTEM))

    shared = await claim(shop, per_endpoint=2)
    only_fast = await claim(shop, per_endpoint=2, under_way={slow.id: 2})
    capped = await claim(shop, limit=3)

    assert sorted(str(c.endpoint.id) for c in shared) == sorted(
        [str(slow.id)] * 2 + [str(fast.id)] * 2
    )
    assert [c.endpoint.id for c in only_fast] == [fast.id] * 2
    assert len(capped) == 3


async def test_the_relay_hands_the_deliveries_it_has_room_for_to_its_caller_leased(
    shop: Dependencies, clock: FixedClock
) -> None:
    shop = replace(shop, max_open_unpaid_orders=10)
    await make_product(shop, "MUG-1", on_hand=50)
    busy = await add_endpoint(shop)
    idle = await add_endpoint(shop, url="https://hooks.example.com/b")
    for n in range(4):
        await place(shop, f"req-{n}")
    # Room for 5 attempts more in all, 2 of them to `busy` (which has 1 under way already).
    room = Room(5, 3, LEASE, {busy.id: 1})

    report = ok(await relay_events(shop, SYSTEM, room=room))

    handed = [c.delivery.endpoint_id for c in report.claimed]
    assert (report.events, report.deliveries) == (4, 8)
    assert sorted(map(str, handed)) == sorted([str(busy.id)] * 2 + [str(idle.id)] * 3)
    assert all(c.delivery.next_attempt_at == clock.now() + LEASE for c in report.claimed)
    assert all(c.event.id == c.delivery.event_id for c in report.claimed)
    # The other 3 are due at once, for any worker's claim; the 5 handed on are leased.
    left = await claim(shop)
    assert len(left) == 3
    assert not {c.delivery.id for c in left} & {c.delivery.id for c in report.claimed}
    # A handed-on delivery is sent and recorded like a claimed one.
    receiver = ScriptedSender()
    sent = [await send_delivery(shop, one, receiver) for one in report.claimed]
    recorded = ok(await record_deliveries(shop, SYSTEM, sent))
    assert [d.state for d in recorded] == [DeliveryState.DELIVERED] * 5
    clock.advance(LEASE + timedelta(seconds=1))
    assert {c.delivery.id for c in await claim(shop)} == {c.delivery.id for c in left}


async def test_the_relay_hands_on_only_deliveries_it_created(shop: Dependencies) -> None:
    hook = await add_endpoint(shop)
    [event] = await one_event(shop)
    # Made already, say by a relay whose transaction was not the one that committed.
    existing = await a_delivery(shop, hook, event, id=delivery_id(event.id, hook.id))

    report = ok(await relay_events(shop, SYSTEM, room=Room(10, 10, LEASE)))

    assert (report.events, report.deliveries, report.claimed) == (1, 0, ())
    assert await delivery(shop, existing.id) == existing


async def test_a_delivery_is_signed_and_recorded_delivered_once(shop: Dependencies) -> None:
    await make_product(shop, "MUG-1", on_hand=10)
    hook = await add_endpoint(shop)
    order_id = await place(shop, "req-abc")
    receiver = ScriptedSender([200])
    ok(await relay_events(shop, SYSTEM))
    [claimed] = await claim(shop)
    sent = await send_delivery(shop, claimed, receiver)

    recorded = ok(await record_deliveries(shop, SYSTEM, [sent]))
    again = ok(await record_deliveries(shop, SYSTEM, [sent]))

    assert [d.id for d in recorded] == [claimed.delivery.id]
    assert again == []
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
    done = await delivery(shop, claimed.delivery.id)
    assert (done.state, done.attempts, done.last_status) == (DeliveryState.DELIVERED, 1, 200)
    async with shop.unit_of_work() as uow:
        attempts = await uow.deliveries.attempts(done.id)
        assert await uow.outbox.claim(10) == []
        event = await uow.outbox.get(done.event_id)
    assert [(a.number, a.status, a.error) for a in attempts] == [(1, 200, None)]
    assert event is not None
    assert await claim(shop) == []


async def test_failures_are_retried_on_the_schedule_then_delivered(
    shop: Dependencies, clock: FixedClock
) -> None:
    await make_product(shop, "MUG-1", on_hand=10)
    await add_endpoint(shop)
    await place(shop)
    receiver = ScriptedSender([500, None, 204])
    ok(await relay_events(shop, SYSTEM))

    for wait in SCHEDULE:
        started = clock.now()
        [failed] = await deliver_due(shop, receiver)
        assert failed.state is DeliveryState.PENDING
        assert failed.next_attempt_at is not None
        assert wait * 0.9 <= failed.next_attempt_at - started <= wait * 1.1
        assert await claim(shop) == []  # not before its time
        clock.current = failed.next_attempt_at
    [done] = await deliver_due(shop, receiver)

    assert (done.state, done.attempts) == (DeliveryState.DELIVERED, 3)
    async with shop.unit_of_work() as uow:
        attempts = await uow.deliveries.attempts(done.id)
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
    receiver = ScriptedSender([503] * 10)
    ok(await relay_events(shop, SYSTEM))

    for _ in range(3):
        await deliver_due(shop, receiver)
        clock.advance(timedelta(minutes=3))

    [dead] = [await delivery(shop, c) for c in {d.id for d in await _all(shop, hook.id)}]
    assert (dead.state, dead.attempts, dead.next_attempt_at) == (DeliveryState.DEAD, 3, None)
    assert len(receiver.sent) == 3  # the first and two retries: nothing after the last
    assert await deliver_due(shop, receiver) == []
    async with shop.unit_of_work() as uow:
        endpoint = await uow.endpoints.get(hook.id)
        assert await uow.outbox.claim(10) == []
    assert endpoint is not None
    assert not endpoint.active
    assert endpoint.disabled_reason is not None
    assert "HTTP 503" in endpoint.disabled_reason


async def _all(deps: Dependencies, endpoint_id: uuid.UUID) -> list[Delivery]:
    async with deps.unit_of_work() as uow:
        return await uow.deliveries.of_endpoint(endpoint_id, after=None, limit=100)


async def test_a_success_ends_the_endpoints_failing_streak(
    shop: Dependencies, clock: FixedClock
) -> None:
    await make_product(shop, "MUG-1", on_hand=10)
    hook = await add_endpoint(shop)
    await place(shop)
    ok(await relay_events(shop, SYSTEM))
    receiver = ScriptedSender([500, 200])

    await deliver_due(shop, receiver)
    failing = await stored(shop, hook.id)
    clock.advance(timedelta(minutes=1))
    await deliver_due(shop, receiver)
    healthy = await stored(shop, hook.id)

    assert failing.failing_since is not None
    assert healthy.failing_since is None
    assert healthy.active


async def stored(deps: Dependencies, endpoint_id: uuid.UUID) -> Endpoint:
    async with deps.unit_of_work() as uow:
        found = await uow.endpoints.get(endpoint_id)
    assert found is not None
    return found


async def test_a_delivery_to_a_removed_endpoint_ends_dead_unsent(shop: Dependencies) -> None:
    await make_product(shop, "MUG-1", on_hand=10)
    hook = await add_endpoint(shop)
    await place(shop)
    ok(await relay_events(shop, SYSTEM))
    [pending] = await _all(shop, hook.id)
    async with shop.unit_of_work() as uow:
        await uow.endpoints.save(replace(hook, active=False))
        await uow.commit()

    assert await claim(shop) == []
    dead = await delivery(shop, pending.id)
    assert (dead.state, dead.attempts, dead.last_error) == (
        DeliveryState.DEAD,
        0,
        "the endpoint is disabled",
    )


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
    receiver = ScriptedSender()
    ok(await relay_events(shop, SYSTEM))

    await deliver_due(shop, receiver)

    [(_, body, headers)] = receiver.sent
    assert len(headers["webhook-signature"].split()) == 2
    now = int(clock.now().timestamp())
    verify(old, headers, body, now=now)
    verify(rotated.secret, headers, body, now=now)


async def test_only_orderly_itself_or_an_operator_relays_and_delivers(shop: Dependencies) -> None:
    customer = Context(ANN, "r")
    assert not is_successful(await relay_events(shop, customer))
    claimed = await claim_deliveries(shop, customer, Room(1, 1, LEASE))
    assert not is_successful(claimed)
    assert not is_successful(await record_deliveries(shop, customer, []))


@pytest.mark.postgres
@pytest.mark.parametrize("deps", ["postgres"], indirect=True)
async def test_two_relays_at_once_never_hand_on_the_same_event(shop: Dependencies) -> None:
    shop = replace(shop, max_open_unpaid_orders=30)  # one customer's 30 unpaid orders
    await make_product(shop, "MUG-1", on_hand=100)
    hook = await add_endpoint(shop)
    for n in range(30):
        await place(shop, f"req-{n}")

    reports = await asyncio.gather(
        relay_events(shop, SYSTEM, batch=20), relay_events(shop, SYSTEM, batch=20)
    )

    handed = [ok(report).events for report in reports]
    # How the 30 events split depends on which rows each claim locked first; together they
    # hand on every event exactly once.
    assert sum(handed) == 30
    assert all(count <= 20 for count in handed)
    deliveries = await _all(shop, hook.id)
    assert len({d.event_id for d in deliveries}) == len(deliveries) == 30


@pytest.mark.postgres
@pytest.mark.parametrize("deps", ["postgres"], indirect=True)
async def test_two_workers_claiming_at_once_never_take_the_same_delivery(
    shop: Dependencies,
) -> None:
    shop = replace(shop, max_open_unpaid_orders=40)
    await make_product(shop, "MUG-1", on_hand=100)
    await add_endpoint(shop)
    await add_endpoint(shop, url="https://hooks.example.com/b")
    for n in range(40):
        await place(shop, f"req-{n}")
    ok(await relay_events(shop, SYSTEM))

    rounds = [await asyncio.gather(*(claim(shop, limit=15) for _ in range(3))) for _ in range(3)]

    taken = [c.delivery.id for claims in rounds for claimed in claims for c in claimed]
    assert len(taken) == len(set(taken)) == 80


async def test_a_redelivery_is_claimed_at_the_next_wake_up_and_sent_again(
    shop: Dependencies,
) -> None:
    await make_product(shop, "MUG-1", on_hand=10)
    await add_endpoint(shop)
    await place(shop)
    receiver = ScriptedSender()
    ok(await relay_events(shop, SYSTEM))
    [first] = await deliver_due(shop, receiver)

    again = fresh(
        await redeliver(shop, Context(Actor.operator("alice"), "req-again"), str(first.id))
    )
    [resent] = await deliver_due(shop, receiver)

    assert resent.id == again.id
    assert resent.state is DeliveryState.DELIVERED
    assert await deliver_due(shop, receiver) == []
    [(_, body_1, headers_1), (_, body_2, headers_2)] = receiver.sent
    assert headers_1["webhook-id"] == headers_2["webhook-id"]
    assert body_1 == body_2
