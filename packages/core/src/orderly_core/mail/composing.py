"""Making mail messages: from the outbox's events, and for the account flows.

Every message is made in the transaction of the change it tells of (an account flow's token,
the relay's hand-over of an event), and sent later by the worker, never inside a request.
A message of an event is made at most once per recipient: the (event, recipient) pair is
unique, so an event relayed twice makes no second email.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from orderly_core.mail.model import MailMessage, MailStatus, MailTemplate
from orderly_core.mail.ports import MailServices, MailUnit, OrderContact
from orderly_core.platform.outbox import Event, EventType, json_ready
from orderly_core.platform.ports import Services

_MESSAGE_IDS = uuid.UUID("0b6c7a1e-52f4-4d8e-9b1d-6c3f2a9e7d10")  # namespace of event mail ids


def new_message(
    deps: Services[object],
    recipient: str,
    template: MailTemplate,
    data: Mapping[str, Any],
    *,
    event_id: uuid.UUID | None = None,
    secret: str | None = None,
    message_id: uuid.UUID | None = None,
) -> MailMessage:
    """A pending message, due now, with no attempts."""
    now = deps.clock.now()
    return MailMessage(
        id=message_id or deps.ids.new_id(),
        recipient=recipient,
        template=template,
        status=MailStatus.PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
        data=json_ready(data),
        event_id=event_id,
        secret=secret,
    )


def order_of(event: Event) -> uuid.UUID | None:
    """The order an event is about: its subject for an order's events, else the
    ``order_id`` its data names (shipments, refunds, returns)."""
    kind, _, ref = event.subject.partition(":")
    raw = ref if kind == "order" else event.data.get("order_id")
    try:
        return uuid.UUID(str(raw)) if raw else None
    except ValueError:
        return None


def messages_for(deps: MailServices, event: Event, contact: OrderContact) -> MailMessage | None:
    """The email ``event`` sends to the order's contact, if the policy maps its type to a
    template. Its id derives from the event and the recipient, so the same event makes the
    same message."""
    template = deps.mail.event_templates.get(event.type)
    if template is None:
        return None
    data = {
        "event_type": event.type.value,
        "order": contact.order,
        event.subject.partition(":")[0]: dict(event.data),
    }
    message_id = uuid.uuid5(_MESSAGE_IDS, f"{event.id}:{contact.email}")
    return new_message(
        deps, contact.email, template, data, event_id=event.id, message_id=message_id
    )


def mails_events(deps: MailServices, event_type: EventType) -> bool:
    return event_type in deps.mail.event_templates


async def mail_for_events(deps: MailServices, uow: MailUnit, events: Sequence[Event]) -> int:
    """Make, in the caller's transaction, the messages ``events`` send (one per event that
    the policy mails, to its order's contact email); the number made. The relay calls this
    in the transaction that hands the events on, so a message exists if and only if its
    event was handed on, and once."""
    mailing = [
        (event, order_id)
        for event in events
        if mails_events(deps, event.type) and (order_id := order_of(event)) is not None
    ]
    if not mailing:
        return 0
    contacts = await uow.mail.order_contacts(sorted({order_id for _, order_id in mailing}))
    messages = [
        message
        for event, order_id in mailing
        if (contact := contacts.get(order_id)) is not None
        and (message := messages_for(deps, event, contact)) is not None
    ]
    return await uow.mail.add_many(messages)
