"""Managing webhooks: endpoints, their signing secrets, and their deliveries.

Only admins and operators manage webhooks (:func:`~orderly_core.shared.authorization.
webhook_admin_denied`). Every write checks the actor, validates all of its input (listing
every broken field), then runs in one unit of work, so a ``DRY_RUN`` computes the same
answer and stores nothing; each successful write leaves an audit entry built from the public
views, which never hold a secret.

A signing secret is made by Orderly and shown once: in the answer of the registration or of
the rotation that made it. It is never part of a view, a listing or the audit trail. Every
write takes an idempotency key; a retry of a registration or a rotation with its key gets
the first answer again, secret included, for as long as the key is kept.

Sending is not done here: a redelivery or a replay only stores new pending deliveries, due
now, which Orderly's worker sends.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from returns.pipeline import is_successful
from returns.result import Failure, Result, Success

from orderly_core.platform.audit import record
from orderly_core.platform.idempotency import Idempotent, Operation
from orderly_core.platform.outbox import EventType
from orderly_core.platform.transaction import in_idempotent_transaction, in_transaction
from orderly_core.shared.authorization import webhook_admin_denied
from orderly_core.shared.context import Context
from orderly_core.shared.errors import Forbidden, InvalidInput, VersionConflict, version_conflict
from orderly_core.shared.paging import NEWEST_FIRST, Page, PageQuery, checked_page
from orderly_core.shared.validation import FieldErrors, parse_id
from orderly_core.webhooks.errors import (
    DeliveryNotFound,
    EndpointDisabled,
    EndpointNotFound,
)
from orderly_core.webhooks.model import (
    Attempt,
    Delivery,
    DeliveryState,
    Endpoint,
    delivery_view,
    endpoint_view,
)
from orderly_core.webhooks.policy import checked_url
from orderly_core.webhooks.ports import WebhooksServices, WebhooksUnit
from orderly_core.webhooks.signing import new_secret

REPLAY_MAX = 10_000  # events one replay may send again
TARGET = "webhook"  # the audit trail's target type of an endpoint
DELIVERY_TARGET = "webhook_delivery"


@dataclass(frozen=True, slots=True)
class NewEndpoint:
    url: str
    event_types: tuple[str, ...]  # EventType values, such as "order.placed"


@dataclass(frozen=True, slots=True)
class RegisteredEndpoint:
    """An endpoint with the signing secret just made for it: the one time it is shown.

    ``secret`` is ``None`` in a dry run, which makes no secret."""

    endpoint: Endpoint
    secret: str | None


@dataclass(frozen=True, slots=True)
class EndpointChanges:
    """A partial update: ``None`` leaves a field as it is."""

    endpoint_id: str
    expected_version: int | None = None  # None: apply to whatever version is current
    url: str | None = None
    event_types: tuple[str, ...] | None = None
    active: bool | None = None


@dataclass(frozen=True, slots=True)
class EndpointRemoval:
    endpoint_id: str
    expected_version: int | None = None


@dataclass(frozen=True, slots=True)
class DeliveryQuery(PageQuery):
    """A page of one endpoint's deliveries."""


@dataclass(frozen=True, slots=True)
class DeliveryDetail:
    delivery: Delivery
    attempts: tuple[Attempt, ...]  # first first


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


RegisterEndpointError = Forbidden | InvalidInput
ReadEndpointError = Forbidden | EndpointNotFound
UpdateEndpointError = Forbidden | InvalidInput | EndpointNotFound | VersionConflict
RemoveEndpointError = Forbidden | EndpointNotFound | VersionConflict
RotateSecretError = Forbidden | EndpointNotFound
ListDeliveriesError = Forbidden | InvalidInput | EndpointNotFound
GetDeliveryError = Forbidden | DeliveryNotFound
RedeliverError = Forbidden | DeliveryNotFound | EndpointDisabled
ReplayError = Forbidden | InvalidInput | EndpointNotFound | EndpointDisabled


# --- rules ---------------------------------------------------------------------------------


