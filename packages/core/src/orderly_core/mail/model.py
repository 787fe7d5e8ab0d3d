"""Mail messages and their attempts, as frozen values.

A message is one email to one recipient, made from an event of the outbox (an order placed,
a shipment created...) or by an account flow (a password reset link). It is tried until the
SMTP server accepts it or the retry schedule runs out (it is then dead: a dead letter,
visible and resendable). Each try is an attempt, kept with its error and the server's id.

What a message says is kept as its template's variables (``data``); the rendered body is
never stored. A token an account email carries (``secret``) is kept only until the message
is sent or dead, then erased: after that it exists only in the recipient's mailbox.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from orderly_core.platform.outbox import EventType
from orderly_core.shared.paging import PageQuery

# When to try again after each failed attempt; after the last, the message is dead.
DEFAULT_RETRY_SCHEDULE: tuple[timedelta, ...] = (
    timedelta(seconds=10),
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=8),
)
ERROR_MAX = 500  # characters of an attempt's error that are kept


class MailTemplate(enum.StrEnum):
    """The emails Orderly sends; each is a pair of template files named after it."""

    ORDER_PLACED = "order_placed"
    ORDER_PAID = "order_paid"
    SHIPMENT_CREATED = "shipment_created"
    REFUND_SUCCEEDED = "refund_succeeded"
    RETURN_APPROVED = "return_approved"
    RETURN_RECEIVED = "return_received"
    PASSWORD_RESET = "password_reset"  # noqa: S105 - carries a token
    VERIFY_EMAIL = "verify_email"  # carries a token
    EMAIL_CHANGED = "email_changed"  # to the old address, after a change of email

    @property
    def carries_token(self) -> bool:
        return self in (MailTemplate.PASSWORD_RESET, MailTemplate.VERIFY_EMAIL)


# The events that send an email by default, and which one each sends.
DEFAULT_EVENT_TEMPLATES: Mapping[EventType, MailTemplate] = {
    EventType.ORDER_PLACED: MailTemplate.ORDER_PLACED,
    EventType.ORDER_PAID: MailTemplate.ORDER_PAID,
    EventType.SHIPMENT_CREATED: MailTemplate.SHIPMENT_CREATED,
    EventType.REFUND_SUCCEEDED: MailTemplate.REFUND_SUCCEEDED,
    EventType.RETURN_APPROVED: MailTemplate.RETURN_APPROVED,
    EventType.RETURN_RECEIVED: MailTemplate.RETURN_RECEIVED,
}


@dataclass(frozen=True, slots=True)
class MailPolicy:
    """How Orderly mails: which events send which email, and the retry schedule. Assembled
    once per process from settings (``MAIL_EVENTS``, ``MAIL_RETRY_SCHEDULE_S``)."""

    event_templates: Mapping[EventType, MailTemplate] = field(
        default_factory=lambda: dict(DEFAULT_EVENT_TEMPLATES)
    )
    retry_schedule: tuple[timedelta, ...] = DEFAULT_RETRY_SCHEDULE
    password_reset_ttl: timedelta = timedelta(minutes=30)
    verification_ttl: timedelta = timedelta(hours=48)
    unverified_may_order: bool = True  # customers whose email is unverified may place orders

    @property
    def max_attempts(self) -> int:
        return len(self.retry_schedule) + 1


class MailStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for its next attempt
    SENT = "sent"  # the SMTP server accepted it
    DEAD = "dead"  # every attempt failed, or the server refused it for good


@dataclass(frozen=True, slots=True)
class MailMessage:
    id: uuid.UUID
    recipient: str
    template: MailTemplate
    status: MailStatus
    attempts: int
    next_attempt_at: datetime | None
    created_at: datetime
    updated_at: datetime
    data: Mapping[str, Any]  # the template's variables, JSON-ready; never a secret
    event_id: uuid.UUID | None = None  # the event it tells of (None: an account email)
    secret: str | None = None  # the token it carries, until it is sent or dead
    last_error: str | None = None
    provider_message_id: str | None = None  # the Message-ID the server accepted
    sent_at: datetime | None = None
    resend_of: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class MailAttempt:
    message_id: uuid.UUID
    number: int  # 1 for the first try
    at: datetime
    latency_ms: int
    error: str | None  # None when the server accepted the message


@dataclass(frozen=True, slots=True)
class MailQuery(PageQuery):
    status: MailStatus | None = None
    recipient: str | None = None
    template: MailTemplate | None = None


@dataclass(frozen=True, slots=True)
class OutgoingMail:
    """A message as it is handed to the renderer: its variables, with the token if any."""

    id: uuid.UUID
    recipient: str
    template: MailTemplate
    data: Mapping[str, Any]
    secret: str | None


@dataclass(frozen=True, slots=True)
class RenderedMail:
    """An email ready to send: one plain-text and one HTML part."""

    id: uuid.UUID  # the message's id; the SMTP adapter derives the Message-ID from it
    recipient: str
    subject: str
    text: str
    html: str


def message_view(message: MailMessage) -> dict[str, Any]:
    """The public representation of a message: never its token."""
    return {
        "id": str(message.id),
        "recipient": message.recipient,
        "template": message.template.value,
        "event_id": None if message.event_id is None else str(message.event_id),
        "status": message.status.value,
        "attempts": message.attempts,
        "next_attempt_at": _utc(message.next_attempt_at),
        "last_error": message.last_error,
        "provider_message_id": message.provider_message_id,
        "sent_at": _utc(message.sent_at),
        "resend_of": None if message.resend_of is None else str(message.resend_of),
        "created_at": _utc(message.created_at),
        "updated_at": _utc(message.updated_at),
    }


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(UTC)
