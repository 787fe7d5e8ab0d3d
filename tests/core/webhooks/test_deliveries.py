"""An endpoint's deliveries, on the fakes and on PostgreSQL: listed newest first, read with
their attempts, and redelivered as a new pending delivery of the same event, never to a
disabled endpoint."""

from __future__ import annotations

import uuid
from datetime import timedelta

from orderly_core.platform.idempotency import Replayed
from orderly_core.platform.outbox import EventType
from orderly_core.shared.context import Mode
from orderly_core.shared.errors import InvalidInput
from orderly_core.testing import FixedClock
from orderly_core.unit_of_work import Dependencies
from orderly_core.webhooks.deliveries import DeliveryQuery, get_delivery, list_deliveries, redeliver
from orderly_core.webhooks.endpoints import EndpointChanges, update_endpoint
from orderly_core.webhooks.errors import DeliveryNotFound, EndpointDisabled, EndpointNotFound
from orderly_core.webhooks.model import Attempt, Delivery, DeliveryState
from orderly_core.webhooks.ports import Claim
from orderly_core.webhooks.replay import ReplayRequest, replay_events
from tests.core.helpers import ctx, err, fresh, ok
from tests.core.webhooks.helpers import (
    PLACED,
    START,
    a_delivery,
    field_errors,
    keyed,
    one_event,
    register,
    stored_delivery,
    webhook_audit,
)


async def test_deliveries_are_listed_newest_first_a_page_at_a_time(
    timed: Dependencies, clock: FixedClock
) -> None:
    endpoint = (await register(timed)).endpoint
    other = (await register(timed, "https://other.example.com/")).endpoint
    [event] = await one_event(timed)
    made = []
    for _ in range(5):
        made.append(await a_delivery(timed, endpoint, event))
        clock.advance(timedelta(seconds=1))
    await a_delivery(timed, other, event)

    first = ok(await list_deliveries(timed, ctx(), str(endpoint.id), DeliveryQuery(limit=2)))
    second = ok(
        await list_deliveries(
            timed, ctx(), str(endpoint.id), DeliveryQuery(limit=2, cursor=first.next_cursor)
        )
    )
    third = ok(
        await list_deliveries(
            timed, ctx(), str(endpoint.id), DeliveryQuery(limit=2, cursor=second.next_cursor)
        )
    )

    newest_first = list(reversed(made))
    assert first.items == tuple(newest_first[:2])
    assert second.items == tuple(newest_first[2:4])
    assert (third.items, third.next_cursor) == (tuple(newest_first[4:]), None)


async def test_listing_deliveries_checks_the_query_and_the_endpoint(deps: Dependencies) -> None:
    endpoint = (await register(deps)).endpoint
    unknown = str(uuid.uuid4())

    bad = err(
        await list_deliveries(deps, ctx(), str(endpoint.id), DeliveryQuery(limit=0, cursor="x"))
    )

    assert isinstance(bad, InvalidInput)
    assert list(field_errors(bad)) == ["limit", "cursor"]
    missing = err(await list_deliveries(deps, ctx(), unknown, DeliveryQuery()))
    assert missing == EndpointNotFound(unknown)
    empty = ok(await list_deliveries(deps, ctx(), str(endpoint.id), DeliveryQuery()))
    assert (empty.items, empty.next_cursor) == ((), None)


async def test_a_delivery_is_read_with_its_attempts(timed: Dependencies) -> None:
    endpoint = (await register(timed)).endpoint
    [event] = await one_event(timed)
    delivery = await a_delivery(
        timed, endpoint, event, state=DeliveryState.DELIVERED, attempts=2, last_status=200
    )
    tries = (
        Attempt(delivery.id, 1, START, 30_000, None, "timed out"),
        Attempt(delivery.id, 2, START + timedelta(seconds=10), 85, 200, None),
    )
    async with timed.unit_of_work() as uow:
        for attempt in tries:
            await uow.deliveries.add_attempt(attempt)
        await uow.commit()

    detail = ok(await get_delivery(timed, ctx(), str(delivery.id)))

    assert detail.delivery == delivery
    assert detail.attempts == tries
    assert [a.succeeded for a in detail.attempts] == [False, True]
    for raw in ("nope", str(uuid.uuid4())):
        assert err(await get_delivery(timed, ctx(), raw)) == DeliveryNotFound(raw)


