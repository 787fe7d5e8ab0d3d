"""Sending due mail: claim, render and send a batch, then record what came of each.

PostgreSQL holds the truth. :func:`send_due_mail` claims a batch of due messages with a
lease (each is due again only when the lease ends, so another worker leaves it alone, and
takes it up if this worker dies mid-send), renders and sends them concurrently outside any
transaction, then records every outcome in one transaction. The server accepting a message
sends it; a refusal for good (a 5xx answer, a template that cannot be rendered) kills it at
once; anything else tries again on the policy's schedule, with jitter, until the last try
fails and the message is dead (a dead letter). A message sent twice (its worker killed
between the server's answer and the record) reaches the server twice and is recorded sent
once: the record of an attempt is kept only while the message is still pending at the
attempt it was claimed for.

A sent or dead message forgets the token it carried.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from returns.result import Failure, Result, Success

from orderly_core.mail.model import (
    ERROR_MAX,
    MailAttempt,
    MailMessage,
    MailPolicy,
    MailStatus,
    OutgoingMail,
)
from orderly_core.mail.ports import (
    MailOutcome,
    MailRenderer,
    MailSender,
    MailServices,
    MailUnit,
    Tried,
)
from orderly_core.platform.transaction import in_transaction
from orderly_core.shared.authorization import operations_denied
from orderly_core.shared.context import Context
from orderly_core.shared.errors import Forbidden

SEND_BATCH = 50
LEASE = timedelta(minutes=2)  # longer than the SMTP client's timeouts added up
CONCURRENCY = 8  # emails in flight at once per worker
JITTER = 0.1  # a retry waits its scheduled time, give or take 10 %


@dataclass(frozen=True, slots=True)
class SendReport:
    claimed: int
    sent: int
    failed: int  # tried again later
    dead: int


def outgoing(message: MailMessage) -> OutgoingMail:
    return OutgoingMail(
        message.id, message.recipient, message.template, message.data, message.secret
    )


def retry_delay(policy: MailPolicy, message_id: uuid.UUID, attempts: int) -> timedelta | None:
    """How long after failed attempt number ``attempts`` the next one waits, or ``None``
    when that was the last. The jitter is fixed per message and attempt."""
    schedule = policy.retry_schedule
    if attempts > len(schedule):
        return None
    spread = random.Random(f"{message_id}:{attempts}").uniform(-JITTER, JITTER)  # noqa: S311
    return schedule[attempts - 1] * (1 + spread)


def after_attempt(
    policy: MailPolicy, message: MailMessage, outcome: MailOutcome, at: datetime, now: datetime
) -> tuple[MailMessage, MailAttempt]:
    """``message`` (pending, as claimed) after one attempt with ``outcome``, and the attempt's
    record."""
    number = message.attempts + 1
    error = None if outcome.accepted else (outcome.error or "refused")[:ERROR_MAX]
    attempt = MailAttempt(message.id, number, at, outcome.latency_ms, error)
    tried = replace(message, attempts=number, last_error=error, updated_at=now)
    if outcome.accepted:
        done = replace(
            tried,
            status=MailStatus.SENT,
            sent_at=now,
            next_attempt_at=None,
            provider_message_id=outcome.provider_message_id,
            secret=None,
        )
    elif outcome.permanent or (delay := retry_delay(policy, message.id, number)) is None:
        done = replace(tried, status=MailStatus.DEAD, next_attempt_at=None, secret=None)
    else:
        done = replace(tried, next_attempt_at=now + delay)
    return done, attempt


async def deliver_one(
    renderer: MailRenderer, sender: MailSender, message: MailMessage
) -> MailOutcome:
    """Render and send one message; a template that cannot be rendered is a permanent
    failure (sending it again renders it the same way)."""
    started = time.monotonic()
    try:
        rendered = renderer.render(outgoing(message))
    except ValueError as error:
        elapsed = int((time.monotonic() - started) * 1000)
        return MailOutcome(
            accepted=False, latency_ms=elapsed, error=f"cannot render: {error}", permanent=True
        )
    return await sender.send(rendered)


async def record_outcomes(
    deps: MailServices,
    ctx: Context,
    outcomes: list[tuple[MailMessage, MailOutcome, datetime]],
) -> Result[list[MailMessage], Forbidden]:
    """Record each (claimed message, outcome, sent at) in one transaction; an outcome of a
    message recorded meanwhile by another run (no longer pending at that attempt) is
    dropped."""

    async def work(uow: MailUnit) -> Result[list[MailMessage], Forbidden]:
        now = deps.clock.now()
        tried = [
            Tried(*after_attempt(deps.mail, claimed, outcome, at, now), claimed.attempts)
            for claimed, outcome, at in outcomes
        ]
        saved = set(await uow.mail.record(tried))
        return Success([entry.message for entry in tried if entry.message.id in saved])

    return await in_transaction(deps, ctx, work)


async def claim_mail(
    deps: MailServices, ctx: Context, *, limit: int, lease: timedelta = LEASE
) -> Result[list[MailMessage], Forbidden]:
    """Lease up to ``limit`` due messages, soonest due first (rows another worker holds are
    skipped); each is due again only when ``lease`` has passed. The messages as they were
    claimed: their attempts say which attempt recording them expects."""
    if denied := operations_denied(ctx.actor, "send mail"):
        return Failure(denied)

    async def claim(uow: MailUnit) -> Result[list[MailMessage], Forbidden]:
        return Success(await uow.mail.claim_due(deps.clock.now(), lease, limit))

    return await in_transaction(deps, ctx, claim)


async def send_due_mail(
    deps: MailServices,
    ctx: Context,
    renderer: MailRenderer,
    sender: MailSender,
    *,
    batch: int = SEND_BATCH,
    lease: timedelta = LEASE,
    concurrency: int = CONCURRENCY,
) -> Result[SendReport, Forbidden]:
    """Claim up to ``batch`` due messages, send them (at most ``concurrency`` at once) and
    record the outcomes (see the module's description)."""
    found = await claim_mail(deps, ctx, limit=batch, lease=lease)
    if not isinstance(found, Success):
        return Failure(found.failure())
    claimed = found.unwrap()
    if not claimed:
        return Success(SendReport(0, 0, 0, 0))
    gate = asyncio.Semaphore(concurrency)

    async def one(message: MailMessage) -> tuple[MailMessage, MailOutcome, datetime]:
        async with gate:
            at = deps.clock.now()
            return message, await deliver_one(renderer, sender, message), at

    outcomes = list(await asyncio.gather(*(one(message) for message in claimed)))
    recorded = await record_outcomes(deps, ctx, outcomes)
    if not isinstance(recorded, Success):
        return Failure(recorded.failure())
    done = recorded.unwrap()
    sent = sum(1 for m in done if m.status is MailStatus.SENT)
    dead = sum(1 for m in done if m.status is MailStatus.DEAD)
    return Success(SendReport(len(claimed), sent, len(done) - sent - dead, dead))
