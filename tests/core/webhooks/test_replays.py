"""Replaying a range of events to an endpoint, on the fakes and on PostgreSQL: every event of the
types in the range is delivered again, within the rules and the ten-thousand-event cap."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly_core.orders.placement import LineRequest, NewOrder, place_order
from orderly_core.orders.steps import OrderStep
from orderly_core.platform.idempotency import Replayed
from orderly_core.platform.outbox import Event, EventType, new_event
from orderly_core.shared.context import Actor, Context, Mode, Role
from orderly_core.shared.errors import InvalidInput
from orderly_core.testing import FixedClock, in_memory_dependencies
from orderly_core.unit_of_work import Dependencies
from orderly_core.webhooks.deliveries import DeliveryQuery, list_deliveries
from orderly_core.webhooks.errors import EndpointNotFound
from orderly_core.webhooks.model import DeliveryState
from orderly_core.webhooks.replay import REPLAY_MAX, ReplayRequest, replay_events
from tests.core.helpers import STAFF, ctx, err, fresh, make_product, ok, pay_order
from tests.core.webhooks.helpers import (
    PLACED,
    START,
    a_delivery,
    field_errors,
    keyed,
    register,
    stored_delivery,
    webhook_audit,
)


async def events_of_orders(deps: Dependencies, count: int, *, pay: bool = False) -> list[Event]:
    """``count`` orders placed (and paid) one minute apart: their events, oldest first."""
    clock = deps.clock
    assert isinstance(clock, FixedClock)
    await make_product(deps, "MUG-1", on_hand=100)
    for _ in range(count):
        placing = Context(Actor.user("cust-1", Role.CUSTOMER), "req-place")
        new = NewOrder((LineRequest("MUG-1", 1),))
        placed = fresh(await place_order(deps, placing, new)).order
        if pay:
            fresh(await pay_order(deps, ctx(STAFF), OrderStep(str(placed.id))))
        clock.advance(timedelta(minutes=1))
    async with deps.unit_of_work() as uow:
        return await uow.outbox.between(list(EventType), START, clock.now(), 1000)


async def test_a_replay_sends_every_event_of_the_types_in_the_range_again(
    timed: Dependencies, clock: FixedClock
) -> None:
    endpoint = (await register(timed, types=("order.placed", "order.paid"))).endpoint
    events = await events_of_orders(timed, 3, pay=True)  # placed, paid; one minute apart
    placed = [e for e in events if e.type is EventType.ORDER_PLACED]
    already = await a_delivery(timed, endpoint, placed[1], state=DeliveryState.DELIVERED)
    clock.advance(timedelta(hours=1))

    window = ReplayRequest(("order.placed",), placed[1].created_at, clock.now())
    report = fresh(await replay_events(timed, ctx(), str(endpoint.id), window))

    assert report.endpoint_id == endpoint.id
    assert report.count == 2
    made = [await stored_delivery(timed, delivery_id) for delivery_id in report.delivery_ids]
    assert [(d.event_id, d.event_type) for d in made if d] == [
        (placed[1].id, EventType.ORDER_PLACED),
        (placed[2].id, EventType.ORDER_PLACED),
    ]
    for delivery in made:
        assert delivery is not None
        assert delivery == replace(
            delivery,
            endpoint_id=endpoint.id,
            state=DeliveryState.PENDING,
            attempts=0,
            next_attempt_at=clock.now(),
        )
    assert await stored_delivery(timed, already.id) == already
    entry = (await webhook_audit(timed))[-1]
    assert (entry.operation, entry.target_id) == ("webhook.replay", str(endpoint.id))
    assert entry.changes["deliveries"] == {"before": None, "after": 2}
    assert entry.changes["event_types"] == {"before": None, "after": ["order.placed"]}

    both = ReplayRequest(("order.paid", "order.placed"), START, placed[1].created_at)
    assert fresh(await replay_events(timed, ctx(), str(endpoint.id), both)).count == 2


async def test_replay_rules(deps: Dependencies) -> None:
    endpoint = (await register(deps, types=("order.placed",))).endpoint
    endpoint_id = str(endpoint.id)
    later = START + timedelta(hours=1)

    def refused(result: Any) -> dict[str, str]:
        error = err(result)
        assert isinstance(error, InvalidInput)
        return field_errors(error)

    assert refused(
        await replay_events(deps, ctx(), endpoint_id, ReplayRequest((), later, START))
    ) == {"event_types": "name at least one event type", "until": "must be after since"}
    naive = ReplayRequest(PLACED, START.replace(tzinfo=None), later)
    assert list(refused(await replay_events(deps, ctx(), endpoint_id, naive))) == ["since"]
    unwanted = ReplayRequest(("order.placed", "stock.low"), START, later)
    assert refused(await replay_events(deps, ctx(), endpoint_id, unwanted)) == {
        "event_types.1": "the endpoint does not subscribe to stock.low"
    }
    unknown = str(uuid.uuid4())
    window = ReplayRequest(PLACED, START, later)
    assert err(await replay_events(deps, ctx(), unknown, window)) == EndpointNotFound(unknown)
    assert [e.operation for e in await webhook_audit(deps)] == ["webhook.register"]


async def test_a_dry_run_replay_counts_and_stores_nothing_and_a_retry_replays_once(
    timed: Dependencies, clock: FixedClock
) -> None:
    endpoint = (await register(timed)).endpoint
    await events_of_orders(timed, 2)
    window = ReplayRequest(PLACED, START, clock.now())

    preview = fresh(await replay_events(timed, ctx(mode=Mode.DRY_RUN), str(endpoint.id), window))
    assert preview.count == 2
    assert all([await stored_delivery(timed, i) is None for i in preview.delivery_ids])

    first = fresh(await replay_events(timed, keyed("replay-1"), str(endpoint.id), window))
    again = ok(await replay_events(timed, keyed("replay-1"), str(endpoint.id), window))

    assert isinstance(again, Replayed)
    assert again.original == first
    page = ok(await list_deliveries(timed, ctx(), str(endpoint.id), DeliveryQuery()))
    assert sorted(d.id for d in page.items) == sorted(first.delivery_ids)


async def many_events(deps: Dependencies, count: int, engine: AsyncEngine | None) -> datetime:
    """``count`` ``order.placed`` events one millisecond apart from START: through the port
    on the fakes, in one statement on PostgreSQL. Answers the time just after the last."""
    if engine is None:
        async with deps.unit_of_work() as uow:
            for number in range(count):
                moment = START + timedelta(milliseconds=number)
                await uow.outbox.add(
                    new_event(
                        deps.ids.new_id(), ctx(), moment, EventType.ORDER_PLACED,
                        subject=f"order:{number}", sequence=1, data={},
                    )
                )  # fmt: skip
            await uow.commit()
    else:
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO outbox (id, type, subject, sequence, data, request_id, "
                    "created_at) SELECT gen_random_uuid(), 'order.placed', 'order:' || n, 1, "
                    "'{}'::jsonb, 'req-test', "
                    "CAST(:start AS timestamptz) + n * interval '1 millisecond' "
                    "FROM generate_series(0, :last) AS n"
                ),
                {"start": START, "last": count - 1},
            )
    return START + timedelta(milliseconds=count)


async def test_a_replay_of_more_than_ten_thousand_events_is_refused(
    timed: Dependencies, request: pytest.FixtureRequest
) -> None:
    on_postgres = request.node.callspec.params["deps"] == "postgres"
    engine = request.getfixturevalue("clean_engine") if on_postgres else None
    endpoint = (await register(timed)).endpoint
    end = await many_events(timed, REPLAY_MAX + 1, engine)

    too_many = err(
        await replay_events(timed, ctx(), str(endpoint.id), ReplayRequest(PLACED, START, end))
    )

    assert isinstance(too_many, InvalidInput)
    assert field_errors(too_many) == {
        "until": "the range holds more than 10000 events: replay shorter ranges"
    }
    page = ok(await list_deliveries(timed, ctx(), str(endpoint.id), DeliveryQuery()))
    assert page.items == ()
    assert [e.operation for e in await webhook_audit(timed)] == ["webhook.register"]


async def test_a_replay_of_ten_thousand_events_is_made() -> None:
    deps = in_memory_dependencies(clock=FixedClock(START))
    endpoint = (await register(deps)).endpoint
    end = await many_events(deps, REPLAY_MAX + 1, None)
    window = ReplayRequest(PLACED, START, end - timedelta(milliseconds=1))

    report = fresh(await replay_events(deps, ctx(), str(endpoint.id), window))

    assert report.count == REPLAY_MAX
    assert len(set(report.delivery_ids)) == REPLAY_MAX
    page = ok(await list_deliveries(deps, ctx(), str(endpoint.id), DeliveryQuery(limit=200)))
    assert page.next_cursor is not None
    assert {d.id for d in page.items} <= set(report.delivery_ids)
