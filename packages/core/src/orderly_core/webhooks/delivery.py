"""Delivering events to webhook endpoints: the relay, the claim, each attempt and its record.

PostgreSQL holds the truth and the schedule; nothing about a delivery lives anywhere else.

- :func:`relay_events` claims committed events from the outbox (rows another relay holds are
  skipped, so several workers may relay at once without handing on a row twice), creates one
  delivery per subscribed endpoint, and the emails the events send
  (:func:`~orderly_core.mail.composing.mail_for_events`), and marks the events dispatched,
  in one transaction. An event no endpoint subscribed to is done (its emails are on their
  own way). Deliveries the caller has :class:`Room` for are created leased to it and handed
  back, to be sent at once; the others are created due at once, for a claim.
- :func:`claim_deliveries` takes due deliveries (rows another worker holds are skipped), by
  due time, each endpoint at most its room, and leases them: their next attempt moves to the
  end of the lease, so no other worker takes them meanwhile. A worker killed before recording
  an attempt leaves the lease to run out, and the delivery is claimed again (at least once).
- :func:`send_delivery` sends one claimed delivery (signed, see :mod:`.signing`) outside any
  transaction.
- :func:`record_deliveries` records a batch of attempts in one transaction. A 2xx delivers a
  delivery; anything else schedules its next attempt by the policy's retry schedule, with
  jitter, until the last one fails and the delivery is dead (a dead letter). An endpoint
  failing without a single success for the policy's ``disable_after`` is disabled, with the
  reason recorded. An attempt whose lease ran out and whose delivery was claimed again is not
  recorded twice: the receiver drops the duplicate by its ``webhook-id``.
"""

from __future__ import annotations

import json
import random
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from returns.result import Failure, Result, Success

from orderly_core.mail.composing import mail_for_events
from orderly_core.platform.outbox import Event
from orderly_core.platform.transaction import in_transaction
from orderly_core.shared.authorization import operations_denied
from orderly_core.shared.context import Context
from orderly_core.shared.errors import Forbidden
from orderly_core.webhooks.model import Attempt, Delivery, DeliveryState, Endpoint
from orderly_core.webhooks.ports import (
    Claim,
    Recorded,
    SendOutcome,
    WebhookSender,
    WebhooksServices,
    WebhooksUnit,
)
from orderly_core.webhooks.signing import signature_header

RELAY_BATCH = 100
JITTER = 0.1  # a retry waits its scheduled time, give or take 10 %
USER_AGENT = "Orderly-Webhooks/1"
_DELIVERY_IDS = uuid.UUID("6d1f0c5e-8a47-4e1b-9a53-0b7f3c2d9e41")  # namespace of relay ids


@dataclass(frozen=True, slots=True)
class Claimed:
    """A leased delivery, with what sending it needs."""

    delivery: Delivery
    endpoint: Endpoint
    event: Event


@dataclass(frozen=True, slots=True)
class RelayReport:
    events: int  # events handed on
    deliveries: int  # deliveries created
    messages: int = 0  # emails created (see orderly_core.mail.composing)
    claimed: tuple[Claimed, ...] = ()  # of the deliveries, those leased to the caller


@dataclass(frozen=True, slots=True)
class Room:
    """How many more attempts a sender may start now: ``free`` in all, and to each endpoint
    its share, ``per_endpoint``, less the attempts ``under_way`` there. What it takes is
    leased to it for ``lease``, longer than an attempt may last."""

    free: int
    per_endpoint: int
    lease: timedelta
    under_way: Mapping[uuid.UUID, int] = field(default_factory=dict)

    def of(self, endpoint_id: uuid.UUID) -> int:
        return max(0, self.per_endpoint - self.under_way.get(endpoint_id, 0))

    def without(self, taken: Sequence[Claimed]) -> Room:
        """The room left once ``taken`` are under way too."""
        under_way = Counter(self.under_way)
        under_way.update(claimed.delivery.endpoint_id for claimed in taken)
        return replace(self, free=self.free - len(taken), under_way=under_way)


@dataclass(frozen=True, slots=True)
class Sent:
    """What came of sending a claimed delivery once."""

    claimed: Claimed
    outcome: SendOutcome
    at: datetime


