"""Managing webhooks, on the fakes and on PostgreSQL: registering endpoints under the URL
rules and the policy, secrets shown once and rotated with an overlap, changes and removals,
reading deliveries, redelivering one and replaying a range of events; who may do it; dry
runs that store nothing; and no secret in any view or audit entry."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly_core.audit.use_cases import list_audit
from orderly_core.orders.use_cases import (
    LineRequest,
    NewOrder,
    OrderStep,
    pay_order,
    place_order,
)
from orderly_core.platform.audit import AuditEntry, AuditQuery
from orderly_core.platform.idempotency import Replayed
from orderly_core.platform.outbox import Event, EventType, new_event
from orderly_core.shared.context import Actor, Context, Mode, Role
from orderly_core.shared.errors import Forbidden, InvalidInput, VersionConflict
from orderly_core.testing import FixedClock, in_memory_dependencies
from orderly_core.unit_of_work import Dependencies
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
from orderly_core.webhooks.policy import WebhookPolicy
from orderly_core.webhooks.use_cases import (
    REPLAY_MAX,
    DeliveryQuery,
    EndpointChanges,
    EndpointRemoval,
    NewEndpoint,
    RegisteredEndpoint,
    ReplayRequest,
    get_delivery,
    get_endpoint,
    list_deliveries,
    list_endpoints,
    redeliver,
    register_endpoint,
    remove_endpoint,
    replay_events,
    rotate_secret,
    update_endpoint,
)
from orderly_db.tables import webhook_attempts, webhook_deliveries
from orderly_db.unit_of_work import sql_dependencies
from tests.core.helpers import CUSTOMER, STAFF, ctx, err, fresh, make_product, ok

pytestmark = pytest.mark.postgres

ADMIN = Actor.user("00000000-0000-0000-0000-00000000ad01", Role.ADMIN)
HOOK = "https://hooks.example.com/orderly"
PLACED = ("order.placed",)
START = datetime.fromisoformat("2031-04-01T09:00:00+00:00")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def timed(deps: Dependencies, clock: FixedClock) -> Dependencies:
    """The backend under test on a clock that moves only when told to."""
    return replace(deps, clock=clock)


def keyed(key: str, actor: Actor = ADMIN, mode: Mode = Mode.EXECUTE) -> Context:
    return Context(actor=actor, request_id=f"req-{key}", idempotency_key=key, mode=mode)


async def register(
    deps: Dependencies, url: str = HOOK, types: tuple[str, ...] = PLACED
) -> RegisteredEndpoint:
    return fresh(await register_endpoint(deps, ctx(), NewEndpoint(url, types)))


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


async def events_of_orders(deps: Dependencies, count: int, *, pay: bool = False) -> list[Event]:
    """``count`` orders placed (and paid) one minute apart: their events, oldest first."""
    clock = deps.clock
    assert isinstance(clock, FixedClock)
    await make_product(deps, "MUG-1", on_hand=100)
    for _ in range(count):
        placing = Context(Actor.user("cust-1", Role.CUSTOMER), "req-place")
        new = NewOrder((LineRequest("MUG-1", 1),))
        placed = fresh(await place_order(deps, placing, new)).order
        if pay:
            fresh(await pay_order(deps, placing, OrderStep(str(placed.id))))
        clock.advance(timedelta(minutes=1))
    async with deps.unit_of_work() as uow:
        return await uow.outbox.between(list(EventType), START, clock.now(), 1000)


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


# --- registering ---------------------------------------------------------------------------


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


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "is required"),
        ("hooks.example.com/orderly", "must be an absolute https:// URL"),
        ("ftp://hooks.example.com/", "must be an absolute https:// URL"),
        ("http://hooks.example.com/", "plain http is not allowed"),
        ("https:///orderly", "must name a host"),
        ("https://ann:pw@hooks.example.com/", "must not carry a user name or password"),
        ("https://ann@hooks.example.com/", "must not carry a user name or password"),
        ("https://hooks.example.com/#top", "must not have a fragment"),
        ("https://hooks.example.com/a b", "must not contain spaces"),
        ("https://hooks.example.com:70000/", "is not a valid URL"),
        ("https://hooks.example.com/" + "a" * 2030, "must be at most 2048 characters"),
        ("https://localhost/hook", "must not name localhost"),
        ("https://api.localhost/hook", "must not name localhost"),
        ("https://127.0.0.1:8443/hook", "not public"),
        ("https://127.1/hook", "not public"),
        ("https://2130706433/hook", "not public"),
        ("https://[::1]/hook", "not public"),
        ("https://[::ffff:10.0.0.1]/hook", "not public"),
        ("https://10.0.0.7/hook", "not public"),
        ("https://172.16.3.4/hook", "not public"),
        ("https://192.168.1.20/hook", "not public"),
        ("https://169.254.169.254/latest/meta-data", "not public"),
        ("https://[fe80::1]/hook", "not public"),
        ("https://100.64.0.1/hook", "not public"),
        ("https://240.0.0.1/hook", "not public"),
        ("https://239.1.2.3/hook", "not public"),
        ("https://0.0.0.0/hook", "not public"),
        ("https://[::]/hook", "not public"),
    ],
)
async def test_urls_that_cannot_receive_webhooks_are_refused(
    deps: Dependencies, url: str, message: str
) -> None:
    error = err(await register_endpoint(deps, ctx(), NewEndpoint(url, PLACED)))

    assert isinstance(error, InvalidInput)
    assert list(field_errors(error)) == ["url"]
    assert message in field_errors(error)["url"]
    assert await all_endpoints(deps) == []


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/orderly?shop=1",
        "https://hooks.example.com:8443/orderly",
        "https://93.184.215.14/orderly",
        "https://[2606:4700:4700::1111]/orderly",
        "  https://hooks.example.com/orderly  ",
    ],
)
async def test_public_https_urls_are_accepted(deps: Dependencies, url: str) -> None:
    registered = await register(deps, url)

    assert registered.endpoint.url == url.strip()


async def test_plain_http_and_private_addresses_need_the_policy_to_allow_them(
    deps: Dependencies,
) -> None:
    http_only = replace(deps, webhooks=WebhookPolicy(allow_http=True))
    private_only = replace(deps, webhooks=WebhookPolicy(allow_private_addresses=True))
    both = replace(deps, webhooks=WebhookPolicy(allow_http=True, allow_private_addresses=True))

    assert (await register(http_only, "http://hooks.example.com/")).endpoint.url.startswith(
        "http://"
    )
    refused = err(
        await register_endpoint(http_only, ctx(), NewEndpoint("http://127.0.0.1:9000/", PLACED))
    )
    assert isinstance(refused, InvalidInput)
    assert "not public" in field_errors(refused)["url"]
    await register(private_only, "https://localhost:9443/hook")
    refused = err(
        await register_endpoint(private_only, ctx(), NewEndpoint("http://10.0.0.7/", PLACED))
    )
    assert isinstance(refused, InvalidInput)
    assert "plain http is not allowed" in field_errors(refused)["url"]
    local = await register(both, "http://127.0.0.1:9000/hook")
    assert local.endpoint.url == "http://127.0.0.1:9000/hook"
    assert [e.url for e in await all_endpoints(deps)] == [
        "http://hooks.example.com/",
        "https://localhost:9443/hook",
        "http://127.0.0.1:9000/hook",
    ]


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


# --- who may -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "actor",
    [CUSTOMER, STAFF, Actor.system("worker"), Actor.anonymous()],
    ids=["customer", "staff", "system", "anonymous"],
)
async def test_only_admins_and_operators_manage_webhooks(deps: Dependencies, actor: Actor) -> None:
    registered = await register(deps)
    [event] = await _one_event(deps)
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


# --- reading, changing, removing -----------------------------------------------------------


async def test_reading_an_unknown_endpoint_is_not_found(deps: Dependencies) -> None:
    for raw in ("not-a-uuid", str(uuid.uuid4())):
        assert err(await get_endpoint(deps, ctx(), raw)) == EndpointNotFound(raw)
        assert err(await rotate_secret(deps, ctx(), raw)) == EndpointNotFound(raw)
        assert err(await remove_endpoint(deps, ctx(), EndpointRemoval(raw))) == EndpointNotFound(
            raw
        )
        changes = EndpointChanges(raw, active=False)
        assert err(await update_endpoint(deps, ctx(), changes)) == EndpointNotFound(raw)


async def test_an_update_changes_the_given_fields_and_bumps_the_version(
    timed: Dependencies, clock: FixedClock
) -> None:
    endpoint = (await register(timed)).endpoint
    clock.advance(timedelta(minutes=5))

    changes = EndpointChanges(
        str(endpoint.id),
        expected_version=1,
        url="https://hooks.example.com/v2",
        event_types=("order.shipped", "stock.low"),
    )
    updated = fresh(await update_endpoint(timed, ctx(), changes))

    assert updated == replace(
        endpoint,
        url="https://hooks.example.com/v2",
        event_types=(EventType.ORDER_SHIPPED, EventType.STOCK_LOW),
        version=2,
        updated_at=START + timedelta(minutes=5),
    )
    assert await stored_endpoint(timed, endpoint.id) == updated
    entry = (await webhook_audit(timed))[-1]
    assert entry.operation == "webhook.update"
    assert entry.changes == {
        "url": {"before": HOOK, "after": "https://hooks.example.com/v2"},
        "event_types": {"before": ["order.placed"], "after": ["order.shipped", "stock.low"]},
        "version": {"before": 1, "after": 2},
    }


async def test_an_update_that_changes_nothing_makes_no_new_version(deps: Dependencies) -> None:
    endpoint = (await register(deps)).endpoint

    same = EndpointChanges(str(endpoint.id), url=HOOK, event_types=PLACED, active=True)
    unchanged = fresh(await update_endpoint(deps, ctx(), same))

    assert unchanged == endpoint
    assert await stored_endpoint(deps, endpoint.id) == endpoint
    assert [e.operation for e in await webhook_audit(deps)] == ["webhook.register"]


async def test_an_update_of_a_stale_version_is_a_conflict(deps: Dependencies) -> None:
    endpoint = (await register(deps)).endpoint
    fresh(await update_endpoint(deps, ctx(), EndpointChanges(str(endpoint.id), active=False)))

    stale = EndpointChanges(str(endpoint.id), expected_version=1, active=True)
    conflict = err(await update_endpoint(deps, ctx(), stale))

    assert conflict == VersionConflict("webhook", str(endpoint.id), expected=1, current=2)
    assert "version 2, not 1" in conflict.detail
    stored = await stored_endpoint(deps, endpoint.id)
    assert stored is not None
    assert (stored.active, stored.version) == (False, 2)


async def test_update_rules(deps: Dependencies) -> None:
    endpoint = (await register(deps)).endpoint

    nothing = err(await update_endpoint(deps, ctx(), EndpointChanges(str(endpoint.id))))
    broken = err(
        await update_endpoint(
            deps,
            ctx(),
            EndpointChanges(str(endpoint.id), url="http://10.0.0.1/", event_types=()),
        )
    )

    assert isinstance(nothing, InvalidInput)
    assert list(field_errors(nothing)) == ["changes"]
    assert isinstance(broken, InvalidInput)
    assert list(field_errors(broken)) == ["url", "event_types"]
    assert await stored_endpoint(deps, endpoint.id) == endpoint


async def test_re_activating_a_disabled_endpoint_clears_why_it_was_disabled(
    timed: Dependencies, clock: FixedClock
) -> None:
    endpoint = (await register(timed)).endpoint
    failing = replace(
        endpoint,
        active=False,
        failing_since=START,
        disabled_reason="failing for 24 hours: last answer 503",
        version=2,
    )
    async with timed.unit_of_work() as uow:  # as Orderly's worker disables it
        await uow.endpoints.save(failing)
        await uow.commit()
    clock.advance(timedelta(days=1))

    enabled = fresh(
        await update_endpoint(timed, ctx(), EndpointChanges(str(endpoint.id), active=True))
    )

    assert (enabled.active, enabled.failing_since, enabled.disabled_reason, enabled.version) == (
        True,
        None,
        None,
        3,
    )
    entry = (await webhook_audit(timed))[-1]
    assert entry.changes["disabled_reason"] == {
        "before": "failing for 24 hours: last answer 503",
        "after": None,
    }


async def test_disabling_keeps_the_reason_and_a_dry_run_changes_nothing(
    deps: Dependencies,
) -> None:
    endpoint = (await register(deps)).endpoint
    disable = EndpointChanges(str(endpoint.id), active=False)

    preview = fresh(await update_endpoint(deps, ctx(mode=Mode.DRY_RUN), disable))

    assert (preview.active, preview.version) == (False, 2)
    assert await stored_endpoint(deps, endpoint.id) == endpoint
    disabled = fresh(await update_endpoint(deps, ctx(), disable))
    assert (disabled.active, disabled.version) == (False, 2)
    assert not disabled.wants(EventType.ORDER_PLACED)


async def test_removing_an_endpoint_answers_it_and_records_what_it_was(
    deps: Dependencies,
) -> None:
    endpoint = (await register(deps)).endpoint
    other = (await register(deps, "https://other.example.com/")).endpoint

    stale = err(await remove_endpoint(deps, ctx(), EndpointRemoval(str(endpoint.id), 9)))
    preview = fresh(
        await remove_endpoint(deps, ctx(mode=Mode.DRY_RUN), EndpointRemoval(str(endpoint.id)))
    )
    assert isinstance(stale, VersionConflict)
    assert preview == endpoint
    assert await all_endpoints(deps) == [endpoint, other]

    removed = fresh(await remove_endpoint(deps, ctx(), EndpointRemoval(str(endpoint.id), 1)))

    assert removed == endpoint
    assert await all_endpoints(deps) == [other]
    assert err(await get_endpoint(deps, ctx(), str(endpoint.id))) == EndpointNotFound(
        str(endpoint.id)
    )
    entry = (await webhook_audit(deps))[-1]
    assert (entry.operation, entry.target_id) == ("webhook.remove", str(endpoint.id))
    assert entry.changes["url"] == {"before": HOOK, "after": None}


async def test_a_retried_change_or_removal_with_its_key_gets_the_first_answer(
    deps: Dependencies,
) -> None:
    endpoint = (await register(deps)).endpoint
    disable = EndpointChanges(str(endpoint.id), expected_version=1, active=False)
    disabled = fresh(await update_endpoint(deps, keyed("off-1"), disable))

    again = ok(await update_endpoint(deps, keyed("off-1"), disable))
    stale = err(await update_endpoint(deps, keyed("off-2"), disable))

    assert isinstance(again, Replayed)
    assert again.original == disabled
    assert stale == VersionConflict("webhook", str(endpoint.id), 1, 2)
    removal = EndpointRemoval(str(endpoint.id))
    removed = fresh(await remove_endpoint(deps, keyed("rm-1"), removal))
    removed_again = ok(await remove_endpoint(deps, keyed("rm-1"), removal))
    assert isinstance(removed_again, Replayed)
    assert removed_again.original == removed == disabled
    assert err(await remove_endpoint(deps, keyed("rm-2"), removal)) == EndpointNotFound(
        str(endpoint.id)
    )
    assert [e.operation for e in await webhook_audit(deps)] == [
        "webhook.register",
        "webhook.update",
        "webhook.remove",
    ]


async def test_removing_an_endpoint_removes_its_deliveries_and_their_attempts(
    clean_engine: AsyncEngine,
) -> None:
    deps = replace(sql_dependencies(clean_engine), clock=FixedClock(START))
    endpoint = (await register(deps)).endpoint
    kept = (await register(deps, "https://other.example.com/")).endpoint
    [event] = await _one_event(deps)
    gone = await a_delivery(deps, endpoint, event, attempts=1)
    stays = await a_delivery(deps, kept, event)
    async with deps.unit_of_work() as uow:
        await uow.deliveries.add_attempt(Attempt(gone.id, 1, START, 80, 500, "HTTP 500"))
        await uow.commit()

    fresh(await remove_endpoint(deps, ctx(), EndpointRemoval(str(endpoint.id))))

    assert await stored_delivery(deps, gone.id) is None
    assert await stored_delivery(deps, stays.id) == stays
    async with clean_engine.connect() as connection:
        deliveries = await connection.scalar(select(func.count()).select_from(webhook_deliveries))
        attempts = await connection.scalar(select(func.count()).select_from(webhook_attempts))
    assert (deliveries, attempts) == (1, 0)


# --- rotating the secret -------------------------------------------------------------------


async def test_a_rotated_secret_keeps_signing_next_to_the_new_one_for_the_overlap(
    timed: Dependencies, clock: FixedClock
) -> None:
    overlap = timedelta(hours=2)
    deps = replace(timed, webhooks=WebhookPolicy(secret_overlap=overlap))
    registered = await register(deps)
    old = registered.secret
    assert old is not None
    clock.advance(timedelta(minutes=10))
    rotated_at = clock.now()

    rotation = fresh(await rotate_secret(deps, ctx(), str(registered.endpoint.id)))

    new = rotation.secret
    assert new is not None
    assert new.startswith("whsec_")
    assert new != old
    stored = await stored_endpoint(deps, registered.endpoint.id)
    assert stored == rotation.endpoint
    assert (stored.secret, stored.previous_secret, stored.previous_secret_until) == (
        new,
        old,
        rotated_at + overlap,
    )
    assert stored.version == 2
    assert stored.signing_secrets(rotated_at) == (new, old)
    assert stored.signing_secrets(rotated_at + overlap - timedelta(seconds=1)) == (new, old)
    assert stored.signing_secrets(rotated_at + overlap) == (new,)
    assert endpoint_view(stored)["secret_rotating_until"] == rotated_at + overlap
    entries = await webhook_audit(deps)
    assert entries[-1].operation == "webhook.rotate_secret"
    assert entries[-1].changes["secret_rotating_until"] == {
        "before": None,
        "after": (rotated_at + overlap).isoformat(),
    }
    for entry in entries:
        assert old not in str(entry)
        assert new not in str(entry)


async def test_a_second_rotation_retires_the_first_secret_at_once(
    timed: Dependencies, clock: FixedClock
) -> None:
    registered = await register(timed)
    endpoint_id = str(registered.endpoint.id)
    second = fresh(await rotate_secret(timed, ctx(), endpoint_id)).secret
    clock.advance(timedelta(minutes=1))

    third = fresh(await rotate_secret(timed, ctx(), endpoint_id)).secret

    stored = await stored_endpoint(timed, registered.endpoint.id)
    assert stored is not None
    assert stored.signing_secrets(clock.now()) == (third, second)
    assert registered.secret not in stored.signing_secrets(clock.now())


async def test_a_dry_run_rotation_makes_no_secret_and_a_retry_gets_the_same_one(
    deps: Dependencies,
) -> None:
    registered = await register(deps)
    endpoint_id = str(registered.endpoint.id)

    preview = fresh(await rotate_secret(deps, ctx(mode=Mode.DRY_RUN), endpoint_id))
    assert preview.secret is None
    assert await stored_endpoint(deps, registered.endpoint.id) == registered.endpoint

    first = fresh(await rotate_secret(deps, keyed("rotate-1"), endpoint_id))
    again = ok(await rotate_secret(deps, keyed("rotate-1"), endpoint_id))

    assert isinstance(again, Replayed)
    assert again.original.secret == first.secret
    stored = await stored_endpoint(deps, registered.endpoint.id)
    assert stored is not None
    assert (stored.secret, stored.version) == (first.secret, 2)


# --- deliveries ----------------------------------------------------------------------------


async def _one_event(deps: Dependencies) -> list[Event]:
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


async def test_deliveries_are_listed_newest_first_a_page_at_a_time(
    timed: Dependencies, clock: FixedClock
) -> None:
    endpoint = (await register(timed)).endpoint
    other = (await register(timed, "https://other.example.com/")).endpoint
    [event] = await _one_event(timed)
    made = []
    for _ in range(5):
        made.append(await a_delivery(timed, endpoint, event))
        clock.advance(timedelta(seconds=1))
    await a_delivery(timed, other, event)

    first = ok(await list_deliveries(timed, ctx(), str(endpoint.id), DeliveryQuery(limit=2)))
    second = ok(
        await list_deliveries(
            timed, ctx(), str(endpoint.id), DeliveryQuery(limit=2, cursor=first.next_cursor)
        )
    )
    third = ok(
        await list_deliveries(
            timed, ctx(), str(endpoint.id), DeliveryQuery(limit=2, cursor=second.next_cursor)
        )
    )

    newest_first = list(reversed(made))
    assert first.items == tuple(newest_first[:2])
    assert second.items == tuple(newest_first[2:4])
    assert (third.items, third.next_cursor) == (tuple(newest_first[4:]), None)


async def test_listing_deliveries_checks_the_query_and_the_endpoint(deps: Dependencies) -> None:
    endpoint = (await register(deps)).endpoint
    unknown = str(uuid.uuid4())

    bad = err(
        await list_deliveries(deps, ctx(), str(endpoint.id), DeliveryQuery(limit=0, cursor="x"))
    )

    assert isinstance(bad, InvalidInput)
    assert list(field_errors(bad)) == ["limit", "cursor"]
    missing = err(await list_deliveries(deps, ctx(), unknown, DeliveryQuery()))
    assert missing == EndpointNotFound(unknown)
    empty = ok(await list_deliveries(deps, ctx(), str(endpoint.id), DeliveryQuery()))
    assert (empty.items, empty.next_cursor) == ((), None)


async def test_a_delivery_is_read_with_its_attempts(timed: Dependencies) -> None:
    endpoint = (await register(timed)).endpoint
    [event] = await _one_event(timed)
    delivery = await a_delivery(
        timed, endpoint, event, state=DeliveryState.DELIVERED, attempts=2, last_status=200
    )
    tries = (
        Attempt(delivery.id, 1, START, 30_000, None, "timed out"),
        Attempt(delivery.id, 2, START + timedelta(seconds=10), 85, 200, None),
    )
    async with timed.unit_of_work() as uow:
        for attempt in tries:
            await uow.deliveries.add_attempt(attempt)
        await uow.commit()

    detail = ok(await get_delivery(timed, ctx(), str(delivery.id)))

    assert detail.delivery == delivery
    assert detail.attempts == tries
    assert [a.succeeded for a in detail.attempts] == [False, True]
    for raw in ("nope", str(uuid.uuid4())):
        assert err(await get_delivery(timed, ctx(), raw)) == DeliveryNotFound(raw)


async def test_redelivering_makes_a_new_pending_delivery_of_the_same_event(
    timed: Dependencies, clock: FixedClock
) -> None:
    endpoint = (await register(timed)).endpoint
    [event] = await _one_event(timed)
    dead = await a_delivery(
        timed, endpoint, event, state=DeliveryState.DEAD, attempts=7, next_attempt_at=None
    )
    clock.advance(timedelta(hours=3))

    again = fresh(await redeliver(timed, ctx(), str(dead.id)))

    assert again.id != dead.id
    assert again == Delivery(
        id=again.id,
        endpoint_id=endpoint.id,
        event_id=event.id,
        event_type=EventType.ORDER_PLACED,
        state=DeliveryState.PENDING,
        attempts=0,
        next_attempt_at=clock.now(),
        created_at=clock.now(),
        updated_at=clock.now(),
    )
    assert await stored_delivery(timed, again.id) == again
    assert await stored_delivery(timed, dead.id) == dead
    async with timed.unit_of_work() as uow:
        assert await uow.deliveries.overdue(clock.now() + timedelta(seconds=1), 10) == [again]
    entry = (await webhook_audit(timed))[-1]
    assert (entry.operation, entry.target_type, entry.target_id) == (
        "webhook.redeliver",
        "webhook_delivery",
        str(again.id),
    )
    assert entry.changes["redelivery_of"] == {"before": None, "after": str(dead.id)}
    assert entry.changes["state"] == {"before": None, "after": "pending"}


async def test_redelivery_dry_runs_retries_and_unknown_deliveries(deps: Dependencies) -> None:
    endpoint = (await register(deps)).endpoint
    [event] = await _one_event(deps)
    delivered = await a_delivery(deps, endpoint, event, state=DeliveryState.DELIVERED)

    preview = fresh(await redeliver(deps, ctx(mode=Mode.DRY_RUN), str(delivered.id)))
    assert preview.state is DeliveryState.PENDING
    assert await stored_delivery(deps, preview.id) is None

    first = fresh(await redeliver(deps, keyed("again-1"), str(delivered.id)))
    replayed = ok(await redeliver(deps, keyed("again-1"), str(delivered.id)))
    assert isinstance(replayed, Replayed)
    assert replayed.original == first
    page = ok(await list_deliveries(deps, ctx(), str(endpoint.id), DeliveryQuery()))
    assert {d.id for d in page.items} == {delivered.id, first.id}

    unknown = str(uuid.uuid4())
    assert err(await redeliver(deps, ctx(), unknown)) == DeliveryNotFound(unknown)
    assert err(await redeliver(deps, ctx(), "x")) == DeliveryNotFound("x")
    assert [e.operation for e in await webhook_audit(deps)] == [
        "webhook.register",
        "webhook.redeliver",
    ]


async def test_events_are_not_sent_again_to_a_disabled_endpoint(timed: Dependencies) -> None:
    endpoint = (await register(timed)).endpoint
    [event] = await _one_event(timed)
    dead = await a_delivery(timed, endpoint, event, state=DeliveryState.DEAD)
    fresh(await update_endpoint(timed, ctx(), EndpointChanges(str(endpoint.id), active=False)))
    window = ReplayRequest(PLACED, START, START + timedelta(days=1))

    refused = err(await redeliver(timed, ctx(), str(dead.id)))
    also_refused = err(await replay_events(timed, ctx(), str(endpoint.id), window))

    assert refused == also_refused == EndpointDisabled(str(endpoint.id))
    assert isinstance(refused, EndpointDisabled)
    assert "enable it" in refused.detail
    page = ok(await list_deliveries(timed, ctx(), str(endpoint.id), DeliveryQuery()))
    assert page.items == (dead,)
    fresh(await update_endpoint(timed, ctx(), EndpointChanges(str(endpoint.id), active=True)))
    assert fresh(await redeliver(timed, ctx(), str(dead.id))).event_id == event.id
    assert fresh(await replay_events(timed, ctx(), str(endpoint.id), window)).count == 1


# --- replaying -----------------------------------------------------------------------------


async def test_a_replay_sends_every_event_of_the_types_in_the_range_again(
    timed: Dependencies, clock: FixedClock
) -> None:
    endpoint = (await register(timed, types=("order.placed", "order.paid"))).endpoint
    events = await events_of_orders(timed, 3, pay=True)  # placed, paid; one minute apart
    placed = [e for e in events if e.type is EventType.ORDER_PLACED]
    already = await a_delivery(timed, endpoint, placed[1], state=DeliveryState.DELIVERED)
    clock.advance(timedelta(hours=1))

    window = ReplayRequest(("order.placed",), placed[1].created_at, clock.now())
    report = fresh(await replay_events(timed, ctx(), str(endpoint.id), window))

    assert report.endpoint_id == endpoint.id
    assert report.count == 2
    made = [await stored_delivery(timed, delivery_id) for delivery_id in report.delivery_ids]
    assert [(d.event_id, d.event_type) for d in made if d] == [
        (placed[1].id, EventType.ORDER_PLACED),
        (placed[2].id, EventType.ORDER_PLACED),
    ]
    for delivery in made:
        assert delivery is not None
        assert delivery == replace(
            delivery,
            endpoint_id=endpoint.id,
            state=DeliveryState.PENDING,
            attempts=0,
            next_attempt_at=clock.now(),
        )
    assert await stored_delivery(timed, already.id) == already
    entry = (await webhook_audit(timed))[-1]
    assert (entry.operation, entry.target_id) == ("webhook.replay", str(endpoint.id))
    assert entry.changes["deliveries"] == {"before": None, "after": 2}
    assert entry.changes["event_types"] == {"before": None, "after": ["order.placed"]}

    both = ReplayRequest(("order.paid", "order.placed"), START, placed[1].created_at)
    assert fresh(await replay_events(timed, ctx(), str(endpoint.id), both)).count == 2


async def test_replay_rules(deps: Dependencies) -> None:
    endpoint = (await register(deps, types=("order.placed",))).endpoint
    endpoint_id = str(endpoint.id)
    later = START + timedelta(hours=1)

    def refused(result: Any) -> dict[str, str]:
        error = err(result)
        assert isinstance(error, InvalidInput)
        return field_errors(error)

    assert refused(
        await replay_events(deps, ctx(), endpoint_id, ReplayRequest((), later, START))
    ) == {"event_types": "name at least one event type", "until": "must be after since"}
    naive = ReplayRequest(PLACED, START.replace(tzinfo=None), later)
    assert list(refused(await replay_events(deps, ctx(), endpoint_id, naive))) == ["since"]
    unwanted = ReplayRequest(("order.placed", "stock.low"), START, later)
    assert refused(await replay_events(deps, ctx(), endpoint_id, unwanted)) == {
        "event_types.1": "the endpoint does not subscribe to stock.low"
    }
    unknown = str(uuid.uuid4())
    window = ReplayRequest(PLACED, START, later)
    assert err(await replay_events(deps, ctx(), unknown, window)) == EndpointNotFound(unknown)
    assert [e.operation for e in await webhook_audit(deps)] == ["webhook.register"]


async def test_a_dry_run_replay_counts_and_stores_nothing_and_a_retry_replays_once(
    timed: Dependencies, clock: FixedClock
) -> None:
    endpoint = (await register(timed)).endpoint
    await events_of_orders(timed, 2)
    window = ReplayRequest(PLACED, START, clock.now())

    preview = fresh(await replay_events(timed, ctx(mode=Mode.DRY_RUN), str(endpoint.id), window))
    assert preview.count == 2
    assert all([await stored_delivery(timed, i) is None for i in preview.delivery_ids])

    first = fresh(await replay_events(timed, keyed("replay-1"), str(endpoint.id), window))
    again = ok(await replay_events(timed, keyed("replay-1"), str(endpoint.id), window))

    assert isinstance(again, Replayed)
    assert again.original == first
    page = ok(await list_deliveries(timed, ctx(), str(endpoint.id), DeliveryQuery()))
    assert sorted(d.id for d in page.items) == sorted(first.delivery_ids)


async def many_events(deps: Dependencies, count: int, engine: AsyncEngine | None) -> datetime:
    """``count`` ``order.placed`` events one millisecond apart from START: through the port
    on the fakes, in one statement on PostgreSQL. Answers the time just after the last."""
    if engine is None:
        async with deps.unit_of_work() as uow:
            for number in range(count):
                moment = START + timedelta(milliseconds=number)
                await uow.outbox.add(
                    new_event(
                        deps.ids.new_id(), ctx(), moment, EventType.ORDER_PLACED,
                        subject=f"order:{number}", sequence=1, data={},
                    )
                )  # fmt: skip
            await uow.commit()
    else:
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO outbox (id, type, subject, sequence, data, request_id, "
                    "created_at) SELECT gen_random_uuid(), 'order.placed', 'order:' || n, 1, "
                    "'{}'::jsonb, 'req-test', "
                    "CAST(:start AS timestamptz) + n * interval '1 millisecond' "
                    "FROM generate_series(0, :last) AS n"
                ),
                {"start": START, "last": count - 1},
            )
    return START + timedelta(milliseconds=count)


async def test_a_replay_of_more_than_ten_thousand_events_is_refused(
    timed: Dependencies, request: pytest.FixtureRequest
) -> None:
    on_postgres = request.node.callspec.params["deps"] == "postgres"
    engine = request.getfixturevalue("clean_engine") if on_postgres else None
    endpoint = (await register(timed)).endpoint
    end = await many_events(timed, REPLAY_MAX + 1, engine)

    too_many = err(
        await replay_events(timed, ctx(), str(endpoint.id), ReplayRequest(PLACED, START, end))
    )

    assert isinstance(too_many, InvalidInput)
    assert field_errors(too_many) == {
        "until": "the range holds more than 10000 events: replay shorter ranges"
    }
    page = ok(await list_deliveries(timed, ctx(), str(endpoint.id), DeliveryQuery()))
    assert page.items == ()
    assert [e.operation for e in await webhook_audit(timed)] == ["webhook.register"]


async def test_a_replay_of_ten_thousand_events_is_made() -> None:
    deps = in_memory_dependencies(clock=FixedClock(START))
    endpoint = (await register(deps)).endpoint
    end = await many_events(deps, REPLAY_MAX + 1, None)
    window = ReplayRequest(PLACED, START, end - timedelta(milliseconds=1))

    report = fresh(await replay_events(deps, ctx(), str(endpoint.id), window))

    assert report.count == REPLAY_MAX
    assert len(set(report.delivery_ids)) == REPLAY_MAX
    page = ok(await list_deliveries(deps, ctx(), str(endpoint.id), DeliveryQuery(limit=200)))
    assert page.next_cursor is not None
    assert {d.id for d in page.items} <= set(report.delivery_ids)


def test_the_views_of_a_delivery_and_an_endpoint_hold_no_secret() -> None:
    now = START
    endpoint = Endpoint(
        id=uuid.uuid4(),
        url=HOOK,
        event_types=(EventType.ORDER_PLACED,),
        secret="whsec_current",
        active=True,
        version=2,
        created_at=now,
        updated_at=now,
        previous_secret="whsec_previous",
        previous_secret_until=now,
    )
    delivery = Delivery(
        uuid.uuid4(), endpoint.id, uuid.uuid4(), EventType.ORDER_PLACED,
        DeliveryState.PENDING, 0, now, now, now,
    )  # fmt: skip

    assert "whsec_" not in str(endpoint_view(endpoint))
    assert "whsec_" not in str(delivery_view(delivery))
