"""What the audit trail and the events say of orders, on the fakes and on PostgreSQL: one entry
per placement and per step, named by its operation, on the order, with the fields that
changed; an expiry is ``order.expire``, a cancellation by someone ``order.cancelled``. Every
order event carries the order's public view, with exactly its documented keys."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from unittest.mock import ANY

import pytest

from orderly_core.audit.use_cases import list_audit
from orderly_core.orders.model import Order
from orderly_core.orders.placement import LineRequest, NewOrder, place_order
from orderly_core.orders.steps import OrderStep, expire_orders
from orderly_core.platform.audit import AuditEntry, AuditQuery
from orderly_core.platform.outbox import Event, EventType
from orderly_core.shared.context import Actor, Context, Role
from orderly_core.shipments.steps import cancel_order, deliver_order, ship_order
from orderly_core.testing import FixedClock
from orderly_core.unit_of_work import Dependencies
from tests.core.helpers import STAFF, ctx, fresh, make_product, ok, pay_order

pytestmark = pytest.mark.postgres

ANN = Actor.user("00000000-0000-0000-0000-0000000000a1", Role.CUSTOMER)
ORDER_KEYS = {
    "id",
    "status",
    "customer_id",
    "lines",
    "subtotal",
    "shipping",
    "total",
    "currency",
    "email",
    "shipping_address",
    "shipping_method",
    "expires_at",
    "cancel_reason",
    "delivered_at",
    "version",
    "created_at",
    "updated_at",
}
LINE_KEYS = {
    "sku",
    "quantity",
    "unit_price",
    "currency",
    "shipped",
    "delivered",
    "returned",
    "cancelled",
}


def two_mugs() -> NewOrder:
    return NewOrder((LineRequest("MUG-1", 2),))


async def entries_of(deps: Dependencies, order: Order) -> list[AuditEntry]:
    """The order's audit entries, oldest first."""
    query = AuditQuery(target_type="order", target_id=str(order.id))
    return list(reversed(ok(await list_audit(deps, ctx(), query)).items))


async def events_of(deps: Dependencies, order: Order) -> list[Event]:
    async with deps.unit_of_work() as uow:
        return [e for e in await uow.outbox.claim(1000) if e.subject == f"order:{order.id}"]


async def test_a_placement_is_one_entry_holding_the_whole_new_order(deps: Dependencies) -> None:
    await make_product(deps, "MUG-1", on_hand=10, unit_price=1250)
    placed = fresh(await place_order(deps, Context(ANN, "req-place"), two_mugs())).order

    (entry,) = await entries_of(deps, placed)

    assert (entry.operation, entry.target_type, entry.target_id) == (
        "order.place",
        "order",
        str(placed.id),
    )
    assert (entry.actor_kind, entry.actor_id, entry.request_id) == ("user", ANN.id, "req-place")
    assert set(entry.changes) == ORDER_KEYS - {"created_at", "updated_at"}
    assert all(change["before"] is None for change in entry.changes.values())
    after = {field: change["after"] for field, change in entry.changes.items()}
    assert after == {
        "id": str(placed.id),
        "status": "placed",
        "customer_id": ANN.id,
        "lines": [
            {"sku": "MUG-1", "quantity": 2, "unit_price": 1250, "currency": "EUR"}
            | {"shipped": 0, "delivered": 0, "returned": 0, "cancelled": 0}
        ],
        "subtotal": 2500,
        "shipping": 0,
        "total": 2500,
        "currency": "EUR",
        "email": None,
        "shipping_address": None,
        "shipping_method": None,
        "expires_at": placed.expires_at.isoformat(),
        "cancel_reason": None,
        "delivered_at": None,
        "version": 1,
    }


