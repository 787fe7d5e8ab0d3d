"""In-memory fakes of the mail context's ports, the account tokens, and a scripted mailer."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from orderly_core.accounts.model import AccountToken, TokenPurpose
from orderly_core.mail.model import (
    MailAttempt,
    MailMessage,
    MailQuery,
    MailStatus,
    OutgoingMail,
    RenderedMail,
)
from orderly_core.mail.ports import MailOutcome, OrderContact, Tried
from orderly_core.orders.model import Order, order_view


class InMemoryMail:
    def __init__(
        self,
        rows: dict[uuid.UUID, MailMessage],
        attempts: list[MailAttempt],
        orders: dict[uuid.UUID, Order],
    ) -> None:
        self._rows = rows
        self._attempts = attempts
        self._orders = orders

    async def add(self, message: MailMessage) -> bool:
        if message.id in self._rows:
            return False
        if message.event_id is not None and any(
            m.event_id == message.event_id and m.recipient == message.recipient
            for m in self._rows.values()
        ):
            return False
        self._rows[message.id] = message
        return True

    async def get(self, message_id: uuid.UUID, *, for_update: bool = False) -> MailMessage | None:  # noqa: ARG002
        return self._rows.get(message_id)

    async def save(self, message: MailMessage) -> None:
        self._rows[message.id] = message

    async def find(
        self, *, after: tuple[datetime, uuid.UUID] | None, limit: int, query: MailQuery
    ) -> list[MailMessage]:
        newest_first = sorted(self._rows.values(), key=lambda m: (m.created_at, m.id), reverse=True)
        return [
            m
            for m in newest_first
            if (after is None or (m.created_at, m.id) < after)
            and query.status in (None, m.status)
            and query.template in (None, m.template)
            and query.recipient in (None, m.recipient)
        ][:limit]

    async def add_attempts(self, attempts: Sequence[MailAttempt]) -> None:
        self._attempts.extend(attempts)

    async def record(self, tried: Sequence[Tried]) -> list[uuid.UUID]:
        saved = []
        for entry in tried:
            stored = self._rows.get(entry.message.id)
            if (
                stored is None
                or stored.status is not MailStatus.PENDING
                or stored.attempts != entry.expected_attempts
            ):
                continue
            self._rows[stored.id] = entry.message
            self._attempts.append(entry.attempt)
            saved.append(stored.id)
        return saved

    async def attempts(self, message_id: uuid.UUID) -> list[MailAttempt]:
        return sorted(
            (a for a in self._attempts if a.message_id == message_id), key=lambda a: a.number
        )

    async def claim_due(self, now: datetime, lease: timedelta, limit: int) -> list[MailMessage]:
        due = sorted(
            (
                m
                for m in self._rows.values()
                if m.status is MailStatus.PENDING
                and m.next_attempt_at is not None
                and m.next_attempt_at <= now
            ),
            key=lambda m: (m.next_attempt_at or now, m.id),
        )[:limit]
        claimed = []
        for message in due:
            leased = replace(message, next_attempt_at=now + lease)
            self._rows[message.id] = leased
            claimed.append(message)
        return claimed

    async def add_many(self, messages: Sequence[MailMessage]) -> int:
        return sum([await self.add(message) for message in messages])

    async def order_contacts(self, order_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, OrderContact]:
        return {
            order.id: OrderContact(order.email, order_view(order))
            for order_id in order_ids
            if (order := self._orders.get(order_id)) is not None and order.email is not None
        }


class InMemoryAccountTokens:
    def __init__(self, rows: dict[str, AccountToken]) -> None:
        self._rows = rows

    async def add(self, token: AccountToken) -> None:
        self._rows[token.token_hash] = token

    async def get(self, token_hash: str, *, for_update: bool = False) -> AccountToken | None:  # noqa: ARG002
        return self._rows.get(token_hash)

    async def mark_used(self, token_hash: str, at: datetime) -> None:
        self._rows[token_hash] = replace(self._rows[token_hash], used_at=at)

    async def void(self, user_id: uuid.UUID, purpose: TokenPurpose, at: datetime) -> None:
        for key, token in list(self._rows.items()):
            if token.user_id == user_id and token.purpose is purpose and token.used_at is None:
                self._rows[key] = replace(token, used_at=at)


class PlainRenderer:
    """Renders every template as its name and variables, the token included."""

    def render(self, mail: OutgoingMail) -> RenderedMail:
        body = f"{mail.template.value} {dict(mail.data)} token={mail.secret}"
        return RenderedMail(mail.id, mail.recipient, mail.template.value, body, f"<p>{body}</p>")


class ScriptedMailer:
    """Accepts every email, or answers the outcomes it is given in turn; keeps what it got."""

    def __init__(self, *outcomes: MailOutcome) -> None:
        self._outcomes = list(outcomes)
        self.sent: list[RenderedMail] = []

    async def send(self, mail: RenderedMail) -> MailOutcome:
        self.sent.append(mail)
        if self._outcomes:
            return self._outcomes.pop(0)
        return MailOutcome(accepted=True, latency_ms=1, provider_message_id=f"<{mail.id}@test>")
