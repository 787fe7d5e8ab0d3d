"""A whole customer's story on the in-memory fakes, and the emails it makes: an order placed,
paid, shipped with tracking, delivered, part of it returned and refunded; a sign-up, a password
reset and a change of email. Realistic data for every template."""

from __future__ import annotations

from orderly_core.accounts.mailed_links import request_password_reset
from orderly_core.accounts.profile import ProfileChanges, update_profile
from orderly_core.accounts.registration import Registration, register
from orderly_core.mail.composing import mail_for_events
from orderly_core.mail.model import MailMessage, MailQuery
from orderly_core.orders.address import Address
from orderly_core.orders.placement import LineRequest, NewOrder, place_order
from orderly_core.orders.steps import OrderStep
from orderly_core.returns.requests import request_return
from orderly_core.returns.steps import ReturnDecision, approve_return, receive_return
from orderly_core.shared.context import Actor
from orderly_core.shipments.model import Tracking
from orderly_core.shipments.steps import deliver_order, ship_order
from orderly_core.testing import in_memory_dependencies
from orderly_core.unit_of_work import Dependencies
from tests.core.helpers import STAFF, ctx, fresh, make_product, ok, pay_order
from tests.core.payments.helpers import keyed, shop
from tests.core.returns.helpers import asking, receipt

CUSTOMER_EMAIL = "ann@example.com"
DISPLAY_NAME = "Ann <b>O'Hara</b> & Co"  # markup in a name: escaped in HTML, kept in text
TRACKING = Tracking("DHL", "JD0001", "https://track.example/JD0001?lang=en&x=1")
ADDRESS = Address("Ann O'Hara", "Hauptstr. 1", "Berlin", "DE", postal_code="10115")


async def story() -> tuple[Dependencies, list[MailMessage]]:
    """The shop after the story, and every email it made, oldest first."""
    deps, _, _ = shop(in_memory_dependencies(), by_event=False)
    await make_product(deps, "MUG-1", on_hand=100, unit_price=1250)
    await make_product(deps, "CUP-2", on_hand=100, unit_price=400)
    ann = ok(
        await register(
            deps,
            ctx(Actor.anonymous()),
            Registration(CUSTOMER_EMAIL, "correct horse battery", DISPLAY_NAME),
        )
    )
    new = NewOrder(
        (LineRequest("MUG-1", 3), LineRequest("CUP-2", 2)),
        email=CUSTOMER_EMAIL,
        shipping_address=ADDRESS,
    )
    placed = fresh(await place_order(deps, keyed(ann.actor), new)).order
    step = OrderStep(str(placed.id))
    fresh(await pay_order(deps, ctx(STAFF), step))
    fresh(await ship_order(deps, ctx(STAFF), step, TRACKING))
    fresh(await deliver_order(deps, ctx(STAFF), step))
    ret = fresh(await request_return(deps, keyed(ann.actor), asking(placed.id, ("MUG-1", 1))))
    fresh(await approve_return(deps, ctx(STAFF), ReturnDecision(str(ret.id))))
    fresh(await receive_return(deps, keyed(STAFF, "k"), receipt(ret, ("MUG-1", 1, "restock"))))
    ok(await request_password_reset(deps, ctx(Actor.anonymous()), CUSTOMER_EMAIL))
    ok(await update_profile(deps, ctx(ann.actor), ProfileChanges(email="ann@new.example")))
    async with deps.unit_of_work() as uow:
        events = await uow.outbox.claim(10_000)
        await mail_for_events(deps, uow, events)
        await uow.commit()
        found = await uow.mail.find(after=None, limit=1000, query=MailQuery())
    return deps, list(reversed(found))