def delivery_id(event_id: uuid.UUID, endpoint_id: uuid.UUID) -> uuid.UUID:
    """The id of the relay's delivery of an event to an endpoint: one, however often the
    event is relayed."""
    return uuid.uuid5(_DELIVERY_IDS, f"{event_id}:{endpoint_id}")


async def relay_events(
    deps: WebhooksServices, ctx: Context, *, batch: int = RELAY_BATCH, room: Room | None = None
) -> Result[RelayReport, Forbidden]:
    """Hand committed events on to their endpoints (see the module's description); with
    ``room``, the deliveries it has room for come back leased, to be sent at once."""
    if denied := operations_denied(ctx.actor, "relay events"):
        return Failure(denied)

    async def work(uow: WebhooksUnit) -> Result[RelayReport, Forbidden]:
        events = await uow.outbox.claim(batch)
        if not events:
            return Success(RelayReport(0, 0))
        now = deps.clock.now()
        until = now if room is None else now + room.lease
        endpoints = await uow.endpoints.all()
        created: list[Delivery] = []
        leased: list[Claimed] = []
        taken: Counter[uuid.UUID] = Counter()
        unheard: list[uuid.UUID] = []
        for event in events:
            wanted = [endpoint for endpoint in endpoints if endpoint.wants(event.type)]
            if not wanted:
                unheard.append(event.id)
            for endpoint in wanted:
                handed = (
                    room is not None
                    and len(leased) < room.free
                    and taken[endpoint.id] < room.of(endpoint.id)
                )
                delivery = Delivery(
                    id=delivery_id(event.id, endpoint.id),
                    endpoint_id=endpoint.id,
                    event_id=event.id,
                    event_type=event.type,
                    state=DeliveryState.PENDING,
                    attempts=0,
                    next_attempt_at=until if handed else now,
                    created_at=now,
                    updated_at=now,
                )
                created.append(delivery)
                if handed:
                    taken[endpoint.id] += 1
                    leased.append(Claimed(delivery, endpoint, event))
        stored = await uow.deliveries.add_many(created)
        messages = await mail_for_events(deps, uow, events)
        if heard := [e.id for e in events if e.id not in unheard]:
            await uow.outbox.mark_dispatched(heard, now)
        if unheard:
            await uow.outbox.mark_done(unheard, now)
        # A delivery that existed already is not this relay's to send.
        claimed = tuple(one for one in leased if one.delivery.id in stored)
        return Success(RelayReport(len(events), len(stored), messages, claimed))

    return await in_transaction(deps, ctx, work)


async def claim_deliveries(
    deps: WebhooksServices, ctx: Context, room: Room
) -> Result[list[Claimed], Forbidden]:
    """Lease up to ``room.free`` due deliveries, oldest due first, to each endpoint at most
    its room (an endpoint without room is not even looked at).

    A delivery whose endpoint was disabled, or whose event is gone, is not sent: it ends dead
    here, with the reason, in the same transaction."""
    if denied := operations_denied(ctx.actor, "send webhook deliveries"):
        return Failure(denied)

    async def work(uow: WebhooksUnit) -> Result[list[Claimed], Forbidden]:
        now = deps.clock.now()
        endpoints = {endpoint.id: endpoint for endpoint in await uow.endpoints.all()}
        rooms = {endpoint: room.of(endpoint) for endpoint in endpoints}
        leased = await uow.deliveries.claim_due(Claim(now, now + room.lease, room.free, rooms))
        if not leased:
            return Success([])
        events = await uow.outbox.get_many(list({d.event_id for d in leased}))
        ready: list[Claimed] = []
        unsendable: list[Recorded] = []
        for delivery in leased:
            endpoint = endpoints.get(delivery.endpoint_id)
            event = events.get(delivery.event_id)
            if endpoint is None or event is None or not endpoint.active:
                reason = "the endpoint is disabled" if endpoint else "the endpoint was removed"
                ended = replace(
                    delivery,
                    state=DeliveryState.DEAD,
                    next_attempt_at=None,
                    last_error=reason,
                    updated_at=now,
                )
                unsendable.append(Recorded(ended, None, delivery.attempts))
            else:
                ready.append(Claimed(delivery, endpoint, event))
        if unsendable:
            await uow.deliveries.record(unsendable)
            await uow.deliveries.settle_events([r.delivery.event_id for r in unsendable], now)
        return Success(ready)

    return await in_transaction(deps, ctx, work)


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


