"""Shipments: staff ship any subset of a paid order's remaining units with tracking; stock
leaves per shipment; the order follows its shipments (partially shipped, shipped, delivered);
every step is idempotent, audited, dry-runnable and announced."""

from __future__ import annotations

import uuid

import pytest

from orderly_core.audit.use_cases import list_audit
from orderly_core.catalogue.ledger import MovementKind
from orderly_core.orders.errors import OrderNotFound
from orderly_core.orders.model import OrderStatus
from orderly_core.orders.steps import OrderStep
from orderly_core.platform.audit import AuditQuery
from orderly_core.platform.idempotency import Replayed
from orderly_core.shared.context import Context, Mode
from orderly_core.shared.errors import Forbidden, InvalidInput, VersionConflict
from orderly_core.shipments.errors import (
    ExceedsRemaining,
    OrderNotFulfillable,
    RemainingLine,
    ShipmentAlreadyDelivered,
    ShipmentNotFound,
)
from orderly_core.shipments.model import ShipmentLine, ShipmentStatus, Tracking
from orderly_core.shipments.steps import deliver_order, ship_order
from orderly_core.shipments.use_cases import (
    ShipmentStep,
    create_shipment,
    deliver_shipment,
    get_shipment,
    list_shipments,
)
from orderly_core.unit_of_work import Dependencies
from tests.core.helpers import ANN, BOB, STAFF, ctx, err, fresh, ok, stored
from tests.core.shipments.helpers import (
    TRACKED,
    assert_conserved,
    events_now,
    order_now,
    paid_order,
    shipping,
)


def keyed(key: str) -> Context:
    return Context(actor=STAFF, request_id=f"req-{key}", idempotency_key=key)


async def test_an_order_ships_two_of_three_now_and_the_last_one_later(deps: Dependencies) -> None:
    paid = await paid_order(deps, ("MUG-1", 3))

    first = fresh(await create_shipment(deps, ctx(STAFF), shipping(paid, ("MUG-1", 2))))
    partly = await order_now(deps, paid.id)
    second = fresh(await create_shipment(deps, ctx(STAFF), shipping(paid, ("MUG-1", 1))))
    done = await order_now(deps, paid.id)

    assert (first.status, first.lines, first.carrier) == (
        ShipmentStatus.SHIPPED,
        (ShipmentLine("MUG-1", 2),),
        "DHL",
    )
    assert (first.tracking_number, first.tracking_url) == ("JD0001", TRACKED.tracking_url)
    assert (partly.status, partly.lines[0].shipped, partly.lines[0].unshipped) == (
        OrderStatus.PARTIALLY_SHIPPED,
        2,
        1,
    )
    assert (done.status, done.lines[0].shipped, second.lines) == (
        OrderStatus.SHIPPED,
        3,
        (ShipmentLine("MUG-1", 1),),
    )
    product = await stored(deps, "MUG-1")
    assert product is not None
    assert (product.stock.on_hand, product.stock.reserved) == (47, 0)
    async with deps.unit_of_work() as uow:
        history = await uow.stock_ledger.history("MUG-1", after=None, limit=100)
    shipped = [m for m in reversed(history) if m.kind is MovementKind.SHIPMENT]
    assert [(m.on_hand_delta, m.reserved_delta, m.reference) for m in shipped] == [
        (-2, -2, str(first.id)),  # one movement per line, naming its shipment
        (-1, -1, str(second.id)),
    ]
    await assert_conserved(deps, paid.id)
    types = [e.type.value for e in await events_now(deps)]
    assert types[-4:] == [
        "order.partially_shipped",
        "shipment.created",
        "order.shipped",
        "shipment.created",
    ]


async def test_a_shipment_of_more_than_remains_is_refused_naming_each_line(
    deps: Dependencies,
) -> None:
    paid = await paid_order(deps, ("MUG-1", 3), ("CUP-1", 1))
    fresh(await create_shipment(deps, ctx(STAFF), shipping(paid, ("MUG-1", 2))))

    refused = err(
        await create_shipment(deps, ctx(STAFF), shipping(paid, ("MUG-1", 2), ("CUP-1", 2)))
    )

    assert refused == ExceedsRemaining(
        str(paid.id), (RemainingLine("CUP-1", 2, 1), RemainingLine("MUG-1", 2, 1))
    )
    assert (await order_now(deps, paid.id)).lines[0].shipped == 2
    await assert_conserved(deps, paid.id)


