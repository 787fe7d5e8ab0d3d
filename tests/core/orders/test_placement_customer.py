"""Whom an operator or Orderly places an order for: an active customer account, named by its
id or its email, on the fakes and on PostgreSQL. Anything else (no such account, text that is
neither an id nor an email, a deactivated account, a staff or admin account) is refused with
the name as given, in a dry run too, and nothing is reserved or recorded."""

from __future__ import annotations

import pytest

from orderly_core.orders.errors import CustomerNotFound
from orderly_core.orders.model import OrderQuery
from orderly_core.orders.placement import LineRequest, NewOrder, place_order
from orderly_core.orders.reading import list_orders
from orderly_core.shared.context import Actor, Context, Mode, Role
from orderly_core.unit_of_work import Dependencies
from tests.core.helpers import OPERATOR, ctx, err, fresh, make_product, ok, stored
from tests.core.orders.accounts import add_account

pytestmark = pytest.mark.postgres

ANN = "00000000-0000-4000-8000-0000000000a1"
STAFF_ACCOUNT = "00000000-0000-4000-8000-0000000000c3"
ADMIN_ACCOUNT = "00000000-0000-4000-8000-0000000000d4"
GONE = "00000000-0000-4000-8000-0000000000e5"
MUG = (LineRequest("MUG-1", 2),)
ORDERLY = Actor.system("scheduler")


@pytest.fixture
async def accounts(deps: Dependencies) -> Dependencies:
    """MUG-1 in stock; Ann, an active customer; a staff, an admin and a deactivated account."""
    await make_product(deps, "MUG-1")
    await add_account(deps, ANN, "ann@example.com")
    await add_account(deps, STAFF_ACCOUNT, "sam@example.com", role=Role.STAFF)
    await add_account(deps, ADMIN_ACCOUNT, "ada@example.com", role=Role.ADMIN)
    await add_account(deps, GONE, "gus@example.com", active=False)
    return deps


@pytest.mark.parametrize("actor", [OPERATOR, ORDERLY], ids=["operator", "job"])
@pytest.mark.parametrize("ref", [ANN, ANN.upper(), "ann@example.com", "  Ann@Example.COM "])
async def test_the_customer_is_named_by_id_or_email_and_the_order_is_theirs(
    accounts: Dependencies, actor: Actor, ref: str
) -> None:
    placed = fresh(await place_order(accounts, ctx(actor), NewOrder(MUG, customer_id=ref)))

    assert placed.order.customer_id == ANN
    [listed] = ok(await list_orders(accounts, ctx(), OrderQuery(customer_id=ANN))).items
    assert listed.id == placed.order.id


@pytest.mark.parametrize(
    "ref",
    [
        "00000000-0000-4000-8000-00000000ffff",  # no such account
        "not-a-uuid",
        "nobody@example.com",
        GONE,  # deactivated
        "gus@example.com",
        STAFF_ACCOUNT,  # staff and admins are not customers
        "ada@example.com",
    ],
)
@pytest.mark.parametrize("mode", [Mode.EXECUTE, Mode.DRY_RUN])
async def test_anything_but_an_active_customer_is_refused_and_nothing_is_reserved(
    accounts: Dependencies, ref: str, mode: Mode
) -> None:
    refusal = err(await place_order(accounts, ctx(OPERATOR, mode), NewOrder(MUG, customer_id=ref)))

    assert refusal == CustomerNotFound(ref)
    assert (refusal.code, refusal.field) == ("customer_not_found", "customer_id")
    assert refusal.detail == (
        f"'{ref}' is neither the id nor the email of an active customer account."
    )
    product = await stored(accounts, "MUG-1")
    assert product is not None
    assert product.stock.reserved == 0
    assert ok(await list_orders(accounts, ctx(), OrderQuery())).items == ()


async def test_a_refusal_is_not_kept_for_the_key_so_a_retry_after_sign_up_places(
    accounts: Dependencies,
) -> None:
    keyed = Context(OPERATOR, "req-1", idempotency_key="for-zoe")
    new = NewOrder(MUG, customer_id="zoe@example.com")

    refusal = err(await place_order(accounts, keyed, new))
    await add_account(accounts, "00000000-0000-4000-8000-0000000000f6", "zoe@example.com")
    placed = fresh(await place_order(accounts, keyed, new))

    assert refusal == CustomerNotFound("zoe@example.com")
    assert placed.order.customer_id == "00000000-0000-4000-8000-0000000000f6"


async def test_a_user_orders_for_their_own_account_without_naming_it(
    accounts: Dependencies,
) -> None:
    ann = Actor.user(ANN, Role.CUSTOMER)

    placed = fresh(await place_order(accounts, ctx(ann), NewOrder(MUG, customer_id="not-a-uuid")))

    assert placed.order.customer_id == ANN