async def send_delivery(deps: WebhooksServices, claimed: Claimed, sender: WebhookSender) -> Sent:
    """Send a claimed delivery once, signed; no transaction is open meanwhile."""
    body = envelope(claimed.event)
    at = deps.clock.now()
    headers = signed_headers(claimed.endpoint, claimed.event, body, at)
    return Sent(claimed, await sender.send(claimed.endpoint.url, body, headers), at)


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


def after_attempt(deps: WebhooksServices, sent: Sent, now: datetime) -> Recorded:
    """The delivery as its attempt leaves it, and the attempt: delivered on a 2xx, otherwise
    due again after the retry schedule's delay, or dead after the last attempt."""
    delivery, outcome = sent.claimed.delivery, sent.outcome
    number = delivery.attempts + 1
    attempt = Attempt(
        delivery.id, number, sent.at, outcome.latency_ms, outcome.status, outcome.error
    )
    tried = replace(
        delivery,
        attempts=number,
        last_status=outcome.status,
        last_error=outcome.error,
        updated_at=now,
    )
    if attempt.succeeded:
        done = replace(tried, state=DeliveryState.DELIVERED, delivered_at=now, next_attempt_at=None)
    elif (delay := retry_delay(deps, tried)) is None:
        done = replace(tried, state=DeliveryState.DEAD, next_attempt_at=None)
    else:
        done = replace(tried, next_attempt_at=now + delay)
    return Recorded(done, attempt, delivery.attempts)


async def record_deliveries(
    deps: WebhooksServices, ctx: Context, batch: Sequence[Sent]
) -> Result[list[Delivery], Forbidden]:
    """Record a batch of attempts in one transaction (see the module's description); the
    deliveries recorded (an attempt whose delivery was claimed again since is left out)."""
    if denied := operations_denied(ctx.actor, "send webhook deliveries"):
        return Failure(denied)

    async def work(uow: WebhooksUnit) -> Result[list[Delivery], Forbidden]:
        now = deps.clock.now()
        wanted = [after_attempt(deps, sent, now) for sent in batch]
        kept = set(await uow.deliveries.record(wanted))
        recorded = [r for r in wanted if r.delivery.id in kept]
        await _note_endpoint_health(deps, uow, recorded, now)
        ended = [
            r.delivery.event_id for r in recorded if r.delivery.state is not DeliveryState.PENDING
        ]
        if ended:
            await uow.deliveries.settle_events(ended, now)
        return Success([r.delivery for r in recorded])

    return await in_transaction(deps, ctx, work)


async def _note_endpoint_health(
    deps: WebhooksServices, uow: WebhooksUnit, recorded: Sequence[Recorded], now: datetime
) -> None:
    """A success clears its endpoint's failing streak; a failure starts one, and one that has
    lasted the policy's ``disable_after`` disables the endpoint with the reason. Endpoints
    are locked only when they change, so deliveries to one endpoint do not queue on its row."""
    answered = {r.delivery.endpoint_id for r in recorded if r.attempt and r.attempt.succeeded}
    if answered:
        await uow.endpoints.clear_failing(sorted(answered))
    last_failure: dict[uuid.UUID, Delivery] = {
        r.delivery.endpoint_id: r.delivery
        for r in recorded
        if r.attempt is not None and not r.attempt.succeeded
    }
    for endpoint_id, delivery in sorted(last_failure.items()):
        if endpoint_id in answered:
            continue
        seen = await uow.endpoints.get(endpoint_id)
        if seen is None or _failing(deps, seen, delivery, now) == seen:
            continue
        endpoint = await uow.endpoints.get(endpoint_id, for_update=True)
        if (
            endpoint is not None
            and (changed := _failing(deps, endpoint, delivery, now)) != endpoint
        ):
            await uow.endpoints.save(changed)


def _failing(
    deps: WebhooksServices, endpoint: Endpoint, delivery: Delivery, now: datetime
) -> Endpoint:
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
