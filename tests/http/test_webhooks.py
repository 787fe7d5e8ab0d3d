"""Webhooks over HTTP with real accounts, tokens and PostgreSQL: registering with the secret
shown once, reading, changing with If-Match, removing, rotating, listing and reading
deliveries, redelivering and replaying; dry runs; idempotent retries; who may; problems."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from orderly_core.orders.placement import LineRequest, NewOrder, place_order
from orderly_core.orders.steps import OrderStep
from orderly_core.platform.outbox import EventType
from orderly_core.shared.context import Actor, Context, Role
from orderly_core.unit_of_work import Dependencies
from orderly_core.webhooks.model import Attempt, DeliveryState
from orderly_http.app import create_app
from tests.core.helpers import fresh, pay_order
from tests.http.accounts import auth_settings, signed_in
from tests.http.helpers import assert_problem, seed, serving

pytestmark = pytest.mark.postgres

WEBHOOKS = "/api/v1/webhooks"
HOOK = "https://hooks.example.com/orderly"
ENDPOINT_FIELDS = [
    "id", "url", "event_types", "active", "disabled_reason", "failing_since",
    "secret_rotating_until", "version", "created_at", "updated_at",
]  # fmt: skip
DELIVERY_FIELDS = [
    "id", "endpoint_id", "event_id", "event_type", "state", "attempts", "next_attempt_at",
    "last_status", "last_error", "delivered_at", "created_at", "updated_at",
]  # fmt: skip
CUSTOMER = Context(Actor.user("cust-1", Role.CUSTOMER), "req-seed")
STAFF = Context(Actor.user("staff-1", Role.STAFF), "req-seed-payment")


async def admin(client: httpx.AsyncClient, deps: Dependencies) -> dict[str, str]:
    _, headers = await signed_in(client, deps, "ada@example.com", Role.ADMIN)
    return headers


async def registered(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    url: str = HOOK,
    types: tuple[str, ...] = ("order.placed", "order.paid"),
) -> dict[str, Any]:
    response = await client.post(
        WEBHOOKS, json={"url": url, "event_types": list(types)}, headers=headers
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def orders_placed_and_paid(deps: Dependencies, count: int) -> None:
    """``count`` orders placed and paid (by hand, by staff) through the core: placed,
    payment.succeeded and paid, 3 events each in the outbox."""
    await seed(deps, "MUG-1", on_hand=100)
    for _ in range(count):
        new = NewOrder((LineRequest("MUG-1", 1),))
        placed = fresh(await place_order(deps, CUSTOMER, new)).order
        fresh(await pay_order(deps, STAFF, OrderStep(str(placed.id))))


def window(**params: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "event_types": ["order.placed", "order.paid"],
        "since": (now - timedelta(hours=1)).isoformat(),
        "until": (now + timedelta(hours=1)).isoformat(),
    } | params


# --- endpoints -----------------------------------------------------------------------------


async def test_an_admin_registers_an_endpoint_and_sees_its_secret_only_then(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    headers = await admin(client, pg_deps)

    response = await client.post(
        WEBHOOKS, json={"url": HOOK, "event_types": ["order.placed"]}, headers=headers
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert list(body) == [*ENDPOINT_FIELDS, "secret"]
    assert body["secret"].startswith("whsec_")
    assert (body["url"], body["event_types"], body["active"], body["version"]) == (
        HOOK,
        ["order.placed"],
        True,
        1,
    )
    assert response.headers["location"] == f"{WEBHOOKS}/{body['id']}"
    assert response.headers["etag"] == '"1"'
    assert response.headers["cache-control"] == "no-store"
    secret = body.pop("secret")

    shown = await client.get(response.headers["location"], headers=headers)
    listed = await client.get(WEBHOOKS, headers=headers)
    audit = await client.get("/api/v1/audit", params={"target_type": "webhook"}, headers=headers)

    assert (shown.status_code, shown.json(), shown.headers["etag"]) == (200, body, '"1"')
    assert listed.json() == {"items": [body]}
    assert [e["operation"] for e in audit.json()["items"]] == ["webhook.register"]
    for answer in (shown, listed, audit):
        assert secret not in answer.text
        assert "whsec_" not in answer.text


async def test_an_endpoint_is_changed_against_its_version_and_removed(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    headers = await admin(client, pg_deps)
    endpoint = await registered(client, headers)
    url = f"{WEBHOOKS}/{endpoint['id']}"

    changed = await client.patch(
        url,
        json={"active": False, "event_types": ["stock.low"]},
        headers=headers | {"If-Match": '"1"'},
    )
    stale = await client.patch(url, json={"active": True}, headers=headers | {"If-Match": '"1"'})
    unconditional = await client.patch(
        url, json={"url": "https://hooks.example.com/v2"}, headers=headers
    )

    assert changed.status_code == 200, changed.text
    assert changed.headers["etag"] == '"2"'
    assert (changed.json()["active"], changed.json()["event_types"]) == (False, ["stock.low"])
    assert "secret" not in changed.json()
    body = assert_problem(stale, 412, "version_conflict")
    assert (body["expected"], body["current"]) == (1, 2)
    assert body["endpoint_id"] == body["target_id"] == endpoint["id"]
    assert body["target_type"] == "webhook"
    assert unconditional.status_code == 200, unconditional.text
    assert (unconditional.json()["url"], unconditional.json()["version"]) == (
        "https://hooks.example.com/v2",
        3,
    )

    removed_stale = await client.delete(url, headers=headers | {"If-Match": '"2"'})
    removal = headers | {"If-Match": '"3"', "Idempotency-Key": "rm-hook-1"}
    removed = await client.delete(url, headers=removal)
    retried = await client.delete(url, headers=removal)

    assert_problem(removed_stale, 412, "version_conflict")
    assert (removed.status_code, removed.content) == (204, b"")
    assert (retried.status_code, retried.headers["idempotent-replayed"]) == (204, "true")
    assert_problem(await client.get(url, headers=headers), 404, "endpoint_not_found")
    assert_problem(await client.delete(url, headers=headers), 404, "endpoint_not_found")
    assert (await client.get(WEBHOOKS, headers=headers)).json() == {"items": []}


async def test_urls_event_types_and_bodies_are_checked(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    headers = await admin(client, pg_deps)

    def fields(response: httpx.Response) -> list[str]:
        body = assert_problem(response, 422, "invalid_input")
        return [error["field"] for error in body["errors"]]

    bad = {"url": "http://127.0.0.1/hook", "event_types": ["order.placed", "order.lost"]}
    assert fields(await client.post(WEBHOOKS, json=bad, headers=headers)) == [
        "url",
        "event_types.1",
    ]
    private = {"url": "https://169.254.169.254/latest", "event_types": ["order.placed"]}
    assert fields(await client.post(WEBHOOKS, json=private, headers=headers)) == ["url"]
    extra = {"url": HOOK, "event_types": ["order.placed"], "secret": "whsec_mine"}
    assert fields(await client.post(WEBHOOKS, json=extra, headers=headers)) == ["secret"]
    not_a_list = {"url": HOOK, "event_types": "order.placed"}
    assert fields(await client.post(WEBHOOKS, json=not_a_list, headers=headers)) == ["event_types"]
    endpoint = await registered(client, headers)
    url = f"{WEBHOOKS}/{endpoint['id']}"
    assert fields(await client.patch(url, json={"url": None}, headers=headers)) == ["url"]
    assert fields(await client.patch(url, json={}, headers=headers)) == ["changes"]
    assert fields(
        await client.patch(url, json={"active": True}, headers=headers | {"If-Match": "W/1"})
    ) == ["If-Match"]
    assert_problem(
        await client.get(f"{WEBHOOKS}/{uuid.uuid4()}", headers=headers), 404, "endpoint_not_found"
    )
    assert_problem(await client.get(f"{WEBHOOKS}/nope", headers=headers), 404, "endpoint_not_found")


async def test_the_webhook_policy_comes_from_the_settings(
    pg_deps: Dependencies, database_url: str, redis_url: str
) -> None:
    local = auth_settings(
        database_url, redis_url, webhook_allow_http=True, webhook_allow_private_addresses=True
    )
    async with serving(create_app(local)) as client:
        headers = await admin(client, pg_deps)
        endpoint = await registered(client, headers, "http://127.0.0.1:9000/hook")

    assert endpoint["url"] == "http://127.0.0.1:9000/hook"


async def test_only_admins_manage_webhooks(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    headers = await admin(client, pg_deps)
    endpoint = await registered(client, headers)
    _, staff = await signed_in(client, pg_deps, "stan@example.com", Role.STAFF)
    _, customer = await signed_in(client, pg_deps, "cid@example.com", Role.CUSTOMER)
    url = f"{WEBHOOKS}/{endpoint['id']}"
    delivery = f"{WEBHOOKS}/deliveries/{uuid.uuid4()}"
    calls = [
        ("POST", WEBHOOKS, {"url": HOOK, "event_types": ["order.placed"]}),
        ("GET", WEBHOOKS, None),
        ("GET", url, None),
        ("PATCH", url, {"active": False}),
        ("DELETE", url, None),
        ("POST", f"{url}/rotate-secret", None),
        ("GET", f"{url}/deliveries", None),
        ("POST", f"{url}/replay", window()),
        ("GET", delivery, None),
        ("POST", f"{delivery}/redeliver", None),
    ]

    for method, path, body in calls:
        for who in (staff, customer):
            response = await client.request(method, path, json=body, headers=who)
            assert_problem(response, 403, "forbidden")
        assert_problem(await client.request(method, path, json=body), 401, "not_signed_in")

    assert (await client.get(url, headers=headers)).json()["version"] == 1


async def test_dry_runs_answer_what_would_happen_and_store_nothing(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    headers = await admin(client, pg_deps)
    dry = {"mode": "dry_run"}

    preview = await client.post(
        WEBHOOKS, params=dry, json={"url": HOOK, "event_types": ["order.placed"]}, headers=headers
    )

    assert preview.status_code == 200, preview.text
    assert preview.headers["orderly-mode"] == "dry_run"
    assert "location" not in preview.headers
    assert "etag" not in preview.headers
    assert (preview.json()["secret"], preview.json()["url"]) == (None, HOOK)
    assert (await client.get(WEBHOOKS, headers=headers)).json() == {"items": []}

    endpoint = await registered(client, headers)
    url = f"{WEBHOOKS}/{endpoint['id']}"
    changed = await client.patch(url, params=dry, json={"active": False}, headers=headers)
    rotated = await client.post(f"{url}/rotate-secret", params=dry, headers=headers)
    removed = await client.delete(url, params=dry, headers=headers)

    assert (changed.status_code, changed.json()["active"], changed.json()["version"]) == (
        200,
        False,
        2,
    )
    assert (rotated.status_code, rotated.json()["secret"]) == (200, None)
    assert (removed.status_code, removed.headers["orderly-mode"]) == (204, "dry_run")
    for answer in (changed, rotated):
        assert answer.headers["orderly-mode"] == "dry_run"
    shown = (await client.get(url, headers=headers)).json()
    assert (shown["active"], shown["version"], shown["secret_rotating_until"]) == (True, 1, None)


async def test_a_retried_registration_with_its_key_gets_the_same_answer_and_one_endpoint(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    headers = await admin(client, pg_deps) | {"Idempotency-Key": "hook-2031-04-01"}
    body = {"url": HOOK, "event_types": ["order.placed"]}

    first = await client.post(WEBHOOKS, json=body, headers=headers)
    again = await client.post(WEBHOOKS, json=body, headers=headers)
    other = await client.post(WEBHOOKS, json=body | {"url": f"{HOOK}/2"}, headers=headers)

    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"] == first.headers["location"]
    assert "idempotent-replayed" not in first.headers
    assert_problem(other, 422, "idempotency_key_reused")
    assert len((await client.get(WEBHOOKS, headers=headers)).json()["items"]) == 1


async def test_rotating_answers_the_new_secret_once_and_says_until_when_the_old_one_signs(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    headers = await admin(client, pg_deps)
    endpoint = await registered(client, headers)
    url = f"{WEBHOOKS}/{endpoint['id']}"
    keyed = headers | {"Idempotency-Key": "rotate-1"}

    rotated = await client.post(f"{url}/rotate-secret", headers=keyed)
    again = await client.post(f"{url}/rotate-secret", headers=keyed)

    assert rotated.status_code == 200, rotated.text
    body = rotated.json()
    assert body["secret"].startswith("whsec_")
    assert body["secret"] != endpoint["secret"]
    assert (body["version"], rotated.headers["etag"]) == (2, '"2"')
    assert rotated.headers["cache-control"] == "no-store"
    until = datetime.fromisoformat(body["secret_rotating_until"])
    expected = datetime.fromisoformat(body["updated_at"]) + timedelta(hours=24)
    assert until == expected
    assert (again.content, again.headers["idempotent-replayed"]) == (rotated.content, "true")
    shown = await client.get(url, headers=headers)
    assert (shown.json()["version"], shown.json()["secret_rotating_until"]) == (
        2,
        body["secret_rotating_until"],
    )
    assert body["secret"] not in shown.text
    assert_problem(
        await client.post(f"{WEBHOOKS}/{uuid.uuid4()}/rotate-secret", headers=headers),
        404,
        "endpoint_not_found",
    )


# --- deliveries ----------------------------------------------------------------------------


async def test_a_replay_makes_a_pending_delivery_per_event_and_they_are_listed_by_page(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    headers = await admin(client, pg_deps)
    endpoint = await registered(client, headers)
    url = f"{WEBHOOKS}/{endpoint['id']}"
    await orders_placed_and_paid(pg_deps, 2)

    preview = await client.post(
        f"{url}/replay", params={"mode": "dry_run"}, json=window(), headers=headers
    )
    replayed = await client.post(f"{url}/replay", json=window(), headers=headers)

    assert (preview.status_code, preview.json()["count"]) == (200, 4)
    assert preview.headers["orderly-mode"] == "dry_run"
    assert replayed.status_code == 202, replayed.text
    report = replayed.json()
    assert (report["endpoint_id"], report["count"]) == (endpoint["id"], 4)
    assert len(report["delivery_ids"]) == 4

    first = await client.get(f"{url}/deliveries", params={"limit": 3}, headers=headers)
    rest = await client.get(
        f"{url}/deliveries",
        params={"limit": 3, "cursor": first.json()["next_cursor"]},
        headers=headers,
    )

    assert first.status_code == 200, first.text
    items = first.json()["items"] + rest.json()["items"]
    assert rest.json()["next_cursor"] is None
    assert sorted(d["id"] for d in items) == sorted(report["delivery_ids"])
    assert list(items[0]) == DELIVERY_FIELDS
    assert {(d["state"], d["attempts"], d["endpoint_id"]) for d in items} == {
        ("pending", 0, endpoint["id"])
    }
    assert sorted(d["event_type"] for d in items) == ["order.paid"] * 2 + ["order.placed"] * 2
    entries = (
        await client.get("/api/v1/audit", params={"operation": "webhook.replay"}, headers=headers)
    ).json()
    assert [e["changes"]["deliveries"]["after"] for e in entries["items"]] == [4]


async def test_replay_problems(client: httpx.AsyncClient, pg_deps: Dependencies) -> None:
    headers = await admin(client, pg_deps)
    endpoint = await registered(client, headers, types=("order.placed",))
    url = f"{WEBHOOKS}/{endpoint['id']}/replay"
    now = datetime.now(UTC)

    backwards = window(
        event_types=["order.placed"],
        since=now.isoformat(),
        until=(now - timedelta(hours=1)).isoformat(),
    )
    unsubscribed = window(event_types=["order.paid"])
    naive = window(event_types=["order.placed"], since="2031-04-01T00:00:00")

    body = assert_problem(
        await client.post(url, json=backwards, headers=headers), 422, "invalid_input"
    )
    assert [e["field"] for e in body["errors"]] == ["until"]
    body = assert_problem(
        await client.post(url, json=unsubscribed, headers=headers), 422, "invalid_input"
    )
    assert body["errors"] == [
        {"field": "event_types.0", "message": "the endpoint does not subscribe to order.paid"}
    ]
    body = assert_problem(await client.post(url, json=naive, headers=headers), 422, "invalid_input")
    assert [e["field"] for e in body["errors"]] == ["since"]
    assert_problem(
        await client.post(f"{WEBHOOKS}/{uuid.uuid4()}/replay", json=window(), headers=headers),
        404,
        "endpoint_not_found",
    )


async def test_a_delivery_is_shown_with_its_attempts_and_redelivered(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    headers = await admin(client, pg_deps)
    endpoint = await registered(client, headers)
    await orders_placed_and_paid(pg_deps, 1)
    replay = await client.post(
        f"{WEBHOOKS}/{endpoint['id']}/replay",
        json=window(event_types=["order.placed"]),
        headers=headers,
    )
    [delivery_id] = replay.json()["delivery_ids"]
    await _fail_twice_then_die(pg_deps, uuid.UUID(delivery_id))
    url = f"{WEBHOOKS}/deliveries/{delivery_id}"

    shown = await client.get(url, headers=headers)

    assert shown.status_code == 200, shown.text
    detail = shown.json()
    assert list(detail) == [*DELIVERY_FIELDS, "attempt_log"]
    assert (detail["state"], detail["attempts"], detail["last_status"]) == ("dead", 2, 503)
    assert [
        (a["number"], a["status"], a["error"], a["succeeded"]) for a in detail["attempt_log"]
    ] == [(1, None, "connection refused", False), (2, 503, "HTTP 503", False)]

    preview = await client.post(f"{url}/redeliver", params={"mode": "dry_run"}, headers=headers)
    again = await client.post(f"{url}/redeliver", headers=headers | {"Idempotency-Key": "r-1"})
    retried = await client.post(f"{url}/redeliver", headers=headers | {"Idempotency-Key": "r-1"})

    assert (preview.status_code, preview.headers["orderly-mode"]) == (200, "dry_run")
    assert again.status_code == 202, again.text
    new = again.json()
    assert again.headers["location"] == f"{WEBHOOKS}/deliveries/{new['id']}"
    assert (new["event_id"], new["state"], new["attempts"]) == (detail["event_id"], "pending", 0)
    assert new["id"] not in (delivery_id, preview.json()["id"])
    assert (retried.content, retried.headers["idempotent-replayed"]) == (again.content, "true")
    listed = (await client.get(f"{WEBHOOKS}/{endpoint['id']}/deliveries", headers=headers)).json()
    assert [d["id"] for d in listed["items"]] == [new["id"], delivery_id]
    assert (await client.get(url, headers=headers)).json()["state"] == "dead"
    fresh_one = (await client.get(again.headers["location"], headers=headers)).json()
    assert fresh_one["attempt_log"] == []


async def _fail_twice_then_die(deps: Dependencies, delivery_id: uuid.UUID) -> None:
    """Two failed attempts and a dead delivery, as Orderly's worker records them."""
    async with deps.unit_of_work() as uow:
        delivery = await uow.deliveries.get(delivery_id, for_update=True)
        assert delivery is not None
        at = delivery.created_at
        await uow.deliveries.add_attempt(
            Attempt(delivery_id, 1, at, 12, None, "connection refused")
        )
        await uow.deliveries.add_attempt(Attempt(delivery_id, 2, at, 40, 503, "HTTP 503"))
        dead = replace(
            delivery,
            state=DeliveryState.DEAD,
            attempts=2,
            last_status=503,
            last_error="HTTP 503",
            next_attempt_at=None,
        )
        await uow.deliveries.save(dead)
        await uow.commit()


