"""The audit trail over HTTP, with real accounts and tokens: each write says who made it, to
what, under which request and key, with a before/after of what changed; dry runs leave no
entry; filters and pages; no secret ever appears; only admins may read it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly_core.shared.context import Role
from orderly_core.unit_of_work import Dependencies
from orderly_db.tables import users
from tests.http.accounts import (
    PASSWORD,
    bearer,
    sign_in,
    signed_in,
)
from tests.http.helpers import assert_problem

AUDIT = "/api/v1/audit"
PRODUCTS = "/api/v1/products"
ADJUST = f"{PRODUCTS}/MUG-1/stock-adjustments"
MUG = {"target_type": "product", "target_id": "MUG-1"}
ENTRY_FIELDS = {
    "id", "at", "actor", "operation", "target", "request_id", "idempotency_key", "mode",
    "changes",
}  # fmt: skip
NEW_MUG = {"sku": "mug-1", "name": "Blue mug", "unit_price": 1250, "currency": "EUR", "on_hand": 5}
NEW_PASSWORD = "a brand new passphrase"


async def _audit(
    client: httpx.AsyncClient, headers: dict[str, str], **params: Any
) -> dict[str, Any]:
    response = await client.get(AUDIT, params=params, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _time(entry: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(entry["at"])


async def _create_and_adjust_mug(client: httpx.AsyncClient, staff: dict[str, str]) -> None:
    """MUG-1 created with 5 on hand, then +3: each write with its request id and key."""
    created = await client.post(
        PRODUCTS,
        json=NEW_MUG,
        headers=staff | {"X-Request-ID": "req-create", "Idempotency-Key": "create-mug-1"},
    )
    assert created.status_code == 201, created.text
    adjusted = await client.post(
        ADJUST,
        json={"delta": 3, "reason": "delivery"},
        headers=staff | {"X-Request-ID": "req-adjust", "Idempotency-Key": "adjust-mug-1"},
    )
    assert adjusted.status_code == 200, adjusted.text


async def test_each_write_names_its_actor_target_request_key_mode_and_changes(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    stan, staff = await signed_in(client, pg_deps, "stan@example.com", Role.STAFF)
    _, admin = await signed_in(client, pg_deps, "ada@example.com", Role.ADMIN)
    await _create_and_adjust_mug(client, staff)

    page = await _audit(client, admin, **MUG)

    assert page["next_cursor"] is None
    adjust, create = page["items"]
    assert set(adjust) == set(create) == ENTRY_FIELDS
    actor = {"kind": "user", "id": str(stan.id), "role": "staff"}
    target = {"type": "product", "id": "MUG-1"}
    assert (create["operation"], create["actor"], create["target"]) == (
        "product.create", actor, target,
    )  # fmt: skip
    assert (create["request_id"], create["idempotency_key"], create["mode"]) == (
        "req-create", "create-mug-1", "execute",
    )  # fmt: skip
    assert (adjust["operation"], adjust["actor"], adjust["target"]) == (
        "product.adjust_stock", actor, target,
    )  # fmt: skip
    assert (adjust["request_id"], adjust["idempotency_key"], adjust["mode"]) == (
        "req-adjust", "adjust-mug-1", "execute",
    )  # fmt: skip
    assert adjust["changes"] == {
        "on_hand": {"before": 5, "after": 8},
        "available": {"before": 5, "after": 8},
        "version": {"before": 1, "after": 2},
    }
    created = create["changes"]
    assert created["sku"] == {"before": None, "after": "MUG-1"}
    assert created["on_hand"] == {"before": None, "after": 5}
    assert created["unit_price"] == {"before": None, "after": 1250}
    assert all(change["before"] is None for change in created.values())
    assert _time(adjust) > _time(create)


async def test_dry_runs_leave_no_entry(client: httpx.AsyncClient, pg_deps: Dependencies) -> None:
    _, staff = await signed_in(client, pg_deps, "stan@example.com", Role.STAFF)
    _, admin = await signed_in(client, pg_deps, "ada@example.com", Role.ADMIN)
    await _create_and_adjust_mug(client, staff)
    before = await _audit(client, admin, limit=200)

    dry_create = await client.post(
        f"{PRODUCTS}?mode=dry_run", json=NEW_MUG | {"sku": "CUP-1"}, headers=staff
    )
    dry_adjust = await client.post(
        f"{ADJUST}?mode=dry_run", json={"delta": 1, "reason": "maybe"}, headers=staff
    )
    dry_archive = await client.delete(f"{PRODUCTS}/MUG-1?mode=dry_run", headers=staff)

    for response in (dry_create, dry_adjust, dry_archive):
        assert response.status_code == 200, response.text
        assert response.headers["orderly-mode"] == "dry_run"
    assert await _audit(client, admin, limit=200) == before
    assert (await _audit(client, admin, target_type="product", target_id="CUP-1"))["items"] == []


async def test_filters_by_target_actor_operation_and_time_range(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    stan, staff = await signed_in(client, pg_deps, "stan@example.com", Role.STAFF)
    _, admin = await signed_in(client, pg_deps, "ada@example.com", Role.ADMIN)
    await _create_and_adjust_mug(client, staff)
    adjust, create = (await _audit(client, admin, **MUG))["items"]

    by_operation = await _audit(client, admin, operation="product.adjust_stock")
    by_actor = await _audit(client, admin, actor_id=str(stan.id))
    users_only = await _audit(client, admin, target_type="user")
    from_create = await _audit(client, admin, **MUG, since=create["at"])
    before_adjust = await _audit(client, admin, **MUG, until=adjust["at"])
    from_adjust = await _audit(client, admin, **MUG, since=adjust["at"])
    between = await _audit(client, admin, **MUG, since=create["at"], until=adjust["at"])

    assert by_operation["items"] == [adjust]
    assert {entry["actor"]["id"] for entry in by_actor["items"]} == {str(stan.id)}
    assert adjust in by_actor["items"]
    assert create in by_actor["items"]
    assert users_only["items"]
    assert {entry["target"]["type"] for entry in users_only["items"]} == {"user"}
    assert from_create["items"] == [adjust, create]  # since is inclusive
    assert before_adjust["items"] == [create]  # until is exclusive
    assert from_adjust["items"] == [adjust]
    assert between["items"] == [create]
    nothing = await _audit(client, admin, **MUG, operation="product.archive")
    assert nothing["items"] == []


async def test_pages_follow_next_cursor_newest_first(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    _, staff = await signed_in(client, pg_deps, "stan@example.com", Role.STAFF)
    _, admin = await signed_in(client, pg_deps, "ada@example.com", Role.ADMIN)
    await _create_and_adjust_mug(client, staff)
    whole = await _audit(client, admin, limit=200)

    seen: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 1}
    while True:
        page = await _audit(client, admin, **params)
        assert len(page["items"]) == 1
        seen += page["items"]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]

    assert len(whole["items"]) >= 4  # two accounts made by the operator, two product writes
    assert seen == whole["items"]
    times = [_time(entry) for entry in seen]
    assert times == sorted(times, reverse=True)


async def test_no_password_or_hash_appears_after_sign_up_and_a_password_change(
    client: httpx.AsyncClient, pg_deps: Dependencies, clean_engine: AsyncEngine
) -> None:
    _, admin = await signed_in(client, pg_deps, "ada@example.com", Role.ADMIN)
    signup = {"email": "ann@example.com", "password": PASSWORD, "display_name": "Ann"}
    created = await client.post("/api/v1/users", json=signup)
    assert created.status_code == 201, created.text
    ann_id = created.json()["id"]
    old_hash = await _password_hash(clean_engine, ann_id)
    ann = bearer((await sign_in(client, "ann@example.com"))["access_token"])
    change = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    changed = await client.post(
        "/api/v1/users/me/password", json=change, headers=ann | {"X-Request-ID": "req-pw"}
    )
    assert changed.status_code == 204, changed.text
    new_hash = await _password_hash(clean_engine, ann_id)

    response = await client.get(AUDIT, params={"limit": 200}, headers=admin)

    assert response.status_code == 200, response.text
    for secret in (old_hash, new_hash, PASSWORD, NEW_PASSWORD, "$argon2", "password_hash"):
        assert secret not in response.text
    ann_entries = [
        e for e in response.json()["items"] if e["target"] == {"type": "user", "id": ann_id}
    ]
    by_operation = {entry["operation"]: entry for entry in ann_entries}
    assert set(by_operation) == {"user.register", "user.change_password"}
    registered = by_operation["user.register"]
    assert registered["actor"]["kind"] == "anonymous"
    assert registered["idempotency_key"] is None
    assert registered["changes"]["email"] == {"before": None, "after": "ann@example.com"}
    assert not any("password" in field for field in registered["changes"])
    password = by_operation["user.change_password"]
    assert password["actor"] == {"kind": "user", "id": ann_id, "role": "customer"}
    assert password["request_id"] == "req-pw"
    assert set(password["changes"]) == {"password"}


async def _password_hash(engine: AsyncEngine, user_id: str) -> str:
    async with engine.connect() as connection:
        stored = await connection.scalar(
            select(users.c.password_hash).where(users.c.id == uuid.UUID(user_id))
        )
    assert isinstance(stored, str)
    assert stored
    return stored


async def test_only_admins_read_the_trail(client: httpx.AsyncClient, pg_deps: Dependencies) -> None:
    _, staff = await signed_in(client, pg_deps, "stan@example.com", Role.STAFF)
    _, customer = await signed_in(client, pg_deps, "cleo@example.com")

    as_staff = await client.get(AUDIT, headers=staff)
    as_customer = await client.get(AUDIT, headers=customer)
    anonymous = await client.get(AUDIT)

    assert_problem(as_staff, 403, "forbidden")
    assert_problem(as_customer, 403, "forbidden")
    assert_problem(anonymous, 401, "not_signed_in")
    assert anonymous.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"since": "2026-01-01T00:00:00"}, "since"),  # no offset: which time would it be?
        ({"until": "yesterday"}, "until"),
        ({"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "until"),
    ],
)
async def test_a_bad_page_or_time_range_is_a_422_naming_the_parameter(
    client: httpx.AsyncClient, pg_deps: Dependencies, params: dict[str, Any], field: str
) -> None:
    _, admin = await signed_in(client, pg_deps, "ada@example.com", Role.ADMIN)

    response = await client.get(AUDIT, params=params, headers=admin)

    body = assert_problem(response, 422, "invalid_input")
    assert [error["field"] for error in body["errors"]] == [field]


async def test_the_route_declares_its_problems_in_openapi(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()

    route = document["paths"][AUDIT]["get"]
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for status in ("401", "403", "422", "500"):
        assert route["responses"][status]["content"] == problem, status
    assert route["security"]
    assert {p["name"] for p in route["parameters"]} == {
        "target_type", "target_id", "actor_id", "operation", "since", "until", "limit", "cursor",
    }  # fmt: skip
    assert "HTTPValidationError" not in str(document)
