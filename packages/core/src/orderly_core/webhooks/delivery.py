"""Delivering events to webhook endpoints: the relay, each attempt, and the sweep.

PostgreSQL holds the truth; the job queue only says *when* to act, and anything lost from it
is found again by the sweep.

- :func:`relay_events` claims committed events from the outbox (rows another relay holds are
  skipped, so several workers may relay at once without handing on a row twice), creates one
  delivery per subscribed endpoint and marks the events dispatched, in one transaction; then
  it queues one job per delivery, so that no job can run before its delivery is committed. If
  the queue is unreachable, the deliveries wait, unqueued, in PostgreSQL until the sweep
  queues them.
- :func:`attempt_delivery` sends one delivery (signed, see :mod:`.signing`) outside any
  transaction, then records the attempt. A 2xx delivers it; anything else schedules the next
  attempt by the policy's retry schedule, with jitter, until the last one fails and the
  delivery is dead (a dead letter). An endpoint failing without a single success for the
  policy's ``disable_after`` is disabled, with the reason recorded. Running the same attempt
  twice (a worker killed mid-job) may send twice; the receiver drops the duplicate by its
  ``webhook-id``, and the delivery is recorded delivered once.
- :func:`sweep_deliveries` queues what is due and was never queued (redeliveries, replays),
  and again every pending delivery whose queued attempt is overdue.
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from returns.result import Failure, Result, Success

from orderly_core.jobs.payloads import DELIVER_WEBHOOK
from orderly_core.jobs.ports import JobQueue
from orderly_core.platform.outbox import Event
from orderly_core.platform.transaction import in_transaction
from orderly_core.shared.authorization import operations_denied
from orderly_core.shared.context import Context
from orderly_core.shared.errors import Forbidden
from orderly_core.webhooks.errors import DeliveryNotFound
from orderly_core.webhooks.model import Attempt, Delivery, DeliveryState, Endpoint
from orderly_core.webhooks.ports import SendOutcome, WebhookSender, WebhooksServices, WebhooksUnit
from orderly_core.webhooks.signing import signature_header

RELAY_BATCH = 100
SWEEP_BATCH = 500
JITTER = 0.1  # a retry waits its scheduled time, give or take 10 %
USER_AGENT = "Orderly-Webhooks/1"
_DELIVERY_IDS = uuid.UUID("6d1f0c5e-8a47-4e1b-9a53-0b7f3c2d9e41")  # namespace of relay ids


@dataclass(frozen=True, slots=True)
class RelayReport:
    events: int  # events handed on
    deliveries: int  # deliveries created and queued


@dataclass(frozen=True, slots=True)
class Relayed:
    events: int
    deliveries: list[tuple[Delivery, str]]  # each with the request id of its event


@dataclass(frozen=True, slots=True)
class AttemptReport:
    delivery: Delivery
    sent: bool  # False when the delivery had already ended, or its endpoint is gone


def job_id(delivery: Delivery) -> str:
    """The queue's id of the delivery's next attempt as scheduled: it names the event (the
    outbox row), the delivery, the attempt and its time, so queueing one scheduled attempt
    twice queues one job, and a rescheduled attempt gets a job of its own."""
    scheduled = int((delivery.next_attempt_at or delivery.created_at).timestamp())
    return f"webhook:{delivery.event_id}:{delivery.id}:{delivery.attempts + 1}:{scheduled}"


async def _queue_attempt(queue: JobQueue, delivery: Delivery, request_id: str) -> None:
    payload = {
        "delivery_id": str(delivery.id),
        "attempt": delivery.attempts + 1,
        "request_id": request_id,
    }
    await queue.enqueue(
        DELIVER_WEBHOOK, payload, job_id(delivery), defer_until=delivery.next_attempt_at
    )


async def _queue(
    deps: WebhooksServices, ctx: Context, queue: JobQueue, waiting: list[tuple[Delivery, str]]
) -> None:
    """Queue each committed delivery's next attempt, then note them queued. A job is only
    ever queued for a delivery already committed, so it never runs before its delivery
    exists; when the queue cannot be reached the deliveries stay unqueued, and the next
    wake-up's sweep queues them (under the same job ids, so nothing is queued twice)."""
    for delivery, request_id in waiting:
        await _queue_attempt(queue, delivery, request_id)
    if not waiting:
        return
    ids = [delivery.id for delivery, _ in waiting]

    async def mark(uow: WebhooksUnit) -> Result[None, Forbidden]:
        await uow.deliveries.mark_queued(ids, deps.clock.now())
        return Success(None)

    await in_transaction(deps, ctx, mark)


