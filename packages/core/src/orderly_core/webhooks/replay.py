"""Replaying events to a webhook endpoint: every event of some types in a time range, sent
again for a receiver that lost data.

Only admins and operators replay (:func:`~orderly_core.shared.authorization.
webhook_admin_denied`). Sending is not done here: a replay only stores new pending
deliveries, due now, which Orderly's worker sends (:mod:`.delivery`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from returns.pipeline import is_successful
from returns.result import Failure, Result, Success

from orderly_core.platform.audit import record
from orderly_core.platform.idempotency import Idempotent, Operation
from orderly_core.platform.outbox import Event, EventType
from orderly_core.platform.transaction import in_idempotent_transaction
from orderly_core.shared.authorization import webhook_admin_denied
from orderly_core.shared.context import Context
from orderly_core.shared.errors import Forbidden, InvalidInput
from orderly_core.shared.validation import FieldErrors, parse_id
from orderly_core.webhooks.deliveries import pending_delivery
from orderly_core.webhooks.endpoints import TARGET, checked_event_types
from orderly_core.webhooks.errors import EndpointDisabled, EndpointNotFound
from orderly_core.webhooks.model import Endpoint
from orderly_core.webhooks.ports import WebhooksServices, WebhooksUnit

REPLAY_MAX = 10_000  # events one replay may send again


@dataclass(frozen=True, slots=True)
class ReplayRequest:
    event_types: tuple[str, ...]
    since: datetime  # events created at or after this time...
    until: datetime  # ...and before this one


@dataclass(frozen=True, slots=True)
class ReplayReport:
    endpoint_id: uuid.UUID
    delivery_ids: tuple[uuid.UUID, ...]  # one new pending delivery per event, oldest first

    @property
    def count(self) -> int:
        return len(self.delivery_ids)


ReplayError = Forbidden | InvalidInput | EndpointNotFound | EndpointDisabled


def _checked_replay(fields: FieldErrors, request: ReplayRequest) -> tuple[EventType, ...]:
    types = checked_event_types(fields, request.event_types)
    naive = [
        name
        for name, moment in (("since", request.since), ("until", request.until))
        if moment.utcoffset() is None
    ]
    for name in naive:
        fields.fail(name, "must be a time with its offset (such as 2031-04-01T00:00:00Z)")
    if naive:
        return types
    since_stored = fields.time("since", request.since)
    until_stored = fields.time("until", request.until)
    if since_stored and until_stored:
        fields.time_range(request.since, request.until)
    return types


async def _endpoint_to_replay(
    uow: WebhooksUnit, endpoint_id: str, types: Sequence[EventType]
) -> Result[Endpoint, EndpointNotFound | EndpointDisabled | InvalidInput]:
    """The endpoint, locked for this transaction, if it is active and subscribes to every
    type replayed."""
    wanted = parse_id(endpoint_id)
    endpoint = await uow.endpoints.get(wanted, for_update=True) if wanted else None
    if endpoint is None:
        return Failure(EndpointNotFound(endpoint_id))
    if not endpoint.active:
        return Failure(EndpointDisabled(str(endpoint.id)))
    unwanted = FieldErrors()
    for index, event_type in enumerate(types):
        if event_type not in endpoint.event_types:
            unwanted.fail(
                f"event_types.{index}",
                f"the endpoint does not subscribe to {event_type.value}",
            )
    if invalid := unwanted.invalid():
        return invalid
    return Success(endpoint)


async def _events_in_range(
    uow: WebhooksUnit, types: Sequence[EventType], request: ReplayRequest
) -> Result[list[Event], InvalidInput]:
    """The events to replay, oldest first: at most :data:`REPLAY_MAX` of them."""
    events = await uow.outbox.between(types, request.since, request.until, REPLAY_MAX + 1)
    if len(events) > REPLAY_MAX:
        return Failure(
            InvalidInput.single(
                "until",
                f"the range holds more than {REPLAY_MAX} events: replay shorter ranges",
            )
        )
    return Success(events)


async def _deliver_again(
    deps: WebhooksServices, uow: WebhooksUnit, endpoint: Endpoint, events: Sequence[Event]
) -> tuple[uuid.UUID, ...]:
    """One new pending delivery of each event to the endpoint; their ids, in event order."""
    ids: list[uuid.UUID] = []
    for event in events:
        delivery = pending_delivery(deps, endpoint.id, event.id, event.type)
        await uow.deliveries.add(delivery)
        ids.append(delivery.id)
    return tuple(ids)


def _replay_view(types: Sequence[EventType], request: ReplayRequest, count: int) -> dict[str, Any]:
    return {
        "event_types": [t.value for t in types],
        "since": request.since,
        "until": request.until,
        "deliveries": count,
    }


async def replay_events(
    deps: WebhooksServices, ctx: Context, endpoint_id: str, request: ReplayRequest
) -> Idempotent[ReplayReport, ReplayError]:
    """Send an endpoint every event of the given types created in [since, until) again, for
    a receiver that lost data: delivered events too.

    Rules: admins and operators only; the endpoint must be active. Event types: at least
    one, each a known type the endpoint subscribes to, none twice; ``since`` before
    ``until``, both with an offset. At most 10,000 events a replay: a range holding more is
    refused (replay it in shorter ranges). Each event gets a new pending delivery to this
    endpoint, due now, which Orderly's worker sends; answers their ids, in the order the
    events happened.
    """
    if denied := webhook_admin_denied(ctx.actor, "replay webhook events"):
        return Failure(denied)
    fields = FieldErrors()
    types = _checked_replay(fields, request)
    if invalid := fields.invalid():
        return invalid

    async def work(uow: WebhooksUnit) -> Result[ReplayReport, ReplayError]:
        found = await _endpoint_to_replay(uow, endpoint_id, types)
        if not is_successful(found):
            return Failure(found.failure())
        endpoint = found.unwrap()
        events = await _events_in_range(uow, types, request)
        if not is_successful(events):
            return Failure(events.failure())
        ids = await _deliver_again(deps, uow, endpoint, events.unwrap())
        await record(
            deps,
            uow,
            ctx,
            "webhook.replay",
            target=(TARGET, str(endpoint.id)),
            before=None,
            after=_replay_view(types, request, len(ids)),
        )
        return Success(ReplayReport(endpoint.id, ids))

    checked = ReplayRequest(tuple(t.value for t in types), request.since, request.until)
    operation = Operation(
        "webhook.replay",
        {"endpoint_id": endpoint_id, "request": checked},
        ReplayReport,
        (EndpointNotFound, EndpointDisabled),
    )
    return await in_idempotent_transaction(deps, ctx, operation, work)