_KNOWN_TYPES = ", ".join(t.value for t in EventType)


def _checked_types(
    fields: FieldErrors, names: Sequence[str], field: str = "event_types"
) -> tuple[EventType, ...]:
    if not names:
        fields.fail(field, "name at least one event type")
    types: list[EventType] = []
    for index, name in enumerate(names):
        try:
            event_type = EventType(name.strip().lower())
        except ValueError:
            fields.fail(f"{field}.{index}", f"is not an event type (one of {_KNOWN_TYPES})")
            continue
        if event_type in types:
            fields.fail(f"{field}.{index}", "repeats an event type named before")
            continue
        types.append(event_type)
    return tuple(types)


async def _lock_current(
    uow: WebhooksUnit, endpoint_id: str, expected_version: int | None
) -> Result[Endpoint, EndpointNotFound | VersionConflict]:
    """The endpoint's row, locked for this transaction, if it is at the expected version."""
    wanted = parse_id(endpoint_id)
    current = await uow.endpoints.get(wanted, for_update=True) if wanted else None
    if current is None:
        return Failure(EndpointNotFound(endpoint_id))
    if conflict := version_conflict((TARGET, str(current.id)), expected_version, current.version):
        return Failure(conflict)
    return Success(current)


def _pending(
    deps: WebhooksServices, endpoint_id: uuid.UUID, event_id: uuid.UUID, event_type: EventType
) -> Delivery:
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


# --- endpoints -----------------------------------------------------------------------------


async def register_endpoint(
    deps: WebhooksServices, ctx: Context, new: NewEndpoint
) -> Idempotent[RegisteredEndpoint, RegisterEndpointError]:
    """Register an endpoint to receive the events of the types it names, signed with a new
    secret that is shown in this answer only.

    Rules: admins and operators only. The URL is absolute ``https://`` (plain ``http://``
    only where the webhook policy allows it, for local development), names a host, carries
    no user name, password or fragment, and has at most 2048 characters. Its host may not be
    ``localhost`` or a literal IP address that is not public (loopback, private, link-local,
    shared, reserved, multicast, unspecified, in any spelling), unless the policy allows
    private addresses; host names are not resolved here (they are checked again each time a
    delivery is sent). Event types: at least one, each a known type, none twice. A new
    endpoint is active, at version 1. A dry run makes no secret.
    """
    if denied := webhook_admin_denied(ctx.actor, "register webhook endpoints"):
        return Failure(denied)
    fields = FieldErrors()
    url = checked_url(fields, new.url, deps.webhooks)
    types = _checked_types(fields, new.event_types)
    if invalid := fields.invalid():
        return invalid

    async def work(uow: WebhooksUnit) -> Result[RegisteredEndpoint, RegisterEndpointError]:
        now = deps.clock.now()
        endpoint = Endpoint(
            id=deps.ids.new_id(),
            url=url,
            event_types=types,
            secret=new_secret(),
            active=True,
            version=1,
            created_at=now,
            updated_at=now,
        )
        await uow.endpoints.add(endpoint)
        await record(
            deps,
            uow,
            ctx,
            "webhook.register",
            target=(TARGET, str(endpoint.id)),
            before=None,
            after=endpoint_view(endpoint),
        )
        shown = endpoint.secret if ctx.applies_changes else None
        return Success(RegisteredEndpoint(endpoint, shown))

    request = NewEndpoint(url, tuple(t.value for t in types))
    operation = Operation("webhook.register", request, RegisteredEndpoint)
    return await in_idempotent_transaction(deps, ctx, operation, work)


async def list_endpoints(
    deps: WebhooksServices, ctx: Context
) -> Result[tuple[Endpoint, ...], Forbidden]:
    """Every endpoint, oldest first (a shop has a handful). Admins and operators only."""
    if denied := webhook_admin_denied(ctx.actor, "list webhook endpoints"):
        return Failure(denied)

    async def work(uow: WebhooksUnit) -> Result[tuple[Endpoint, ...], Forbidden]:
        return Success(tuple(await uow.endpoints.all()))

    return await in_transaction(deps, ctx, work)