async def test_delivery_problems(client: httpx.AsyncClient, pg_deps: Dependencies) -> None:
    headers = await admin(client, pg_deps)
    endpoint = await registered(client, headers)
    await orders_placed_and_paid(pg_deps, 1)
    replay = await client.post(
        f"{WEBHOOKS}/{endpoint['id']}/replay",
        json=window(event_types=["order.placed"]),
        headers=headers,
    )
    [delivery_id] = replay.json()["delivery_ids"]
    unknown = f"{WEBHOOKS}/deliveries/{uuid.uuid4()}"

    assert_problem(await client.get(unknown, headers=headers), 404, "delivery_not_found")
    assert_problem(
        await client.post(f"{unknown}/redeliver", headers=headers), 404, "delivery_not_found"
    )
    assert_problem(
        await client.get(f"{WEBHOOKS}/{uuid.uuid4()}/deliveries", headers=headers),
        404,
        "endpoint_not_found",
    )
    body = assert_problem(
        await client.get(
            f"{WEBHOOKS}/{endpoint['id']}/deliveries",
            params={"limit": 0, "cursor": "nope"},
            headers=headers,
        ),
        422,
        "invalid_input",
    )
    assert [e["field"] for e in body["errors"]] == ["limit"]
    body = assert_problem(
        await client.get(
            f"{WEBHOOKS}/{endpoint['id']}/deliveries", params={"cursor": "nope"}, headers=headers
        ),
        422,
        "invalid_input",
    )
    assert [e["field"] for e in body["errors"]] == ["cursor"]
    await client.patch(f"{WEBHOOKS}/{endpoint['id']}", json={"active": False}, headers=headers)
    body = assert_problem(
        await client.post(f"{WEBHOOKS}/deliveries/{delivery_id}/redeliver", headers=headers),
        409,
        "endpoint_disabled",
    )
    assert body["endpoint_id"] == endpoint["id"]
    assert_problem(
        await client.post(f"{WEBHOOKS}/{endpoint['id']}/replay", json=window(), headers=headers),
        409,
        "endpoint_disabled",
    )