@pytest.mark.parametrize(
    ("lines", "tracking", "field"),
    [
        ((), TRACKED, "lines"),
        ((("MUG-1", 0),), TRACKED, "lines[0].quantity"),
        ((("MUG-1", 1001),), TRACKED, "lines[0].quantity"),
        ((("MUG-1", 1), ("mug-1", 1)), TRACKED, "lines[1].sku"),
        ((("MUG\x00", 1),), TRACKED, "lines[0].sku"),
        ((("MUG-1", 1),), Tracking(" ", "JD1"), "carrier"),
        ((("MUG-1", 1),), Tracking("D" * 65, "JD1"), "carrier"),
        ((("MUG-1", 1),), Tracking("DHL", "J\nD"), "tracking_number"),
        ((("MUG-1", 1),), Tracking("DHL", "J" * 129), "tracking_number"),
        ((("MUG-1", 1),), Tracking("DHL", "JD1", "ftp://x.example/1"), "tracking_url"),
        ((("MUG-1", 1),), Tracking("DHL", "JD1", "https://u:p@x.example/1"), "tracking_url"),
        ((("MUG-1", 1),), Tracking("DHL", "JD1", "https://x.example/a b"), "tracking_url"),
        ((("MUG-1", 1),), Tracking("DHL", "JD1", "https://[::1/"), "tracking_url"),
        ((("MUG-1", 1),), Tracking("DHL", "JD1", "/relative"), "tracking_url"),
        (
            (("MUG-1", 1),),
            Tracking("DHL", "JD1", "https://x.example/" + "a" * 2031),
            "tracking_url",
        ),
        ((("NOPE-1", 1),), TRACKED, "lines[0].sku"),
    ],
)
async def test_malformed_shipments_are_invalid_input_naming_the_field(
    deps: Dependencies, lines: tuple[tuple[str, int], ...], tracking: Tracking, field: str
) -> None:
    paid = await paid_order(deps, ("MUG-1", 3))

    refused = err(
        await create_shipment(deps, ctx(STAFF), shipping(paid, *lines, tracking=tracking))
    )

    assert isinstance(refused, InvalidInput)
    assert field in {e.field for e in refused.errors}
    assert (await order_now(deps, paid.id)).lines[0].shipped == 0


async def test_only_paid_or_partially_shipped_orders_ship(deps: Dependencies) -> None:
    paid = await paid_order(deps, ("MUG-1", 1))
    fresh(await ship_order(deps, ctx(STAFF), OrderStep(str(paid.id))))

    refused = err(await create_shipment(deps, ctx(STAFF), shipping(paid, ("MUG-1", 1))))

    assert refused == OrderNotFulfillable(str(paid.id), "shipped")


async def test_customers_read_their_own_orders_shipments_and_may_not_ship(
    deps: Dependencies,
) -> None:
    paid = await paid_order(deps, ("MUG-1", 2))
    made = fresh(await create_shipment(deps, ctx(STAFF), shipping(paid, ("MUG-1", 1))))

    assert ok(await list_shipments(deps, ctx(ANN), str(paid.id))) == (made,)
    assert ok(await get_shipment(deps, ctx(ANN), str(made.id))) == made
    assert err(await list_shipments(deps, ctx(BOB), str(paid.id))) == OrderNotFound(str(paid.id))
    assert err(await get_shipment(deps, ctx(BOB), str(made.id))) == ShipmentNotFound(str(made.id))
    assert isinstance(
        err(await create_shipment(deps, ctx(ANN), shipping(paid, ("MUG-1", 1)))), Forbidden
    )
    assert err(
        await create_shipment(deps, ctx(BOB), shipping(paid, ("MUG-1", 1)))
    ) == OrderNotFound(str(paid.id))
    assert isinstance(
        err(await deliver_shipment(deps, ctx(ANN), ShipmentStep(str(made.id)))), Forbidden
    )
    assert err(await get_shipment(deps, ctx(STAFF), "nope")) == ShipmentNotFound("nope")
    assert err(await get_shipment(deps, ctx(STAFF), str(uuid.uuid4()))) is not None


async def test_a_retried_shipment_ships_once(deps: Dependencies) -> None:
    paid = await paid_order(deps, ("MUG-1", 3))
    request = shipping(paid, ("MUG-1", 2))

    first = fresh(await create_shipment(deps, keyed("s-1"), request))
    again = ok(await create_shipment(deps, keyed("s-1"), request))

    assert again == Replayed(first)
    assert len(ok(await list_shipments(deps, ctx(STAFF), str(paid.id)))) == 1
    assert (await order_now(deps, paid.id)).lines[0].shipped == 2
    await assert_conserved(deps, paid.id)


