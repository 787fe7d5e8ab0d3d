"""Reading an endpoint's deliveries, and sending one again.

Only admins and operators read or redeliver (:func:`~orderly_core.shared.authorization.
webhook_admin_denied`). Sending is not done here: a redelivery only stores a new pending
delivery, due now, which Orderly's worker sends (:mod:`.delivery`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from returns.result import Failure, Result, Success

from orderly_core.platform.audit import record
from orderly_core.platform.idempotency import Idempotent, Operation
from orderly_core.platform.outbox import EventType
from orderly_core.platform.transaction import in_idempotent_transaction, in_transaction
from orderly_core.shared.authorization import webhook_admin_denied
from orderly_core.shared.context import Context
from orderly_core.shared.errors import Forbidden, InvalidInput
from orderly_core.shared.paging import NEWEST_FIRST, Page, PageQuery, checked_page
from orderly_core.shared.validation import FieldErrors, parse_id
from orderly_core.webhooks.errors import DeliveryNotFound, EndpointDisabled, EndpointNotFound
from orderly_core.webhooks.model import Attempt, Delivery, DeliveryState, delivery_view
from orderly_core.webhooks.ports import WebhooksServices, WebhooksUnit

DELIVERY_TARGET = "webhook_delivery"  # the audit trail's target type of a delivery


@dataclass(frozen=True, slots=True)
class DeliveryQuery(PageQuery):
    """A page of one endpoint's deliveries."""


@dataclass(frozen=True, slots=True)
class DeliveryDetail:
    delivery: Delivery
    attempts: tuple[Attempt, ...]  # first first


ListDeliveriesError = Forbidden | InvalidInput | EndpointNotFound
GetDeliveryError = Forbidden | DeliveryNotFound
RedeliverError = Forbidden | DeliveryNotFound | EndpointDisabled


def pending_delivery(
    deps: WebhooksServices, endpoint_id: uuid.UUID, event_id: uuid.UUID, event_type: EventType
) -> Delivery:
    """A new delivery of an event to an endpoint, due now, with no attempts."""
    now = deps.clock.now()
    return Delivery(
        id=deps.ids.new_id(),
        endpoint_id=endpoint_id,
        event_id=event_id,
        event_type=event_type,
        state=DeliveryState.PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
    )


async def list_deliveries(
    deps: WebhooksServices, ctx: Context, endpoint_id: str, query: DeliveryQuery
) -> Result[Page[Delivery], ListDeliveriesError]:
    """An endpoint's deliveries, newest first (keyset pagination), at most 200 a page.
    Admins and operators only."""
    if denied := webhook_admin_denied(ctx.actor, "read webhook deliveries"):
        return Failure(denied)
    fields = FieldErrors()
    page = checked_page(fields, query, NEWEST_FIRST)
    if invalid := fields.invalid():
        return invalid

    async def work(uow: WebhooksUnit) -> Result[Page[Delivery], ListDeliveriesError]:
        wanted = parse_id(endpoint_id)
        endpoint = await uow.endpoints.get(wanted) if wanted else None
        if endpoint is None:
            return Failure(EndpointNotFound(endpoint_id))
        found = await uow.deliveries.of_endpoint(
            endpoint.id, after=page.after, limit=page.fetch_limit
        )
        return Success(page.cut(found, lambda d: (d.created_at, d.id)))

    return await in_transaction(deps, ctx, work)


async def get_delivery(
    deps: WebhooksServices, ctx: Context, delivery_id: str
) -> Result[DeliveryDetail, GetDeliveryError]:
    """One delivery with every attempt made of it, first first. Admins and operators only."""
    if denied := webhook_admin_denied(ctx.actor, "read webhook deliveries"):
        return Failure(denied)

    async def work(uow: WebhooksUnit) -> Result[DeliveryDetail, GetDeliveryError]:
        wanted = parse_id(delivery_id)
        delivery = await uow.deliveries.get(wanted) if wanted else None
        if delivery is None:
            return Failure(DeliveryNotFound(delivery_id))
        attempts = tuple(await uow.deliveries.attempts(delivery.id))
        return Success(DeliveryDetail(delivery, attempts))

    return await in_transaction(deps, ctx, work)


async def redeliver(
    deps: WebhooksServices, ctx: Context, delivery_id: str
) -> Idempotent[Delivery, RedeliverError]:
    """Send a delivery's event to its endpoint again, whatever became of the delivery
    (delivered, dead or still pending).

    Rules: admins and operators only; the endpoint must be active. A new pending delivery of
    the same event to the same endpoint is made, due now, with no attempts; the delivery it
    repeats stays as it is. Orderly's worker sends it.
    """
    if denied := webhook_admin_denied(ctx.actor, "redeliver webhooks"):
        return Failure(denied)

    async def work(uow: WebhooksUnit) -> Result[Delivery, RedeliverError]:
        wanted = parse_id(delivery_id)
        original = await uow.deliveries.get(wanted) if wanted else None
        endpoint = (
            await uow.endpoints.get(original.endpoint_id, for_update=True) if original else None
        )
        if original is None or endpoint is None:
            return Failure(DeliveryNotFound(delivery_id))
        if not endpoint.active:
            return Failure(EndpointDisabled(str(endpoint.id)))
        again = pending_delivery(deps, endpoint.id, original.event_id, original.event_type)
        await uow.deliveries.add(again)
        await record(
            deps,
            uow,
            ctx,
            "webhook.redeliver",
            target=(DELIVERY_TARGET, str(again.id)),
            before=None,
            after=delivery_view(again) | {"redelivery_of": str(original.id)},
        )
        return Success(again)

    operation = Operation(
        "webhook.redeliver",
        {"delivery_id": delivery_id},
        Delivery,
        (DeliveryNotFound, EndpointDisabled),
    )
    return await in_idempotent_transaction(deps, ctx, operation, work)