async def relay_events(
    deps: WebhooksServices, ctx: Context, queue: JobQueue, *, batch: int = RELAY_BATCH
) -> Result[RelayReport, Forbidden]:
    """Hand committed events on to their endpoints (see the module's description)."""
    if denied := operations_denied(ctx.actor, "relay events"):
        return Failure(denied)

    async def work(uow: WebhooksUnit) -> Result[Relayed, Forbidden]:
        events = await uow.outbox.claim(batch)
        if not events:
            return Success(Relayed(0, []))
        now = deps.clock.now()
        endpoints = await uow.endpoints.all()
        created: list[tuple[Delivery, str]] = []
        unheard: list[uuid.UUID] = []
        for event in events:
            wanted = [endpoint for endpoint in endpoints if endpoint.wants(event.type)]
            if not wanted:
                unheard.append(event.id)
            for endpoint in wanted:
                delivery = Delivery(
                    id=uuid.uuid5(_DELIVERY_IDS, f"{event.id}:{endpoint.id}"),
                    endpoint_id=endpoint.id,
                    event_id=event.id,
                    event_type=event.type,
                    state=DeliveryState.PENDING,
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                    updated_at=now,
                )
                await uow.deliveries.add(delivery)
                created.append((delivery, event.request_id))
        if heard := [e.id for e in events if e.id not in unheard]:
            await uow.outbox.mark_dispatched(heard, now)
        if unheard:
            await uow.outbox.mark_done(unheard, now)
        return Success(Relayed(len(events), created))

    relayed = await in_transaction(deps, ctx, work)
    if not isinstance(relayed, Success):
        return Failure(relayed.failure())
    done = relayed.unwrap()
    await _queue(deps, ctx, queue, done.deliveries)
    return Success(RelayReport(done.events, len(done.deliveries)))


def envelope(event: Event) -> bytes:
    """The body of every delivery of ``event``: the same bytes on every attempt."""
    document = {
        "id": str(event.id),
        "type": event.type.value,
        "created_at": event.created_at.isoformat(timespec="microseconds").replace("+00:00", "Z"),
        "subject": event.subject,
        "sequence": event.sequence,
        "request_id": event.request_id,
        "data": event.data,
    }
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


def signed_headers(endpoint: Endpoint, event: Event, body: bytes, now: datetime) -> dict[str, str]:
    timestamp = int(now.timestamp())
    secrets = endpoint.signing_secrets(now)
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": str(event.id),
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(secrets, str(event.id), timestamp, body),
    }


def retry_delay(deps: WebhooksServices, delivery: Delivery) -> timedelta | None:
    """How long after its failed attempt number ``delivery.attempts`` the next one waits, or
    ``None`` when that was the last. The jitter is fixed per delivery and attempt, so that
    deliveries failing together do not all come back at once."""
    schedule = deps.webhooks.retry_schedule
    if delivery.attempts > len(schedule):
        return None
    base = schedule[delivery.attempts - 1]
    spread = random.Random(f"{delivery.id}:{delivery.attempts}").uniform(-JITTER, JITTER)  # noqa: S311
    return base * (1 + spread)


async def attempt_delivery(
    deps: WebhooksServices,
    ctx: Context,
    delivery_id: uuid.UUID,
    sender: WebhookSender,
    queue: JobQueue,
    *,
    attempt: int | None = None,
) -> Result[AttemptReport, Forbidden | DeliveryNotFound]:
    """Send a pending delivery once and record what came of it (see the module's text).

    ``attempt`` is the number the job was queued for: a job left over from an attempt that
    has been made since (queued twice, or run again after its worker died) sends nothing.
    """
    if denied := operations_denied(ctx.actor, "send webhook deliveries"):
        return Failure(denied)

    async def load(
        uow: WebhooksUnit,
    ) -> Result[tuple[Delivery, Endpoint | None, Event | None], DeliveryNotFound]:
        delivery = await uow.deliveries.get(delivery_id)
        if delivery is None:
            return Failure(DeliveryNotFound(str(delivery_id)))
        endpoint = await uow.endpoints.get(delivery.endpoint_id)
        return Success((delivery, endpoint, await uow.outbox.get(delivery.event_id)))

    loaded = await in_transaction(deps, ctx, load)
    if not isinstance(loaded, Success):
        return Failure(loaded.failure())
    delivery, endpoint, event = loaded.unwrap()
    stale = attempt is not None and attempt != delivery.attempts + 1
    if delivery.state is not DeliveryState.PENDING or stale:
        return Success(AttemptReport(delivery, sent=False))
    if endpoint is None or event is None or not endpoint.active:
        reason = "the endpoint is disabled" if endpoint else "the endpoint was removed"
        return await _record(deps, ctx, delivery_id, None, reason=reason)
    body = envelope(event)
    sent_at = deps.clock.now()
    outcome = await sender.send(endpoint.url, body, signed_headers(endpoint, event, body, sent_at))
    recorded = await _record(deps, ctx, delivery_id, outcome, at=sent_at)
    if isinstance(recorded, Success):
        after = recorded.unwrap().delivery
        if after.state is DeliveryState.PENDING and after.next_attempt_at is not None:
            await _queue(deps, ctx, queue, [(after, event.request_id)])
    return recorded


