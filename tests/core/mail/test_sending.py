"""Sending due mail: claims with a lease, outcomes recorded once, retries on the schedule,
dead letters, tokens forgotten once sent. On the fakes and on PostgreSQL, with a scripted
mailer (the worker's tests send to a real SMTP catcher)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from orderly_core.mail.composing import new_message
from orderly_core.mail.model import (
    MailMessage,
    MailPolicy,
    MailStatus,
    MailTemplate,
    OutgoingMail,
    RenderedMail,
)
from orderly_core.mail.ports import MailOutcome
from orderly_core.mail.sending import LEASE, record_outcomes, send_due_mail
from orderly_core.shared.context import Actor, Context
from orderly_core.shared.errors import Forbidden
from orderly_core.testing import FixedClock
from orderly_core.testing.mail import PlainRenderer, ScriptedMailer
from orderly_core.unit_of_work import Dependencies
from tests.core.helpers import STAFF, err, ok
from tests.core.mail.helpers import message

SYSTEM = Context(Actor.system("worker"), "req-worker")
START = datetime.fromisoformat("2031-04-01T09:00:00+00:00")
SCHEDULE = (timedelta(seconds=10), timedelta(seconds=60))
TRANSIENT = MailOutcome(accepted=False, latency_ms=3, error="421 try later")
PERMANENT = MailOutcome(accepted=False, latency_ms=3, error="550 no such user", permanent=True)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def shop(deps: Dependencies, clock: FixedClock) -> Dependencies:
    return replace(deps, clock=clock, mail=MailPolicy(retry_schedule=SCHEDULE))


async def queued(
    deps: Dependencies,
    template: MailTemplate = MailTemplate.EMAIL_CHANGED,
    secret: str | None = None,
) -> MailMessage:
    data = {"display_name": "Ann", "old_email": "a@example.com", "new_email": "b@example.com"}
    made = new_message(deps, "ann@example.com", template, data, secret=secret)
    async with deps.unit_of_work() as uow:
        assert await uow.mail.add(made)
        await uow.commit()
    return made


async def test_a_due_message_is_sent_and_recorded_sent_once(shop: Dependencies) -> None:
    made = await queued(shop, MailTemplate.PASSWORD_RESET, secret="raw-token-123")
    mailer = ScriptedMailer()

    report = ok(await send_due_mail(shop, SYSTEM, PlainRenderer(), mailer))
    again = ok(await send_due_mail(shop, SYSTEM, PlainRenderer(), mailer))

    sent = await message(shop, made.id)
    assert (report.claimed, report.sent, again.claimed) == (1, 1, 0)
    assert len(mailer.sent) == 1
    assert "raw-token-123" in mailer.sent[0].text  # the email carries the token...
    assert sent.secret is None  # ...and Orderly forgets it once sent
    assert (sent.status, sent.attempts, sent.sent_at) == (MailStatus.SENT, 1, START)
    assert sent.provider_message_id == f"<{made.id}@test>"
    async with shop.unit_of_work() as uow:
        [attempt] = await uow.mail.attempts(made.id)
    assert (attempt.number, attempt.error) == (1, None)


async def test_failures_wait_their_turn_on_the_schedule_then_go_out(
    shop: Dependencies, clock: FixedClock
) -> None:
    made = await queued(shop)
    mailer = ScriptedMailer(TRANSIENT)

    first = ok(await send_due_mail(shop, SYSTEM, PlainRenderer(), mailer))
    waiting = await message(shop, made.id)
    too_soon = ok(await send_due_mail(shop, SYSTEM, PlainRenderer(), mailer))
    clock.advance(timedelta(seconds=12))
    second = ok(await send_due_mail(shop, SYSTEM, PlainRenderer(), mailer))

    assert (first.failed, too_soon.claimed, second.sent) == (1, 0, 1)
    assert waiting.status is MailStatus.PENDING
    assert waiting.last_error == "421 try later"
    assert waiting.next_attempt_at is not None
    assert timedelta(seconds=9) <= waiting.next_attempt_at - START <= timedelta(seconds=11)
    assert (await message(shop, made.id)).status is MailStatus.SENT
    async with shop.unit_of_work() as uow:
        assert [a.error for a in await uow.mail.attempts(made.id)] == ["421 try later", None]


async def test_the_last_failure_or_a_refusal_for_good_makes_a_dead_letter(
    shop: Dependencies, clock: FixedClock
) -> None:
    tried_out = await queued(shop)
    ok(await send_due_mail(shop, SYSTEM, PlainRenderer(), ScriptedMailer(*[TRANSIENT] * 3)))
    for _ in range(2):
        clock.advance(timedelta(minutes=2))
        ok(await send_due_mail(shop, SYSTEM, PlainRenderer(), ScriptedMailer(TRANSIENT)))
    refused = await queued(shop, MailTemplate.VERIFY_EMAIL, secret="another-token")

    report = ok(await send_due_mail(shop, SYSTEM, PlainRenderer(), ScriptedMailer(PERMANENT)))

    dead = await message(shop, tried_out.id)
    assert (dead.status, dead.attempts) == (MailStatus.DEAD, 3)
    gone = await message(shop, refused.id)
    assert (report.dead, gone.status, gone.attempts) == (1, MailStatus.DEAD, 1)
    assert gone.secret is None  # a dead letter keeps no token either
    assert gone.last_error == "550 no such user"


async def test_a_claimed_message_is_left_alone_until_its_lease_ends(
    shop: Dependencies, clock: FixedClock
) -> None:
    """A worker killed between claiming and recording: the message is sent again once its
    lease has ended, and recorded sent once."""
    made = await queued(shop)
    async with shop.unit_of_work() as uow:
        [claimed] = await uow.mail.claim_due(clock.now(), LEASE, 10)
        await uow.commit()  # ...and this worker dies here, before it records anything

    during = ok(await send_due_mail(shop, SYSTEM, PlainRenderer(), ScriptedMailer()))
    clock.advance(LEASE + timedelta(seconds=1))
    after = ok(await send_due_mail(shop, SYSTEM, PlainRenderer(), ScriptedMailer()))

    assert claimed.id == made.id
    assert (during.claimed, after.sent) == (0, 1)
    async with shop.unit_of_work() as uow:
        assert len(await uow.mail.attempts(made.id)) == 1


async def test_an_outcome_recorded_meanwhile_by_another_run_is_dropped(
    shop: Dependencies,
) -> None:
    made = await queued(shop)
    ok(await send_due_mail(shop, SYSTEM, PlainRenderer(), ScriptedMailer()))
    late = MailOutcome(accepted=False, latency_ms=1, error="too late")

    recorded = ok(await record_outcomes(shop, SYSTEM, [(made, late, START)]))

    assert recorded == []
    assert (await message(shop, made.id)).status is MailStatus.SENT


async def test_a_template_that_cannot_be_rendered_is_dead_at_once(shop: Dependencies) -> None:
    made = await queued(shop)

    class Broken:
        def render(self, mail: OutgoingMail) -> RenderedMail:
            raise ValueError(f"{mail.template.value}: 'order' is undefined")

    mailer = ScriptedMailer()
    ok(await send_due_mail(shop, SYSTEM, Broken(), mailer))

    dead = await message(shop, made.id)
    assert mailer.sent == []
    assert dead.status is MailStatus.DEAD
    assert dead.last_error is not None
    assert "cannot render" in dead.last_error


async def test_two_senders_at_once_send_each_message_once(shop: Dependencies) -> None:
    made = [await queued(shop) for _ in range(6)]
    mailer = ScriptedMailer()

    reports = await asyncio.gather(
        *(send_due_mail(shop, SYSTEM, PlainRenderer(), mailer, batch=2) for _ in range(4))
    )

    assert sum(ok(r).sent for r in reports) == 6
    assert sorted(m.id for m in mailer.sent) == sorted(m.id for m in made)


async def test_only_orderly_itself_or_an_operator_sends(shop: Dependencies) -> None:
    refused = await send_due_mail(shop, Context(STAFF, "r"), PlainRenderer(), ScriptedMailer())
    assert isinstance(err(refused), Forbidden)
