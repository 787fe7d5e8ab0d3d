"""Builders shared by the mail tests: an order with a contact email, and the messages kept."""

from __future__ import annotations

import uuid

from orderly_core.mail.composing import mail_for_events
from orderly_core.mail.model import MailMessage, MailQuery
from orderly_core.orders.placement import LineRequest, NewOrder, place_order
from orderly_core.shared.context import Context
from orderly_core.unit_of_work import Dependencies
from tests.core.helpers import ANN, fresh, make_product

CONTACT = "ann@example.com"


async def placed_order(deps: Dependencies, email: str | None = CONTACT) -> uuid.UUID:
    await make_product(deps, "MUG-1", on_hand=10)
    new = NewOrder((LineRequest("MUG-1", 2),), email=email)
    return fresh(await place_order(deps, Context(ANN, "req-place"), new)).order.id


async def relay_mail(deps: Dependencies) -> int:
    """What the relay does for mail: every committed event not yet handed on makes its
    messages, and is marked handed on, in one transaction."""
    async with deps.unit_of_work() as uow:
        events = await uow.outbox.claim(1000)
        made = await mail_for_events(deps, uow, events)
        await uow.outbox.mark_dispatched([e.id for e in events], deps.clock.now())
        await uow.commit()
    return made


async def messages(deps: Dependencies) -> list[MailMessage]:
    """Every message kept, oldest first."""
    async with deps.unit_of_work() as uow:
        found = await uow.mail.find(after=None, limit=1000, query=MailQuery())
    return list(reversed(found))


async def message(deps: Dependencies, message_id: uuid.UUID) -> MailMessage:
    async with deps.unit_of_work() as uow:
        found = await uow.mail.get(message_id)
    assert found is not None
    return found