async def test_each_step_is_one_entry_with_what_it_changed(deps: Dependencies) -> None:
    await make_product(deps, "MUG-1", on_hand=10)
    shipped = fresh(await place_order(deps, ctx(ANN), two_mugs())).order
    cancelled = fresh(await place_order(deps, ctx(ANN), two_mugs())).order
    for move, actor in ((pay_order, STAFF), (ship_order, STAFF), (deliver_order, STAFF)):
        fresh(await move(deps, ctx(actor), OrderStep(str(shipped.id))))
    fresh(await cancel_order(deps, ctx(ANN), OrderStep(str(cancelled.id)), "changed my mind"))

    warehouse = await entries_of(deps, shipped)
    cancellation = await entries_of(deps, cancelled)
    line = {"sku": "MUG-1", "quantity": 2, "unit_price": 1250, "currency": "EUR", "returned": 0}

    def counted(shipped: int, delivered: int, cancelled: int) -> list[dict[str, object]]:
        return [line | {"shipped": shipped, "delivered": delivered, "cancelled": cancelled}]

    assert [(e.operation, e.actor_id, dict(e.changes)) for e in warehouse[1:]] == [
        (
            "order.paid",  # by the payment staff recorded
            STAFF.id,
            {"status": {"before": "placed", "after": "paid"}, "version": {"before": 1, "after": 2}},
        ),
        (
            "order.shipped",
            STAFF.id,
            {
                "status": {"before": "paid", "after": "shipped"},
                "lines": {"before": counted(0, 0, 0), "after": counted(2, 0, 0)},
                "version": {"before": 2, "after": 3},
            },
        ),
        (
            "order.delivered",
            STAFF.id,
            {
                "status": {"before": "shipped", "after": "delivered"},
                "lines": {"before": counted(2, 0, 0), "after": counted(2, 2, 0)},
                "delivered_at": {"before": None, "after": ANY},
                "version": {"before": 3, "after": 4},
            },
        ),
    ]
    assert {(e.target_type, e.target_id) for e in warehouse} == {("order", str(shipped.id))}
    assert [(e.operation, dict(e.changes)) for e in cancellation[1:]] == [
        (
            "order.cancelled",
            {
                "status": {"before": "placed", "after": "cancelled"},
                "lines": {"before": counted(0, 0, 0), "after": counted(0, 0, 2)},
                "cancel_reason": {"before": None, "after": "changed my mind"},
                "version": {"before": 1, "after": 2},
            },
        )
    ]


async def test_an_expiry_is_an_order_expire_entry_by_whoever_ran_it(deps: Dependencies) -> None:
    clock = FixedClock()
    deps = replace(deps, clock=clock)
    await make_product(deps, "MUG-1", on_hand=10)
    placed = fresh(await place_order(deps, ctx(ANN), two_mugs())).order
    line = {"sku": "MUG-1", "quantity": 2, "unit_price": 1250, "currency": "EUR"}
    counts = {"shipped": 0, "delivered": 0, "returned": 0}
    clock.advance(timedelta(minutes=31))

    ok(await expire_orders(deps, Context(Actor.system("scheduler"), "req-sweep")))

    entry = (await entries_of(deps, placed))[-1]
    assert (entry.operation, entry.actor_kind, entry.actor_id, entry.request_id) == (
        "order.expire",
        "system",
        "scheduler",
        "req-sweep",
    )
    assert dict(entry.changes) == {
        "status": {"before": "placed", "after": "cancelled"},
        "lines": {
            "before": [line | counts | {"cancelled": 0}],
            "after": [line | counts | {"cancelled": 2}],  # what no longer ships
        },
        "cancel_reason": {"before": None, "after": "expired"},
        "version": {"before": 1, "after": 2},
    }


async def test_every_order_event_carries_the_orders_view_with_its_keys(
    deps: Dependencies,
) -> None:
    clock = FixedClock()
    deps = replace(deps, clock=clock)
    await make_product(deps, "MUG-1", on_hand=10, unit_price=1250)
    placed = fresh(await place_order(deps, ctx(ANN), two_mugs())).order
    clock.advance(timedelta(minutes=1))
    fresh(await pay_order(deps, ctx(STAFF), OrderStep(str(placed.id))))
    clock.advance(timedelta(minutes=1))
    fresh(await cancel_order(deps, ctx(ANN), OrderStep(str(placed.id)), "gift arrived"))

    events = await events_of(deps, placed)

    assert [e.type for e in events] == [
        EventType.ORDER_PLACED,
        EventType.ORDER_PAID,
        EventType.ORDER_CANCELLED,
    ]
    assert [set(e.data) - ORDER_KEYS for e in events] == [set(), {"payment"}, set()]
    assert all(set(e.data) >= ORDER_KEYS for e in events)
    assert all(set(line) == LINE_KEYS for e in events for line in e.data["lines"])
    placed_data, paid_data, cancelled_data = (e.data for e in events)
    assert {k: placed_data[k] for k in ("id", "status", "customer_id", "total", "currency")} == {
        "id": str(placed.id),
        "status": "placed",
        "customer_id": ANN.id,
        "total": 2500,
        "currency": "EUR",
    }
    assert placed_data["lines"] == [
        {"sku": "MUG-1", "quantity": 2, "unit_price": 1250, "currency": "EUR"}
        | {"shipped": 0, "delivered": 0, "returned": 0, "cancelled": 0}
    ]
    steps = (paid_data, cancelled_data)
    assert [(d["status"], d["version"], d["cancel_reason"]) for d in steps] == [
        ("paid", 2, None),
        ("cancelled", 3, "gift arrived"),
    ]
    assert placed_data["created_at"] == placed_data["updated_at"]
    assert cancelled_data["created_at"] == placed_data["created_at"]
    assert cancelled_data["updated_at"] > paid_data["updated_at"] > placed_data["updated_at"]
    assert cancelled_data["expires_at"] == placed_data["expires_at"]
