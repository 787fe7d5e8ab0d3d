"""Who manages webhooks, on the fakes and on PostgreSQL: admins and operators, and nobody else."""

from __future__ import annotations

from datetime import timedelta

import pytest

from orderly_core.shared.context import Actor
from orderly_core.shared.errors import Forbidden
from orderly_core.unit_of_work import Dependencies
from orderly_core.webhooks.deliveries import DeliveryQuery, get_delivery, list_deliveries, redeliver
from orderly_core.webhooks.endpoints import (
    EndpointChanges,
    EndpointRemoval,
    NewEndpoint,
    get_endpoint,
    list_endpoints,
    register_endpoint,
    remove_endpoint,
    rotate_secret,
    update_endpoint,
)
from orderly_core.webhooks.replay import ReplayRequest, replay_events
from tests.core.helpers import CUSTOMER, STAFF, ctx, err, fresh, ok
from tests.core.webhooks.helpers import (
    ADMIN,
    HOOK,
    PLACED,
    START,
    a_delivery,
    all_endpoints,
    one_event,
    register,
    webhook_audit,
)


@pytest.mark.parametrize(
    "actor",
    [CUSTOMER, STAFF, Actor.system("worker"), Actor.anonymous()],
    ids=["customer", "staff", "system", "anonymous"],
)
async def test_only_admins_and_operators_manage_webhooks(deps: Dependencies, actor: Actor) -> None:
    registered = await register(deps)
    [event] = await one_event(deps)
    delivery = await a_delivery(deps, registered.endpoint, event)
    endpoint_id = str(registered.endpoint.id)
    as_them = ctx(actor)
    window = ReplayRequest(PLACED, START - timedelta(days=1), START + timedelta(days=1))

    refusals = [
        await register_endpoint(deps, as_them, NewEndpoint(HOOK, PLACED)),
        await list_endpoints(deps, as_them),
        await get_endpoint(deps, as_them, endpoint_id),
        await update_endpoint(deps, as_them, EndpointChanges(endpoint_id, active=False)),
        await remove_endpoint(deps, as_them, EndpointRemoval(endpoint_id)),
        await rotate_secret(deps, as_them, endpoint_id),
        await list_deliveries(deps, as_them, endpoint_id, DeliveryQuery()),
        await get_delivery(deps, as_them, str(delivery.id)),
        await redeliver(deps, as_them, str(delivery.id)),
        await replay_events(deps, as_them, endpoint_id, window),
    ]

    assert all(isinstance(err(result), Forbidden) for result in refusals)
    assert await all_endpoints(deps) == [registered.endpoint]
    page = ok(await list_deliveries(deps, ctx(), endpoint_id, DeliveryQuery()))
    assert page.items == (delivery,)


async def test_an_admin_account_manages_webhooks_like_an_operator(deps: Dependencies) -> None:
    registered = fresh(await register_endpoint(deps, ctx(ADMIN), NewEndpoint(HOOK, PLACED)))
    endpoint_id = str(registered.endpoint.id)

    assert ok(await list_endpoints(deps, ctx(ADMIN))) == (registered.endpoint,)
    disabled = fresh(
        await update_endpoint(deps, ctx(ADMIN), EndpointChanges(endpoint_id, active=False))
    )
    assert disabled.active is False
    assert fresh(await rotate_secret(deps, ctx(ADMIN), endpoint_id)).secret
    fresh(await remove_endpoint(deps, ctx(ADMIN), EndpointRemoval(endpoint_id)))
    assert [(e.operation, e.actor_id) for e in await webhook_audit(deps)] == [
        ("webhook.register", ADMIN.id),
        ("webhook.update", ADMIN.id),
        ("webhook.rotate_secret", ADMIN.id),
        ("webhook.remove", ADMIN.id),
    ]