async def test_every_webhook_route_declares_its_problems_in_openapi(
    client: httpx.AsyncClient,
) -> None:
    document = (await client.get("/openapi.json")).json()
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    routes = {
        (path, method): operation
        for path, operations in document["paths"].items()
        if path.startswith(WEBHOOKS)
        for method, operation in operations.items()
    }

    assert set(routes) == {
        (WEBHOOKS, "post"),
        (WEBHOOKS, "get"),
        (f"{WEBHOOKS}/{{endpoint_id}}", "get"),
        (f"{WEBHOOKS}/{{endpoint_id}}", "patch"),
        (f"{WEBHOOKS}/{{endpoint_id}}", "delete"),
        (f"{WEBHOOKS}/{{endpoint_id}}/rotate-secret", "post"),
        (f"{WEBHOOKS}/{{endpoint_id}}/deliveries", "get"),
        (f"{WEBHOOKS}/{{endpoint_id}}/replay", "post"),
        (f"{WEBHOOKS}/deliveries/{{delivery_id}}", "get"),
        (f"{WEBHOOKS}/deliveries/{{delivery_id}}/redeliver", "post"),
    }
    for (path, method), operation in routes.items():
        for status in ("401", "403", "422", "500"):
            assert operation["responses"][status]["content"] == problem, (path, method, status)
        if "{" in path:
            assert operation["responses"]["404"]["content"] == problem, (path, method)
        assert operation["security"], (path, method)
        assert operation["tags"] == ["webhooks"]
    assert "HTTPValidationError" not in str(document)
    registering = routes[(WEBHOOKS, "post")]
    assert "shown" in registering["description"]
    new_endpoint = str(document["components"]["schemas"]["NewEndpointBody"])
    assert all(f"`{event_type.value}`" in new_endpoint for event_type in EventType)