async def _record(
    deps: WebhooksServices,
    ctx: Context,
    delivery_id: uuid.UUID,
    outcome: SendOutcome | None,
    *,
    at: datetime | None = None,
    reason: str | None = None,
) -> Result[AttemptReport, Forbidden | DeliveryNotFound]:
    """Record an attempt's outcome (``None``: nothing could be sent, for ``reason``)."""

    async def work(uow: WebhooksUnit) -> Result[AttemptReport, Forbidden | DeliveryNotFound]:
        delivery = await uow.deliveries.get(delivery_id, for_update=True)
        if delivery is None:
            return Failure(DeliveryNotFound(str(delivery_id)))
        if delivery.state is not DeliveryState.PENDING:  # another run recorded it first
            return Success(AttemptReport(delivery, sent=outcome is not None))
        now = deps.clock.now()
        if outcome is None:
            ended = replace(delivery, state=DeliveryState.DEAD, last_error=reason, updated_at=now)
            await uow.deliveries.save(ended)
            await _settle_event(uow, ended, now)
            return Success(AttemptReport(ended, sent=False))
        number = delivery.attempts + 1
        attempt = Attempt(
            delivery.id, number, at or now, outcome.latency_ms, outcome.status, outcome.error
        )
        await uow.deliveries.add_attempt(attempt)
        tried = replace(
            delivery,
            attempts=number,
            last_status=outcome.status,
            last_error=outcome.error,
            updated_at=now,
        )
        if attempt.succeeded:
            done = replace(
                tried, state=DeliveryState.DELIVERED, delivered_at=now, next_attempt_at=None
            )
        elif (delay := retry_delay(deps, tried)) is None:
            done = replace(tried, state=DeliveryState.DEAD, next_attempt_at=None)
        else:  # queued right after this commits
            done = replace(tried, next_attempt_at=now + delay, queued_at=None)
        await uow.deliveries.save(done)
        await _note_endpoint_health(deps, uow, done, attempt.succeeded, now)
        await _settle_event(uow, done, now)
        return Success(AttemptReport(done, sent=True))

    return await in_transaction(deps, ctx, work)


async def _note_endpoint_health(
    deps: WebhooksServices, uow: WebhooksUnit, delivery: Delivery, succeeded: bool, now: datetime
) -> None:
    """A success clears the endpoint's failing streak; a failure starts one, and one that has
    lasted the policy's ``disable_after`` disables the endpoint with the reason. The endpoint
    is locked only when it changes, so deliveries to one endpoint do not queue on its row."""
    seen = await uow.endpoints.get(delivery.endpoint_id)
    if seen is None or _health_after(deps, seen, delivery, succeeded, now) == seen:
        return
    endpoint = await uow.endpoints.get(delivery.endpoint_id, for_update=True)
    if endpoint is not None:
        changed = _health_after(deps, endpoint, delivery, succeeded, now)
        if changed != endpoint:
            await uow.endpoints.save(changed)


def _health_after(
    deps: WebhooksServices, endpoint: Endpoint, delivery: Delivery, succeeded: bool, now: datetime
) -> Endpoint:
    if succeeded:
        return replace(endpoint, failing_since=None)
    if endpoint.failing_since is None:
        return replace(endpoint, failing_since=now)
    if endpoint.active and now - endpoint.failing_since >= deps.webhooks.disable_after:
        since = endpoint.failing_since.isoformat(timespec="seconds")
        last = delivery.last_error or f"HTTP {delivery.last_status}"
        return replace(
            endpoint,
            active=False,
            disabled_reason=f"every delivery failed since {since}; last: {last}"[:255],
            version=endpoint.version + 1,
            updated_at=now,
        )
    return endpoint


async def _settle_event(uow: WebhooksUnit, delivery: Delivery, now: datetime) -> None:
    """An event whose every delivery has ended is done."""
    ended = delivery.state is not DeliveryState.PENDING
    if ended and await uow.deliveries.pending_for_event(delivery.event_id) == 0:
        await uow.outbox.mark_done([delivery.event_id], now)


async def sweep_deliveries(
    deps: WebhooksServices,
    ctx: Context,
    queue: JobQueue,
    *,
    grace: timedelta | None = None,
    batch: int = SWEEP_BATCH,
) -> Result[int, Forbidden]:
    """Queue the pending deliveries that are due and were never queued (redeliveries and
    replays) and, with ``grace``, again each one whose queued attempt is more than ``grace``
    overdue (its job was lost: Redis restarted empty, or its worker gave up on it); the
    number queued. Each is scheduled for now, under a job id of its own."""
    if denied := operations_denied(ctx.actor, "sweep webhook deliveries"):
        return Failure(denied)

    async def work(uow: WebhooksUnit) -> Result[list[tuple[Delivery, str]], Forbidden]:
        now = deps.clock.now()
        due = await uow.deliveries.unqueued(now, batch)
        if grace is not None:
            for lost in await uow.deliveries.overdue(now - grace, batch):
                rescheduled = replace(lost, next_attempt_at=now, updated_at=now, queued_at=None)
                await uow.deliveries.save(rescheduled)
                due.append(rescheduled)
        found = []
        for delivery in due:
            event = await uow.outbox.get(delivery.event_id)
            found.append((delivery, event.request_id if event else ctx.request_id))
        return Success(found)

    found = await in_transaction(deps, ctx, work)
    if not isinstance(found, Success):
        return Failure(found.failure())
    await _queue(deps, ctx, queue, found.unwrap())
    return Success(len(found.unwrap()))
