"""Mail messages, their attempts, and the account tokens they carry, in PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from orderly_core.accounts.model import AccountToken, TokenPurpose
from orderly_core.mail.model import MailAttempt, MailMessage, MailQuery, MailStatus, MailTemplate
from orderly_core.mail.ports import OrderContact, Tried
from orderly_core.orders.model import order_view
from orderly_db.keyset import newest_first
from orderly_db.orders import SqlOrders
from orderly_db.statements import Columns, DriverConnection, Statement, json_text
from orderly_db.tables import account_tokens, mail_attempts, mail_messages


def _to_message(row: Columns) -> MailMessage:
    return MailMessage(
        id=row["id"],
        recipient=row["recipient"],
        template=MailTemplate(row["template"]),
        status=MailStatus(row["status"]),
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        data=row["data"],
        event_id=row["event_id"],
        secret=row["secret"],
        last_error=row["last_error"],
        provider_message_id=row["provider_message_id"],
        sent_at=row["sent_at"],
        resend_of=row["resend_of"],
    )


def _message_row(message: MailMessage) -> dict[str, object]:
    return {
        "id": message.id,
        "recipient": message.recipient,
        "template": message.template.value,
        "event_id": message.event_id,
        "status": message.status.value,
        "attempts": message.attempts,
        "next_attempt_at": message.next_attempt_at,
        "data": dict(message.data),
        "secret": message.secret,
        "last_error": message.last_error,
        "provider_message_id": message.provider_message_id,
        "sent_at": message.sent_at,
        "resend_of": message.resend_of,
        "created_at": message.created_at,
        "updated_at": message.updated_at,
    }


class SqlMail:
    def __init__(self, connection: AsyncConnection, driver: DriverConnection) -> None:
        self._db = connection
        self._driver = driver

    async def add(self, message: MailMessage) -> bool:
        # A message of an event to a recipient that has one already is no second message:
        # the unique (event_id, recipient) and the primary key both leave the row alone.
        statement = (
            pg_insert(mail_messages)
            .values(_message_row(message))
            .on_conflict_do_nothing()
            .returning(mail_messages.c.id)
        )
        return (await self._db.execute(statement)).first() is not None

    async def get(self, message_id: uuid.UUID, *, for_update: bool = False) -> MailMessage | None:
        query = select(mail_messages).where(mail_messages.c.id == message_id)
        if for_update:
            query = query.with_for_update()
        row = (await self._db.execute(query)).one_or_none()
        return None if row is None else _to_message(row._mapping)

    async def save(self, message: MailMessage) -> None:
        values = _message_row(message)
        del values["id"], values["created_at"]
        await self._db.execute(
            update(mail_messages).where(mail_messages.c.id == message.id).values(values)
        )

    async def find(
        self, *, after: tuple[datetime, uuid.UUID] | None, limit: int, query: MailQuery
    ) -> list[MailMessage]:
        table = mail_messages
        statement = select(table)
        if query.status is not None:
            statement = statement.where(table.c.status == query.status.value)
        if query.template is not None:
            statement = statement.where(table.c.template == query.template.value)
        if query.recipient is not None:
            statement = statement.where(table.c.recipient == query.recipient)
        page = newest_first(statement, table.c.created_at, table.c.id, after=after, limit=limit)
        return [_to_message(row._mapping) for row in await self._db.execute(page)]

    async def add_attempts(self, attempts: Sequence[MailAttempt]) -> None:
        if not attempts:
            return
        await self._db.execute(
            insert(mail_attempts),
            [
                {
                    "message_id": a.message_id,
                    "number": a.number,
                    "at": a.at,
                    "latency_ms": a.latency_ms,
                    "error": a.error,
                }
                for a in attempts
            ],
        )

    async def record(self, tried: Sequence[Tried]) -> list[uuid.UUID]:
        if not tried:
            return []
        messages = [entry.message for entry in tried]
        attempts = [entry.attempt for entry in tried]
        values = {
            "ids": [m.id for m in messages],
            "statuses": [m.status.value for m in messages],
            "attempts": [m.attempts for m in messages],
            "next_attempt_ats": [m.next_attempt_at for m in messages],
            "last_errors": [m.last_error for m in messages],
            "provider_message_ids": [m.provider_message_id for m in messages],
            "sent_ats": [m.sent_at for m in messages],
            "secrets": [m.secret for m in messages],
            "updated_ats": [m.updated_at for m in messages],
            "expected": [entry.expected_attempts for entry in tried],
            "numbers": [a.number for a in attempts],
            "ats": [a.at for a in attempts],
            "latencies": [a.latency_ms for a in attempts],
            "errors": [a.error for a in attempts],
        }
        return [row["id"] for row in await _RECORD.fetch(self._driver, values)]

    async def attempts(self, message_id: uuid.UUID) -> list[MailAttempt]:
        table = mail_attempts
        rows = await self._db.execute(
            select(table).where(table.c.message_id == message_id).order_by(table.c.number)
        )
        return [MailAttempt(r.message_id, r.number, r.at, r.latency_ms, r.error) for r in rows]

    async def claim_due(self, now: datetime, lease: timedelta, limit: int) -> list[MailMessage]:
        table = mail_messages
        due = (
            select(table)
            .where(table.c.status == MailStatus.PENDING.value, table.c.next_attempt_at <= now)
            .order_by(table.c.next_attempt_at, table.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        claimed = (await self._db.execute(due)).all()
        if not claimed:
            return []
        ids = [row.id for row in claimed]
        await self._db.execute(
            update(table).where(table.c.id.in_(ids)).values(next_attempt_at=now + lease)
        )
        return [_to_message(row._mapping) for row in claimed]  # as they were before the lease

    async def add_many(self, messages: Sequence[MailMessage]) -> int:
        if not messages:
            return 0
        rows = [_message_row(message) for message in messages]
        for row in rows:
            row["data"] = json_text(row["data"])
        values = {name: [row[name] for row in rows] for name in _MESSAGE_COLUMNS}
        return len(await _ADD_MESSAGES.fetch(self._driver, values))

    async def order_contacts(self, order_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, OrderContact]:
        found = await SqlOrders(self._db, self._driver).with_email(order_ids)
        return {
            order.id: OrderContact(order.email, order_view(order)) for order in found if order.email
        }


_MESSAGE_COLUMNS = (
    "id", "recipient", "template", "event_id", "status", "attempts", "next_attempt_at", "data",
    "secret", "last_error", "provider_message_id", "sent_at", "resend_of", "created_at",
    "updated_at",
)  # fmt: skip
# The relay's emails in one statement (an array per column); a message of an event to a
# recipient that has one already is no second message.
_ADD_MESSAGES = Statement.raw(
    f"""
    INSERT INTO mail_messages ({", ".join(_MESSAGE_COLUMNS)})
    SELECT * FROM unnest(
        $1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::text[], $6::int[],
        $7::timestamptz[], $8::jsonb[], $9::text[], $10::text[], $11::text[],
        $12::timestamptz[], $13::uuid[], $14::timestamptz[], $15::timestamptz[])
    ON CONFLICT DO NOTHING
    RETURNING id
    """,  # noqa: S608 - the column names are the constants above
    _MESSAGE_COLUMNS,
)


# Each message saved only if still pending with the attempts it had when claimed, and the
# attempts of those saved added: one statement for a batch of outcomes.
_RECORD = Statement.raw(
    """
    WITH v AS (
        SELECT * FROM unnest(
            $1::uuid[], $2::text[], $3::int[], $4::timestamptz[], $5::text[], $6::text[],
            $7::timestamptz[], $8::text[], $9::timestamptz[], $10::int[], $11::int[],
            $12::timestamptz[], $13::int[], $14::text[])
        AS v (id, status, attempts, next_attempt_at, last_error, provider_message_id, sent_at,
              secret, updated_at, expected, number, at, latency_ms, error)
    ), saved AS (
        UPDATE mail_messages AS m
        SET status = v.status, attempts = v.attempts, next_attempt_at = v.next_attempt_at,
            last_error = v.last_error, provider_message_id = v.provider_message_id,
            sent_at = v.sent_at, secret = v.secret, updated_at = v.updated_at
        FROM v WHERE m.id = v.id AND m.status = 'pending' AND m.attempts = v.expected
        RETURNING m.id
    ), tried AS (
        INSERT INTO mail_attempts (message_id, number, at, latency_ms, error)
        SELECT v.id, v.number, v.at, v.latency_ms, v.error FROM v JOIN saved USING (id)
    )
    SELECT id FROM saved
    """,
    (
        "ids", "statuses", "attempts", "next_attempt_ats", "last_errors",
        "provider_message_ids", "sent_ats", "secrets", "updated_ats", "expected", "numbers",
        "ats", "latencies", "errors",
    ),
)  # fmt: skip


def _to_token(row: Columns) -> AccountToken:
    return AccountToken(
        token_hash=row["token_hash"],
        user_id=row["user_id"],
        purpose=TokenPurpose(row["purpose"]),
        email=row["email"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        used_at=row["used_at"],
    )


class SqlAccountTokens:
    def __init__(self, connection: AsyncConnection) -> None:
        self._db = connection

    async def add(self, token: AccountToken) -> None:
        await self._db.execute(
            insert(account_tokens).values(
                token_hash=token.token_hash,
                user_id=token.user_id,
                purpose=token.purpose.value,
                email=token.email,
                created_at=token.created_at,
                expires_at=token.expires_at,
                used_at=token.used_at,
            )
        )

    async def get(self, token_hash: str, *, for_update: bool = False) -> AccountToken | None:
        query = select(account_tokens).where(account_tokens.c.token_hash == token_hash)
        if for_update:
            query = query.with_for_update()
        row = (await self._db.execute(query)).one_or_none()
        return None if row is None else _to_token(row._mapping)

    async def mark_used(self, token_hash: str, at: datetime) -> None:
        await self._db.execute(
            update(account_tokens)
            .where(account_tokens.c.token_hash == token_hash)
            .values(used_at=at)
        )

    async def void(self, user_id: uuid.UUID, purpose: TokenPurpose, at: datetime) -> None:
        table = account_tokens
        await self._db.execute(
            update(table)
            .where(
                table.c.user_id == user_id,
                table.c.purpose == purpose.value,
                table.c.used_at.is_(None),
            )
            .values(used_at=at)
        )
