"""A product's stock ledger over HTTP, with real accounts and tokens: every write that moved
stock is listed newest first with its reason and request id, in keyset pages; dry runs and
refused writes leave no movement; only staff and admins may read it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import httpx
import pytest

from orderly_core.shared.context import Role
from orderly_core.unit_of_work import Dependencies
from tests.http.accounts import signed_in
from tests.http.helpers import assert_problem

PRODUCTS = "/api/v1/products"
MOVEMENTS = f"{PRODUCTS}/MUG-1/stock-movements"
MOVEMENT_FIELDS = {
    "id", "sku", "at", "kind", "on_hand_delta", "reserved_delta", "note", "reference",
    "actor_id", "request_id",
}  # fmt: skip
NEW_MUG = {"sku": "mug-1", "name": "Blue mug", "unit_price": 1250, "currency": "EUR", "on_hand": 5}


async def _write(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], headers: dict[str, str]
) -> httpx.Response:
    response = await client.post(path, json=body, headers=headers)
    assert response.status_code in (200, 201), response.text
    return response


async def _mug_with_two_adjustments(client: httpx.AsyncClient, staff: dict[str, str]) -> None:
    """MUG-1 created with 5 on hand, then +3 (delivery) and -2 (breakage): 6 on hand."""
    await _write(client, PRODUCTS, NEW_MUG, staff | {"X-Request-ID": "req-create"})
    adjust = f"{PRODUCTS}/MUG-1/stock-adjustments"
    await _write(
        client, adjust, {"delta": 3, "reason": "delivery"}, staff | {"X-Request-ID": "req-adj-1"}
    )
    await _write(
        client, adjust, {"delta": -2, "reason": "breakage"}, staff | {"X-Request-ID": "req-adj-2"}
    )


async def _movements(
    client: httpx.AsyncClient, headers: dict[str, str], **params: Any
) -> dict[str, Any]:
    response = await client.get(MOVEMENTS, params=params, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_the_ledger_lists_the_opening_stock_and_each_adjustment_newest_first(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    user, staff = await signed_in(client, pg_deps, "stan@example.com", Role.STAFF)
    await _mug_with_two_adjustments(client, staff)

    page = await _movements(client, staff)

    assert page["next_cursor"] is None
    items = page["items"]
    assert all(set(item) == MOVEMENT_FIELDS for item in items)
    summary = [
        (m["kind"], m["on_hand_delta"], m["reserved_delta"], m["note"], m["request_id"])
        for m in items
    ]
    assert summary == [
        ("adjustment", -2, 0, "breakage", "req-adj-2"),
        ("adjustment", 3, 0, "delivery", "req-adj-1"),
        ("opening", 5, 0, "opening stock", "req-create"),
    ]
    assert {(m["sku"], m["actor_id"], m["reference"]) for m in items} == {
        ("MUG-1", str(user.id), None)
    }
    assert len({uuid.UUID(m["id"]) for m in items}) == 3
    times = [datetime.fromisoformat(m["at"]) for m in items]
    assert times == sorted(times, reverse=True)
    assert all(t.utcoffset() is not None for t in times)
    product = (await client.get(f"{PRODUCTS}/MUG-1")).json()
    assert sum(m["on_hand_delta"] for m in items) == product["on_hand"] == 6
    assert sum(m["reserved_delta"] for m in items) == product["reserved"] == 0


async def test_pages_follow_next_cursor_without_missing_or_repeating_a_movement(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    _, staff = await signed_in(client, pg_deps, "stan@example.com", Role.STAFF)
    await _mug_with_two_adjustments(client, staff)
    whole = await _movements(client, staff)

    first = await _movements(client, staff, limit=2)
    second = await _movements(client, staff, limit=2, cursor=first["next_cursor"])

    assert len(first["items"]) == 2
    assert first["next_cursor"]
    assert len(second["items"]) == 1
    assert second["next_cursor"] is None
    assert first["items"] + second["items"] == whole["items"]


async def test_dry_runs_and_refused_adjustments_leave_no_movement(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    _, staff = await signed_in(client, pg_deps, "stan@example.com", Role.STAFF)
    await _write(client, f"{PRODUCTS}?mode=dry_run", NEW_MUG | {"sku": "CUP-1"}, staff)
    await _mug_with_two_adjustments(client, staff)
    adjust = f"{PRODUCTS}/MUG-1/stock-adjustments"
    before = await _movements(client, staff)

    dry = await client.post(
        f"{adjust}?mode=dry_run", json={"delta": 10, "reason": "maybe"}, headers=staff
    )
    refused = await client.post(adjust, json={"delta": -7, "reason": "too many"}, headers=staff)

    assert dry.status_code == 200, dry.text
    assert dry.json()["on_hand"] == 16
    assert_problem(refused, 409, "stock_below_reserved")
    assert await _movements(client, staff) == before
    never_created = await client.get(f"{PRODUCTS}/CUP-1/stock-movements", headers=staff)
    assert_problem(never_created, 404, "product_not_found")


async def test_admins_read_the_ledger_too_and_skus_ignore_case(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    _, staff = await signed_in(client, pg_deps, "stan@example.com", Role.STAFF)
    _, admin = await signed_in(client, pg_deps, "ada@example.com", Role.ADMIN)
    await _mug_with_two_adjustments(client, staff)

    response = await client.get(f"{PRODUCTS}/mug-1/stock-movements", headers=admin)

    assert response.status_code == 200, response.text
    assert [m["note"] for m in response.json()["items"]] == [
        "breakage", "delivery", "opening stock",
    ]  # fmt: skip


async def test_customers_are_refused_and_anonymous_callers_must_sign_in(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    _, staff = await signed_in(client, pg_deps, "stan@example.com", Role.STAFF)
    _, customer = await signed_in(client, pg_deps, "cleo@example.com")
    await _write(client, PRODUCTS, NEW_MUG, staff)

    as_customer = await client.get(MOVEMENTS, headers=customer)
    anonymous = await client.get(MOVEMENTS)
    bad_token = await client.get(MOVEMENTS, headers={"Authorization": "Bearer not-a-token"})

    assert_problem(as_customer, 403, "forbidden")
    assert_problem(anonymous, 401, "not_signed_in")
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert_problem(bad_token, 401, "invalid_token")


async def test_an_unknown_sku_is_a_404_even_before_anything_was_created(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    _, staff = await signed_in(client, pg_deps, "stan@example.com", Role.STAFF)

    response = await client.get(f"{PRODUCTS}/NOPE-1/stock-movements", headers=staff)

    body = assert_problem(response, 404, "product_not_found")
    assert body["sku"] == "NOPE-1"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
    ],
)
async def test_an_out_of_range_limit_or_a_foreign_cursor_is_a_422_naming_it(
    client: httpx.AsyncClient, pg_deps: Dependencies, params: dict[str, Any], field: str
) -> None:
    _, staff = await signed_in(client, pg_deps, "stan@example.com", Role.STAFF)
    await _write(client, PRODUCTS, NEW_MUG, staff)

    response = await client.get(MOVEMENTS, params=params, headers=staff)

    body = assert_problem(response, 422, "invalid_input")
    assert [error["field"] for error in body["errors"]] == [field]


async def test_the_route_declares_its_problems_in_openapi(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()

    route = document["paths"]["/api/v1/products/{sku}/stock-movements"]["get"]
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for status in ("401", "403", "404", "422", "500"):
        assert route["responses"][status]["content"] == problem, status
    assert route["security"]
    ok = route["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/StockMovementPageResource"}
    assert "HTTPValidationError" not in str(document)