async def test_redelivering_makes_a_new_pending_delivery_of_the_same_event(
    timed: Dependencies, clock: FixedClock
) -> None:
    endpoint = (await register(timed)).endpoint
    [event] = await one_event(timed)
    dead = await a_delivery(
        timed, endpoint, event, state=DeliveryState.DEAD, attempts=7, next_attempt_at=None
    )
    clock.advance(timedelta(hours=3))

    again = fresh(await redeliver(timed, ctx(), str(dead.id)))

    assert again.id != dead.id
    assert again == Delivery(
        id=again.id,
        endpoint_id=endpoint.id,
        event_id=event.id,
        event_type=EventType.ORDER_PLACED,
        state=DeliveryState.PENDING,
        attempts=0,
        next_attempt_at=clock.now(),
        created_at=clock.now(),
        updated_at=clock.now(),
    )
    assert await stored_delivery(timed, again.id) == again
    assert await stored_delivery(timed, dead.id) == dead
    async with timed.unit_of_work() as uow:  # due at once: the next claim takes it
        claim = Claim(clock.now(), clock.now() + timedelta(seconds=30), 10, {endpoint.id: 10})
        assert [d.id for d in await uow.deliveries.claim_due(claim)] == [again.id]
    entry = (await webhook_audit(timed))[-1]
    assert (entry.operation, entry.target_type, entry.target_id) == (
        "webhook.redeliver",
        "webhook_delivery",
        str(again.id),
    )
    assert entry.changes["redelivery_of"] == {"before": None, "after": str(dead.id)}
    assert entry.changes["state"] == {"before": None, "after": "pending"}


async def test_redelivery_dry_runs_retries_and_unknown_deliveries(deps: Dependencies) -> None:
    endpoint = (await register(deps)).endpoint
    [event] = await one_event(deps)
    delivered = await a_delivery(deps, endpoint, event, state=DeliveryState.DELIVERED)

    preview = fresh(await redeliver(deps, ctx(mode=Mode.DRY_RUN), str(delivered.id)))
    assert preview.state is DeliveryState.PENDING
    assert await stored_delivery(deps, preview.id) is None

    first = fresh(await redeliver(deps, keyed("again-1"), str(delivered.id)))
    replayed = ok(await redeliver(deps, keyed("again-1"), str(delivered.id)))
    assert isinstance(replayed, Replayed)
    assert replayed.original == first
    page = ok(await list_deliveries(deps, ctx(), str(endpoint.id), DeliveryQuery()))
    assert {d.id for d in page.items} == {delivered.id, first.id}

    unknown = str(uuid.uuid4())
    assert err(await redeliver(deps, ctx(), unknown)) == DeliveryNotFound(unknown)
    assert err(await redeliver(deps, ctx(), "x")) == DeliveryNotFound("x")
    assert [e.operation for e in await webhook_audit(deps)] == [
        "webhook.register",
        "webhook.redeliver",
    ]


async def test_events_are_not_sent_again_to_a_disabled_endpoint(timed: Dependencies) -> None:
    endpoint = (await register(timed)).endpoint
    [event] = await one_event(timed)
    dead = await a_delivery(timed, endpoint, event, state=DeliveryState.DEAD)
    fresh(await update_endpoint(timed, ctx(), EndpointChanges(str(endpoint.id), active=False)))
    window = ReplayRequest(PLACED, START, START + timedelta(days=1))

    refused = err(await redeliver(timed, ctx(), str(dead.id)))
    also_refused = err(await replay_events(timed, ctx(), str(endpoint.id), window))

    assert refused == also_refused == EndpointDisabled(str(endpoint.id))
    assert isinstance(refused, EndpointDisabled)
    assert "enable it" in refused.detail
    page = ok(await list_deliveries(timed, ctx(), str(endpoint.id), DeliveryQuery()))
    assert page.items == (dead,)
    fresh(await update_endpoint(timed, ctx(), EndpointChanges(str(endpoint.id), active=True)))
    assert fresh(await redeliver(timed, ctx(), str(dead.id))).event_id == event.id
    assert fresh(await replay_events(timed, ctx(), str(endpoint.id), window)).count == 1
