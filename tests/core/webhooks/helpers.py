"""Builders shared by the tests of webhooks."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime
from typing import Any

from orderly_core.audit.use_cases import list_audit
from orderly_core.platform.audit import AuditEntry, AuditQuery
from orderly_core.platform.outbox import Event, EventType, new_event
from orderly_core.shared.context import Actor, Context, Mode, Role
from orderly_core.shared.errors import InvalidInput
from orderly_core.unit_of_work import Dependencies
from orderly_core.webhooks.endpoints import NewEndpoint, RegisteredEndpoint, register_endpoint
from orderly_core.webhooks.model import Delivery, DeliveryState, Endpoint
from orderly_core.webhooks.signing import new_secret
from tests.core.helpers import ctx, fresh, ok

ADMIN = Actor.user("00000000-0000-0000-0000-00000000ad01", Role.ADMIN)
HOOK = "https://hooks.example.com/orderly"
PLACED = ("order.placed",)
START = datetime.fromisoformat("2031-04-01T09:00:00+00:00")


def keyed(key: str, actor: Actor = ADMIN, mode: Mode = Mode.EXECUTE) -> Context:
    return Context(actor=actor, request_id=f"req-{key}", idempotency_key=key, mode=mode)


async def register(
    deps: Dependencies, url: str = HOOK, types: tuple[str, ...] = PLACED
) -> RegisteredEndpoint:
    return fresh(await register_endpoint(deps, ctx(), NewEndpoint(url, types)))


async def add_endpoint(
    deps: Dependencies, *types: EventType, url: str = "https://hooks.example.com/a"
) -> Endpoint:
    """An active endpoint with a new secret (of ``order.placed`` unless ``types`` are named),
    stored through the port as Orderly's registration leaves one."""
    now = deps.clock.now()
    endpoint = Endpoint(
        id=uuid.uuid4(),
        url=url,
        event_types=types or (EventType.ORDER_PLACED,),
        secret=new_secret(),
        active=True,
        version=1,
        created_at=now,
        updated_at=now,
    )
    async with deps.unit_of_work() as uow:
        await uow.endpoints.add(endpoint)
        await uow.commit()
    return endpoint


async def stored_endpoint(deps: Dependencies, endpoint_id: uuid.UUID) -> Endpoint | None:
    async with deps.unit_of_work() as uow:
        return await uow.endpoints.get(endpoint_id)


async def all_endpoints(deps: Dependencies) -> list[Endpoint]:
    async with deps.unit_of_work() as uow:
        return await uow.endpoints.all()


async def stored_delivery(deps: Dependencies, delivery_id: uuid.UUID) -> Delivery | None:
    async with deps.unit_of_work() as uow:
        return await uow.deliveries.get(delivery_id)


async def webhook_audit(deps: Dependencies) -> list[AuditEntry]:
    """The audit entries of webhooks and their deliveries, oldest first."""
    page = ok(await list_audit(deps, ctx(), AuditQuery(limit=200)))
    return [e for e in reversed(page.items) if e.target_type.startswith("webhook")]


def field_errors(error: InvalidInput) -> dict[str, str]:
    return {e.field: e.message for e in error.errors}


async def a_delivery(
    deps: Dependencies, endpoint: Endpoint, event: Event, **fields: Any
) -> Delivery:
    """A delivery as Orderly's relay makes one, stored through the port."""
    now = deps.clock.now()
    delivery = Delivery(
        id=deps.ids.new_id(),
        endpoint_id=endpoint.id,
        event_id=event.id,
        event_type=event.type,
        state=DeliveryState.PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
    )
    delivery = replace(delivery, **fields)
    async with deps.unit_of_work() as uow:
        assert await uow.deliveries.add(delivery)
        await uow.commit()
    return delivery


async def one_event(deps: Dependencies) -> list[Event]:
    """One ``order.placed`` event in the outbox, stored through the port."""
    event = new_event(
        deps.ids.new_id(),
        ctx(),
        deps.clock.now(),
        EventType.ORDER_PLACED,
        subject="order:1",
        sequence=1,
        data={"id": "1"},
    )
    async with deps.unit_of_work() as uow:
        await uow.outbox.add(event)
        await uow.commit()
    return [event]
