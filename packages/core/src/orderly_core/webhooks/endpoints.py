"""Managing webhook endpoints: registering, reading, changing and removing them, and
rotating their signing secrets.

Only admins and operators manage webhooks (:func:`~orderly_core.shared.authorization.
webhook_admin_denied`). Every write checks the actor, validates all of its input (listing
every broken field), then runs in one unit of work, so a ``DRY_RUN`` computes the same
answer and stores nothing; each successful write leaves an audit entry built from the public
views, which never hold a secret.

A signing secret is made by Orderly and shown once: in the answer of the registration or of
the rotation that made it. It is never part of a view, a listing or the audit trail. Every
write takes an idempotency key; a retry of a registration or a rotation with its key gets
the first answer again, secret included, for as long as the key is kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from returns.pipeline import is_successful
from returns.result import Failure, Result, Success

from orderly_core.platform.audit import record
from orderly_core.platform.idempotency import Idempotent, Operation
from orderly_core.platform.outbox import EventType
from orderly_core.platform.transaction import in_idempotent_transaction, in_transaction
from orderly_core.shared.authorization import webhook_admin_denied
from orderly_core.shared.context import Context
from orderly_core.shared.errors import Forbidden, InvalidInput, VersionConflict, version_conflict
from orderly_core.shared.validation import FieldErrors, parse_id
from orderly_core.webhooks.errors import EndpointNotFound
from orderly_core.webhooks.model import Endpoint, endpoint_view
from orderly_core.webhooks.policy import checked_url
from orderly_core.webhooks.ports import WebhooksServices, WebhooksUnit
from orderly_core.webhooks.signing import new_secret

TARGET = "webhook"  # the audit trail's target type of an endpoint


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


RegisterEndpointError = Forbidden | InvalidInput
ReadEndpointError = Forbidden | EndpointNotFound
UpdateEndpointError = Forbidden | InvalidInput | EndpointNotFound | VersionConflict
RemoveEndpointError = Forbidden | EndpointNotFound | VersionConflict
RotateSecretError = Forbidden | EndpointNotFound


# --- rules ---------------------------------------------------------------------------------


_KNOWN_TYPES = ", ".join(t.value for t in EventType)


def checked_event_types(
    fields: FieldErrors, names: Sequence[str], field: str = "event_types"
) -> tuple[EventType, ...]:
    """The event types ``names`` name: at least one, each a known type, none twice; every
    name that breaks a rule is added to ``fields``."""
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


def _new_endpoint(deps: WebhooksServices, url: str, types: tuple[EventType, ...]) -> Endpoint:
    """A new endpoint is active, at version 1, with a new signing secret."""
    now = deps.clock.now()
    return Endpoint(
        id=deps.ids.new_id(),
        url=url,
        event_types=types,
        secret=new_secret(),
        active=True,
        version=1,
        created_at=now,
        updated_at=now,
    )


def _changed(
    current: Endpoint,
    url: str | None,
    types: tuple[EventType, ...] | None,
    active: bool | None,
) -> Endpoint:
    """``current`` with the changes applied; re-activating it clears why and since when it
    was failing."""
    updated = replace(
        current,
        url=current.url if url is None else url,
        event_types=current.event_types if types is None else types,
        active=current.active if active is None else active,
    )
    if updated.active and not current.active:
        updated = replace(updated, failing_since=None, disabled_reason=None)
    return updated


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
    types = checked_event_types(fields, new.event_types)
    if invalid := fields.invalid():
        return invalid

    async def work(uow: WebhooksUnit) -> Result[RegisteredEndpoint, RegisterEndpointError]:
        endpoint = _new_endpoint(deps, url, types)
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
    types = (
        None if changes.event_types is None else checked_event_types(fields, changes.event_types)
    )
    if changes.url is None and changes.event_types is None and changes.active is None:
        fields.fail("changes", "name at least one of url, event_types and active to change")
    if invalid := fields.invalid():
        return invalid

    async def work(uow: WebhooksUnit) -> Result[Endpoint, UpdateEndpointError]:
        found = await _lock_current(uow, changes.endpoint_id, changes.expected_version)
        if not is_successful(found):
            return found
        current = found.unwrap()
        updated = _changed(current, url, types, changes.active)
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
