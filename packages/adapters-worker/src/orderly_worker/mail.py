"""Mail, the delivery engine's second channel: due emails claimed from PostgreSQL, sent
concurrently over SMTP, their outcomes recorded in batches.

The engine (:mod:`orderly_worker.engine`) drives it: on every wake-up (an event committed,
an attempt ended, the safety-net poll) it asks the channel to claim due messages while it has
room (at most ``concurrency`` emails in flight per worker, each leased for ``lease``), and its
recorder records the ended ones with the webhook deliveries'. Several workers send at once
without sending one email twice at a time; a worker killed mid-send leaves its leases to run
out and another worker sends those emails again (at least once at the SMTP server, recorded
once). Messages the account flows make (a reset link) are picked up at the next wake-up,
within the engine's poll interval.

Each message is logged by id, template and outcome: never its recipient's address, body or
token.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from orderly_core.mail.model import MailMessage, MailStatus
from orderly_core.mail.ports import MailOutcome, MailRenderer, MailSender
from orderly_core.mail.sending import LEASE, claim_mail, deliver_one, record_outcomes
from orderly_core.shared.context import Actor, Context
from orderly_core.unit_of_work import Dependencies
from orderly_worker.telemetry import observe_mail

MAIL_ACTOR = Actor.system("mail")

log = structlog.get_logger("orderly_worker.mail")


@dataclass(frozen=True, slots=True)
class MailOptions:
    concurrency: int = 8  # emails in flight at once, per worker
    batch: int = 32  # messages claimed in one transaction
    lease: timedelta = LEASE  # longer than an SMTP conversation may last


class MailChannel:
    def __init__(
        self,
        deps: Dependencies,
        renderer: MailRenderer,
        sender: MailSender,
        options: MailOptions,
    ) -> None:
        self._deps = deps
        self._renderer = renderer
        self._sender = sender
        self._options = options
        self._sending: set[asyncio.Task[None]] = set()
        self._outcomes: list[tuple[MailMessage, MailOutcome, datetime]] = []
        self._waiting = False  # the last claim filled every free place: more may be due
        self.on_ended: Callable[[], None] = lambda: None  # wakes the engine's recorder
        self.on_room: Callable[[], None] = lambda: None  # wakes the engine to claim again

    @property
    def under_way(self) -> int:
        return len(self._sending)

    @property
    def ended(self) -> bool:
        return bool(self._outcomes)

    async def claim(self, ctx: Context) -> None:
        """Claim and send due messages while there is room."""
        options = self._options
        while (free := options.concurrency - len(self._sending)) > 0:
            limit = min(options.batch, free)
            claimed = (await claim_mail(self._deps, ctx, limit=limit, lease=options.lease)).unwrap()
            for message in claimed:
                task = asyncio.create_task(self._attempt(message))
                self._sending.add(task)
                task.add_done_callback(self._finished)
            if len(claimed) < limit:
                self._waiting = False
                return
        self._waiting = True

    async def _attempt(self, message: MailMessage) -> None:
        at = self._deps.clock.now()
        try:
            outcome = await deliver_one(self._renderer, self._sender, message)
        except Exception as error:  # a bug in a sender must not lose the record
            outcome = MailOutcome(accepted=False, latency_ms=0, error=type(error).__name__)
            log.exception("mail_send_crashed", message_id=str(message.id))
        self._outcomes.append((message, outcome, at))
        self.on_ended()

    def _finished(self, task: asyncio.Task[None]) -> None:
        """An email's attempt is over: once half the room is free again and emails wait for
        it, the engine claims them (here, where the attempt has left the count: attempts
        that end together all end before any of these callbacks runs)."""
        self._sending.discard(task)
        if self._waiting and len(self._sending) <= self._options.concurrency // 2:
            self.on_room()

    async def record_ended(self) -> None:
        """Record the ended attempts in one transaction; on failure they are kept for the
        next try."""
        batch, self._outcomes = self._outcomes, []
        if not batch:
            return
        ctx = Context(MAIL_ACTOR, f"mail-{uuid.uuid4().hex[:12]}")
        try:
            recorded = (await record_outcomes(self._deps, ctx, batch)).unwrap()
        except BaseException:
            self._outcomes[:0] = batch
            raise
        observe_mail(recorded)
        for message in recorded:
            _log_attempt(message)

    async def stop(self, grace_s: float) -> None:
        """Let the emails under way end (for up to ``grace_s``) and record them; those cut
        short are sent by another worker once their lease ends."""
        if self._sending:
            await asyncio.wait(self._sending, timeout=grace_s)
        for task in list(self._sending):
            task.cancel()


def _log_attempt(message: MailMessage) -> None:
    fields = {
        "message_id": str(message.id),
        "template": message.template.value,
        "event_id": None if message.event_id is None else str(message.event_id),
        "attempt": message.attempts,
    }
    if message.status is MailStatus.SENT:
        log.info("mail_sent", **fields)
    elif message.status is MailStatus.DEAD:
        log.warning("mail_dead_letter", error=message.last_error, **fields)
    else:
        log.info(
            "mail_attempt_failed",
            error=message.last_error,
            next_attempt_at=message.next_attempt_at,
            **fields,
        )