async def get_endpoint(
    deps: WebhooksServices, ctx: Context, endpoint_id: str
) -> Result[Endpoint, ReadEndpointError]:
    """One endpoint. Admins and operators only."""
    if denied := webhook_admin_denied(ctx.actor, "read webhook endpoints"):
        return Failure(denied)

    async def work(uow: WebhooksUnit) -> Result[Endpoint, ReadEndpointError]:
        wanted = parse_id(endpoint_id)
        endpoint = await uow.endpoints.get(wanted) if wanted else None
        return Success(endpoint) if endpoint else Failure(EndpointNotFound(endpoint_id))

    return await in_transaction(deps, ctx, work)


async def update_endpoint(
    deps: WebhooksServices, ctx: Context, changes: EndpointChanges
) -> Idempotent[Endpoint, UpdateEndpointError]:
    """Change an endpoint's URL, event types or active flag.

    Rules: admins and operators only; the URL and event types follow the rules of
    registration; with ``expected_version`` the change applies only to that version
    (optimistic concurrency). Re-activating an endpoint clears why and since when it was
    failing. A change that leaves every field as it was creates no new version.
    """
    if denied := webhook_admin_denied(ctx.actor, "change webhook endpoints"):
        return Failure(denied)
    fields = FieldErrors()
    url = None if changes.url is None else checked_url(fields, changes.url, deps.webhooks)
    types = None if changes.event_types is None else _checked_types(fields, changes.event_types)
    if changes.url is None and changes.event_types is None and changes.active is None:
        fields.fail("changes", "name at least one of url, event_types and active to change")
    if invalid := fields.invalid():
        return invalid

    async def work(uow: WebhooksUnit) -> Result[Endpoint, UpdateEndpointError]:
        found = await _lock_current(uow, changes.endpoint_id, changes.expected_version)
        if not is_successful(found):
            return found
        current = found.unwrap()
        updated = replace(
            current,
            url=current.url if url is None else url,
            event_types=current.event_types if types is None else types,
            active=current.active if changes.active is None else changes.active,
        )
        if updated.active and not current.active:
            updated = replace(updated, failing_since=None, disabled_reason=None)
        if updated == current:
            return Success(current)
        updated = replace(updated, version=current.version + 1, updated_at=deps.clock.now())
        await uow.endpoints.save(updated)
        await record(
            deps,
            uow,
            ctx,
            "webhook.update",
            target=(TARGET, str(current.id)),
            before=endpoint_view(current),
            after=endpoint_view(updated),
        )
        return Success(updated)

    request = replace(
        changes, url=url, event_types=None if types is None else tuple(t.value for t in types)
    )
    operation = Operation("webhook.update", request, Endpoint, (EndpointNotFound, VersionConflict))
    return await in_idempotent_transaction(deps, ctx, operation, work)


async def remove_endpoint(
    deps: WebhooksServices, ctx: Context, removal: EndpointRemoval
) -> Idempotent[Endpoint, RemoveEndpointError]:
    """Remove an endpoint, and with it every one of its deliveries and their attempts.

    Rules: admins and operators only; with ``expected_version`` only that version is
    removed. Answers the endpoint as it was.
    """
    if denied := webhook_admin_denied(ctx.actor, "remove webhook endpoints"):
        return Failure(denied)

    async def work(uow: WebhooksUnit) -> Result[Endpoint, RemoveEndpointError]:
        found = await _lock_current(uow, removal.endpoint_id, removal.expected_version)
        if not is_successful(found):
            return found
        current = found.unwrap()
        await uow.endpoints.remove(current.id)
        before = endpoint_view(current)
        await record(
            deps,
            uow,
            ctx,
            "webhook.remove",
            target=(TARGET, str(current.id)),
            before=before,
            after=dict.fromkeys(before),
        )
        return Success(current)

    operation = Operation("webhook.remove", removal, Endpoint, (EndpointNotFound, VersionConflict))
    return await in_idempotent_transaction(deps, ctx, operation, work)


