"""A replay answers only an actor who may still perform the operation: a key used while staff
answers nothing more once its user is a customer, on the fakes and on PostgreSQL."""

from __future__ import annotations

import pytest

from orderly_core.catalogue.use_cases import NewProduct, create_product
from orderly_core.orders.errors import OrderNotFound
from orderly_core.orders.model import Order
from orderly_core.orders.placement import LineRequest, NewOrder, place_order
from orderly_core.orders.steps import OrderStep
from orderly_core.platform.idempotency import Replayed
from orderly_core.shared.context import Actor, Context, Role
from orderly_core.shared.errors import Forbidden, VersionConflict
from orderly_core.shipments.steps import cancel_order, ship_order
from orderly_core.unit_of_work import Dependencies
from tests.core.helpers import err, fresh, make_product, ok, pay_order

pytestmark = pytest.mark.postgres

ANN = Actor.user("00000000-0000-0000-0000-0000000000a1", Role.CUSTOMER)
STAFF_ID = "00000000-0000-0000-0000-00000000051a"
AS_STAFF = Actor.user(STAFF_ID, Role.STAFF)
DEMOTED = Actor.user(STAFF_ID, Role.CUSTOMER)
KEY = "step-9c1d"


def keyed(actor: Actor, key: str = KEY) -> Context:
    return Context(actor=actor, request_id="req-replay", idempotency_key=key)


async def _order_of(deps: Dependencies, actor: Actor) -> Order:
    placed = await place_order(
        deps, keyed(actor, "place-" + actor.id), NewOrder((LineRequest("MUG-1", 1),))
    )
    return fresh(placed).order


async def test_a_demoted_user_replaying_a_step_on_someone_elses_order_finds_no_order(
    deps: Dependencies,
) -> None:
    await make_product(deps, "MUG-1")
    anns = await _order_of(deps, ANN)
    fresh(await pay_order(deps, keyed(AS_STAFF, "pay-anns"), OrderStep(str(anns.id))))
    step = OrderStep(str(anns.id), expected_version=2)
    shipped = fresh(await ship_order(deps, keyed(AS_STAFF), step))

    replayed = await ship_order(deps, keyed(DEMOTED), step)

    assert shipped.customer_id == ANN.id
    assert err(replayed) == OrderNotFound(str(anns.id))
    # The same key still replays for the user while they are staff.
    again = ok(await ship_order(deps, keyed(AS_STAFF), step))
    assert isinstance(again, Replayed)
    assert again.original == shipped


async def test_a_replayed_refusal_about_someone_elses_order_is_not_answered_either(
    deps: Dependencies,
) -> None:
    await make_product(deps, "MUG-1")
    anns = await _order_of(deps, ANN)
    stale = OrderStep(str(anns.id), expected_version=7)  # refused: a version conflict
    refusal = err(await cancel_order(deps, keyed(AS_STAFF), stale))

    replayed = err(await cancel_order(deps, keyed(DEMOTED), stale))

    assert isinstance(refusal, VersionConflict)
    assert replayed == OrderNotFound(str(anns.id))


async def test_a_demoted_user_replaying_a_shipment_of_their_own_order_is_forbidden(
    deps: Dependencies,
) -> None:
    await make_product(deps, "MUG-1")
    own = await _order_of(deps, AS_STAFF)
    ok(await pay_order(deps, keyed(AS_STAFF, "pay-own"), OrderStep(str(own.id), 1)))
    step = OrderStep(str(own.id), expected_version=2)
    fresh(await ship_order(deps, keyed(AS_STAFF), step))

    replayed = err(await ship_order(deps, keyed(DEMOTED), step))

    assert replayed == Forbidden("mark orders shipped")


async def test_a_demoted_user_still_gets_the_replay_of_their_own_placement(
    deps: Dependencies,
) -> None:
    await make_product(deps, "MUG-1")
    new = NewOrder((LineRequest("MUG-1", 1),))
    placed = fresh(await place_order(deps, keyed(AS_STAFF), new))

    replayed = ok(await place_order(deps, keyed(DEMOTED), new))

    assert isinstance(replayed, Replayed)
    assert replayed.original.order.id == placed.order.id


async def test_a_demoted_user_replaying_a_catalogue_write_is_forbidden(deps: Dependencies) -> None:
    new = NewProduct(sku="LAMP-1", name="Lamp", unit_price=4000, currency="EUR", on_hand=1)
    fresh(await create_product(deps, keyed(AS_STAFF), new))

    replayed = err(await create_product(deps, keyed(DEMOTED), new))

    assert replayed == Forbidden("create products")