async def test_a_dry_run_ships_nothing(deps: Dependencies) -> None:
    paid = await paid_order(deps, ("MUG-1", 3))
    dry = Context(actor=STAFF, request_id="req-dry", mode=Mode.DRY_RUN)

    shipment = fresh(await create_shipment(deps, dry, shipping(paid, ("MUG-1", 2))))

    assert shipment.lines == (ShipmentLine("MUG-1", 2),)
    assert ok(await list_shipments(deps, ctx(STAFF), str(paid.id))) == ()
    assert (await order_now(deps, paid.id)) == paid


async def test_the_order_is_delivered_when_its_last_shipment_is(deps: Dependencies) -> None:
    paid = await paid_order(deps, ("MUG-1", 3))
    first = fresh(await create_shipment(deps, ctx(STAFF), shipping(paid, ("MUG-1", 2))))

    delivered = fresh(await deliver_shipment(deps, ctx(STAFF), ShipmentStep(str(first.id))))
    partly = await order_now(deps, paid.id)
    again = err(await deliver_shipment(deps, ctx(STAFF), ShipmentStep(str(first.id))))
    second = fresh(await create_shipment(deps, ctx(STAFF), shipping(paid, ("MUG-1", 1))))
    stale = err(await deliver_shipment(deps, ctx(STAFF), ShipmentStep(str(second.id), 7)))
    fresh(await deliver_shipment(deps, ctx(STAFF), ShipmentStep(str(second.id), 1)))
    done = await order_now(deps, paid.id)

    assert delivered.status is ShipmentStatus.DELIVERED
    assert delivered.delivered_at is not None
    # Partially shipped with every shipment delivered: it stays so, and counts its
    # delivered units' return window from its last delivery.
    assert (partly.status, partly.lines[0].delivered, partly.delivered_at) == (
        OrderStatus.PARTIALLY_SHIPPED,
        2,
        delivered.delivered_at,
    )
    assert again == ShipmentAlreadyDelivered(str(first.id))
    assert isinstance(stale, VersionConflict)
    assert (done.status, done.lines[0].delivered) == (OrderStatus.DELIVERED, 3)
    await assert_conserved(deps, paid.id)
    types = [e.type.value for e in await events_now(deps)]
    assert types[-2:] == ["shipment.delivered", "order.delivered"]


async def test_the_shortcuts_ship_and_deliver_everything_remaining(deps: Dependencies) -> None:
    paid = await paid_order(deps, ("MUG-1", 3), ("CUP-1", 2))
    fresh(await create_shipment(deps, ctx(STAFF), shipping(paid, ("MUG-1", 1))))

    shipped = fresh(await ship_order(deps, ctx(STAFF), OrderStep(str(paid.id))))
    delivered = fresh(await deliver_order(deps, ctx(STAFF), OrderStep(str(paid.id))))

    made = ok(await list_shipments(deps, ctx(STAFF), str(paid.id)))
    assert shipped.status is OrderStatus.SHIPPED
    assert [(s.lines, s.carrier, s.tracking_number) for s in made] == [
        ((ShipmentLine("MUG-1", 1),), "DHL", "JD0001"),
        ((ShipmentLine("CUP-1", 2), ShipmentLine("MUG-1", 2)), "unspecified", "unspecified"),
    ]
    assert {s.status for s in made} == {ShipmentStatus.DELIVERED}
    assert delivered.status is OrderStatus.DELIVERED
    assert [(line.shipped, line.delivered) for line in delivered.lines] == [(3, 3), (2, 2)]
    await assert_conserved(deps, paid.id)


async def test_every_shipment_step_is_audited(deps: Dependencies) -> None:
    paid = await paid_order(deps, ("MUG-1", 2))
    made = fresh(await create_shipment(deps, ctx(STAFF), shipping(paid, ("MUG-1", 1))))
    fresh(await deliver_shipment(deps, ctx(STAFF), ShipmentStep(str(made.id))))

    query = AuditQuery(target_type="shipment", target_id=str(made.id))
    entries = list(reversed(ok(await list_audit(deps, ctx(), query)).items))
    order_query = AuditQuery(target_type="order", target_id=str(paid.id))
    order_entries = list(reversed(ok(await list_audit(deps, ctx(), order_query)).items))

    assert [(e.operation, e.actor_id) for e in entries] == [
        ("shipment.create", STAFF.id),
        ("shipment.deliver", STAFF.id),
    ]
    assert [e.operation for e in order_entries][-2:] == [
        "order.partially_shipped",
        "order.deliver",
    ]