async def rotate_secret(
    deps: WebhooksServices, ctx: Context, endpoint_id: str
) -> Idempotent[RegisteredEndpoint, RotateSecretError]:
    """Give an endpoint a new signing secret, shown in this answer only.

    Rules: admins and operators only. The secret it replaces keeps signing deliveries, next
    to the new one, for the webhook policy's overlap (24 hours by default), so that the
    receiver can switch over without rejecting a delivery; a secret replaced before then
    stops signing at once. A dry run makes no secret.
    """
    if denied := webhook_admin_denied(ctx.actor, "rotate webhook secrets"):
        return Failure(denied)

    async def work(uow: WebhooksUnit) -> Result[RegisteredEndpoint, RotateSecretError]:
        wanted = parse_id(endpoint_id)
        current = await uow.endpoints.get(wanted, for_update=True) if wanted else None
        if current is None:
            return Failure(EndpointNotFound(endpoint_id))
        now = deps.clock.now()
        rotated = replace(
            current,
            secret=new_secret(),
            previous_secret=current.secret,
            previous_secret_until=now + deps.webhooks.secret_overlap,
            version=current.version + 1,
            updated_at=now,
        )
        await uow.endpoints.save(rotated)
        await record(
            deps,
            uow,
            ctx,
            "webhook.rotate_secret",
            target=(TARGET, str(current.id)),
            before=endpoint_view(current),
            after=endpoint_view(rotated),
        )
        shown = rotated.secret if ctx.applies_changes else None
        return Success(RegisteredEndpoint(rotated, shown))

    operation = Operation(
        "webhook.rotate_secret",
        {"endpoint_id": endpoint_id},
        RegisteredEndpoint,
        (EndpointNotFound,),
    )
    return await in_idempotent_transaction(deps, ctx, operation, work)


# --- deliveries ----------------------------------------------------------------------------


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
        again = _pending(deps, endpoint.id, original.event_id, original.event_type)
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


def _checked_replay(fields: FieldErrors, request: ReplayRequest) -> tuple[EventType, ...]:
    types = _checked_types(fields, request.event_types)
    naive = [
        name
        for name, moment in (("since", request.since), ("until", request.until))
        if moment.utcoffset() is None
    ]
    for name in naive:
        fields.fail(name, "must be a time with its offset (such as 2031-04-01T00:00:00Z)")
    if not naive and request.since >= request.until:
        fields.fail("until", "must be after since")
    return types


async def replay_events(  # noqa: C901
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
        events = await uow.outbox.between(types, request.since, request.until, REPLAY_MAX + 1)
        if len(events) > REPLAY_MAX:
            return Failure(
                InvalidInput.single(
                    "until",
                    f"the range holds more than {REPLAY_MAX} events: replay shorter ranges",
                )
            )
        ids: list[uuid.UUID] = []
        for event in events:
            delivery = _pending(deps, endpoint.id, event.id, event.type)
            await uow.deliveries.add(delivery)
            ids.append(delivery.id)
        await record(
            deps,
            uow,
            ctx,
            "webhook.replay",
            target=(TARGET, str(endpoint.id)),
            before=None,
            after=_replay_view(types, request, len(ids)),
        )
        return Success(ReplayReport(endpoint.id, tuple(ids)))

    checked = ReplayRequest(tuple(t.value for t in types), request.since, request.until)
    operation = Operation(
        "webhook.replay",
        {"endpoint_id": endpoint_id, "request": checked},
        ReplayReport,
        (EndpointNotFound, EndpointDisabled),
    )
    return await in_idempotent_transaction(deps, ctx, operation, work)


def _replay_view(types: Sequence[EventType], request: ReplayRequest, count: int) -> dict[str, Any]:
    return {
        "event_types": [t.value for t in types],
        "since": request.since,
        "until": request.until,
        "deliveries": count,
    }
