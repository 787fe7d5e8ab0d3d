"""Reading, changing and removing webhook endpoints, on the fakes and on PostgreSQL: versions,
conflicts, dry runs, retries with their key, and what a removal takes with it."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly_core.platform.idempotency import Replayed
from orderly_core.platform.outbox import EventType
from orderly_core.shared.context import Mode
from orderly_core.shared.errors import InvalidInput, VersionConflict
from orderly_core.testing import FixedClock
from orderly_core.unit_of_work import Dependencies
from orderly_core.webhooks.endpoints import (
    EndpointChanges,
    EndpointRemoval,
    get_endpoint,
    remove_endpoint,
    rotate_secret,
    update_endpoint,
)
from orderly_core.webhooks.errors import EndpointNotFound
from orderly_core.webhooks.model import Attempt
from orderly_db.tables import webhook_attempts, webhook_deliveries
from orderly_db.unit_of_work import sql_dependencies
from tests.core.helpers import ctx, err, fresh, ok
from tests.core.webhooks.helpers import (
    HOOK,
    PLACED,
    START,
    a_delivery,
    all_endpoints,
    field_errors,
    keyed,
    one_event,
    register,
    stored_delivery,
    stored_endpoint,
    webhook_audit,
)


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


@pytest.mark.postgres
async def test_removing_an_endpoint_removes_its_deliveries_and_their_attempts(
    clean_engine: AsyncEngine,
) -> None:
    deps = replace(sql_dependencies(clean_engine), clock=FixedClock(START))
    endpoint = (await register(deps)).endpoint
    kept = (await register(deps, "https://other.example.com/")).endpoint
    [event] = await one_event(deps)
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
