"""Messages made from the outbox's events: which events mail, to whom, and only once. On the
fakes and on PostgreSQL."""

from __future__ import annotations

from dataclasses import replace

from orderly_core.mail.composing import mail_for_events
from orderly_core.mail.model import MailPolicy, MailStatus, MailTemplate
from orderly_core.orders.steps import OrderStep
from orderly_core.platform.outbox import EventType
from orderly_core.shared.context import Context
from orderly_core.unit_of_work import Dependencies
from tests.core.helpers import STAFF, fresh, pay_order
from tests.core.mail.helpers import CONTACT, messages, placed_order, relay_mail


async def test_placing_and_paying_mail_the_contact_once_each(deps: Dependencies) -> None:
    order_id = await placed_order(deps)
    fresh(await pay_order(deps, Context(STAFF, "req-pay"), OrderStep(str(order_id))))

    made = await relay_mail(deps)
    again = await relay_mail(deps)

    kept = await messages(deps)
    assert (made, again) == (2, 0)
    assert {m.template for m in kept} == {MailTemplate.ORDER_PLACED, MailTemplate.ORDER_PAID}
    assert {m.recipient for m in kept} == {CONTACT}
    assert all(m.status is MailStatus.PENDING and m.attempts == 0 for m in kept)
    assert all(m.secret is None and m.event_id is not None for m in kept)
    [placed] = [m for m in kept if m.template is MailTemplate.ORDER_PLACED]
    assert placed.data["order"]["id"] == str(order_id)
    assert placed.data["order"]["total"] == 2500


async def test_the_same_event_handed_on_twice_makes_one_message(deps: Dependencies) -> None:
    await placed_order(deps)
    async with deps.unit_of_work() as uow:
        events = await uow.outbox.claim(100)
        first = await mail_for_events(deps, uow, events)
        second = await mail_for_events(deps, uow, events)
        await uow.commit()

    assert (first, second) == (1, 0)
    assert len(await messages(deps)) == 1


async def test_the_policy_names_the_events_that_mail(deps: Dependencies) -> None:
    quiet = replace(deps, mail=MailPolicy(event_templates={}))
    order_id = await placed_order(quiet)
    fresh(await pay_order(quiet, Context(STAFF, "req-pay"), OrderStep(str(order_id))))
    paid_only = replace(
        deps, mail=MailPolicy(event_templates={EventType.ORDER_PAID: MailTemplate.ORDER_PAID})
    )

    assert await relay_mail(paid_only) == 1
    assert [m.template for m in await messages(deps)] == [MailTemplate.ORDER_PAID]


async def test_an_order_without_a_contact_email_mails_nobody(deps: Dependencies) -> None:
    await placed_order(deps, email=None)  # the customer has no account here: no email

    assert await relay_mail(deps) == 0
    assert await messages(deps) == []
