"""Webhook secrets, on the fakes and on PostgreSQL: a rotated secret signs beside the new one for
the overlap, a dry run makes none, and no view or audit entry holds one."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta

from orderly_core.platform.idempotency import Replayed
from orderly_core.platform.outbox import EventType
from orderly_core.shared.context import Mode
from orderly_core.testing import FixedClock
from orderly_core.unit_of_work import Dependencies
from orderly_core.webhooks.endpoints import rotate_secret
from orderly_core.webhooks.model import (
    Delivery,
    DeliveryState,
    Endpoint,
    delivery_view,
    endpoint_view,
)
from orderly_core.webhooks.policy import WebhookPolicy
from tests.core.helpers import ctx, fresh, ok
from tests.core.webhooks.helpers import HOOK, START, keyed, register, stored_endpoint, webhook_audit


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
