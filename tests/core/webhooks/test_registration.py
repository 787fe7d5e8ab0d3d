"""Registering webhook endpoints, on the fakes and on PostgreSQL: a new secret shown once, an
active endpoint stored, event types checked, dry runs that store nothing and retries that get
the first answer."""

from __future__ import annotations

from orderly_core.platform.idempotency import Replayed
from orderly_core.platform.outbox import EventType
from orderly_core.shared.context import Mode
from orderly_core.shared.errors import InvalidInput
from orderly_core.unit_of_work import Dependencies
from orderly_core.webhooks.endpoints import (
    NewEndpoint,
    get_endpoint,
    list_endpoints,
    register_endpoint,
)
from orderly_core.webhooks.model import endpoint_view
from tests.core.helpers import ctx, err, fresh, ok
from tests.core.webhooks.helpers import (
    HOOK,
    PLACED,
    START,
    all_endpoints,
    field_errors,
    keyed,
    register,
    stored_endpoint,
    webhook_audit,
)


async def test_registering_answers_a_new_secret_once_and_stores_an_active_endpoint(
    timed: Dependencies,
) -> None:
    registered = await register(timed, types=("order.placed", "ORDER.PAID "))

    endpoint, secret = registered.endpoint, registered.secret
    assert secret is not None
    assert secret.startswith("whsec_")
    assert (endpoint.url, endpoint.event_types, endpoint.active, endpoint.version) == (
        HOOK,
        (EventType.ORDER_PLACED, EventType.ORDER_PAID),
        True,
        1,
    )
    assert endpoint.created_at == endpoint.updated_at == START
    stored = await stored_endpoint(timed, endpoint.id)
    assert stored is not None
    assert stored == endpoint
    assert stored.signing_secrets(START) == (secret,)
    assert ok(await get_endpoint(timed, ctx(), str(endpoint.id))) == endpoint
    assert ok(await list_endpoints(timed, ctx())) == (endpoint,)
    assert "secret" not in endpoint_view(endpoint)
    assert secret not in str(endpoint_view(endpoint))
    [entry] = await webhook_audit(timed)
    assert (entry.operation, entry.target_type, entry.target_id) == (
        "webhook.register",
        "webhook",
        str(endpoint.id),
    )
    assert entry.changes["url"] == {"before": None, "after": HOOK}
    assert secret not in str(entry)


async def test_two_registrations_get_two_secrets(deps: Dependencies) -> None:
    first = await register(deps)
    second = await register(deps)

    assert first.secret != second.secret
    assert first.endpoint.id != second.endpoint.id
    assert ok(await list_endpoints(deps, ctx())) == (first.endpoint, second.endpoint)


async def test_event_types_must_be_known_and_named_once_and_every_broken_field_is_listed(
    deps: Dependencies,
) -> None:
    none = err(await register_endpoint(deps, ctx(), NewEndpoint(HOOK, ())))
    assert isinstance(none, InvalidInput)
    assert field_errors(none) == {"event_types": "name at least one event type"}

    bad = err(
        await register_endpoint(
            deps,
            ctx(),
            NewEndpoint(
                "http://hooks.example.com/",
                ("order.placed", "order.refunded", "Order.Placed", "stock.low"),
            ),
        )
    )

    assert isinstance(bad, InvalidInput)
    errors = field_errors(bad)
    assert list(errors) == ["url", "event_types.1", "event_types.2"]
    assert errors["event_types.1"].startswith("is not an event type (one of order.placed, ")
    assert errors["event_types.2"] == "repeats an event type named before"
    assert await all_endpoints(deps) == []


async def test_a_dry_run_registration_makes_no_secret_and_stores_nothing(
    deps: Dependencies,
) -> None:
    preview = fresh(
        await register_endpoint(deps, ctx(mode=Mode.DRY_RUN), NewEndpoint(HOOK, PLACED))
    )

    assert preview.secret is None
    assert (preview.endpoint.url, preview.endpoint.version) == (HOOK, 1)
    assert await all_endpoints(deps) == []
    assert await webhook_audit(deps) == []


async def test_a_retried_registration_with_its_key_gets_the_first_answer_and_one_endpoint(
    deps: Dependencies,
) -> None:
    new = NewEndpoint(HOOK, PLACED)
    first = fresh(await register_endpoint(deps, keyed("hook-1"), new))

    again = ok(await register_endpoint(deps, keyed("hook-1"), new))

    assert isinstance(again, Replayed)
    assert again.original == first
    assert again.original.secret == first.secret
    assert await all_endpoints(deps) == [first.endpoint]
    other = fresh(await register_endpoint(deps, keyed("hook-2"), new))
    assert other.secret != first.secret
