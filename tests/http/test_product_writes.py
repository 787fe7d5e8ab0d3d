"""Catalogue writes over HTTP against the real database: who may write, ETags and If-Match,
dry runs, and bodies that try to set what the client does not own."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly_core.shared.context import Actor
from orderly_core.unit_of_work import Dependencies
from tests.http.actors import ADMIN, ANONYMOUS, CUSTOMER, STAFF, act_as
from tests.http.helpers import assert_problem, seed

PRODUCTS = "/api/v1/products"
NEW_MUG: dict[str, Any] = {
    "sku": "mug-1",
    "name": "Blue mug",
    "description": "Stoneware",
    "unit_price": 1250,
    "currency": "eur",
    "on_hand": 7,
}


@pytest.fixture
def staff(app: FastAPI) -> None:
    act_as(app, STAFF)


def _fields(body: dict[str, Any]) -> set[str]:
    return {error["field"] for error in body["errors"]}


@pytest.mark.usefixtures("staff")
async def test_create_answers_201_with_location_and_etag_and_stores_the_product(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(PRODUCTS, json=NEW_MUG)

    assert response.status_code == 201, response.text
    assert response.headers["location"] == "/api/v1/products/MUG-1"
    assert response.headers["etag"] == '"1"'
    assert "orderly-mode" not in response.headers
    body = response.json()
    assert (body["sku"], body["currency"], body["unit_price"]) == ("MUG-1", "EUR", 1250)
    assert (body["on_hand"], body["reserved"], body["active"]) == (7, 0, True)
    stored = await client.get(response.headers["location"])
    assert stored.json() == body


@pytest.mark.usefixtures("staff")
async def test_left_out_optional_fields_take_the_cores_defaults(
    client: httpx.AsyncClient,
) -> None:
    minimal = {"sku": "CUP-2", "name": "Cup", "unit_price": 0, "currency": "JPY"}

    body = (await client.post(PRODUCTS, json=minimal)).json()

    assert (body["description"], body["on_hand"], body["active"]) == ("", 0, True)


@pytest.mark.usefixtures("staff")
async def test_a_second_product_with_the_same_sku_in_any_case_is_a_409(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    await seed(pg_deps, "MUG-1")

    response = await client.post(PRODUCTS, json=NEW_MUG)

    body = assert_problem(response, 409, "duplicate_sku")
    assert body["sku"] == "MUG-1"


@pytest.mark.usefixtures("staff")
async def test_an_invalid_product_is_a_422_listing_every_broken_field(
    client: httpx.AsyncClient,
) -> None:
    bad = {"sku": "no spaces!", "name": "", "unit_price": -1, "currency": "EURO", "on_hand": -3}

    response = await client.post(PRODUCTS, json=bad)

    body = assert_problem(response, 422, "invalid_input")
    assert _fields(body) == {"sku", "name", "unit_price", "currency", "on_hand"}
    assert (await client.get(PRODUCTS)).json()["items"] == []


@pytest.mark.usefixtures("staff")
@pytest.mark.parametrize(
    ("field", "value"),
    [("unit_price", 12.5), ("unit_price", "1250"), ("on_hand", True), ("name", 7)],
)
async def test_fields_of_the_wrong_json_type_are_not_coerced(
    client: httpx.AsyncClient, field: str, value: object
) -> None:
    response = await client.post(PRODUCTS, json={**NEW_MUG, field: value})

    body = assert_problem(response, 422, "invalid_input")
    assert _fields(body) == {field}


@pytest.mark.usefixtures("staff")
@pytest.mark.parametrize("field", ["version", "reserved", "created_at", "available"])
async def test_a_field_the_client_does_not_own_is_rejected_by_name(
    client: httpx.AsyncClient, field: str
) -> None:
    response = await client.post(PRODUCTS, json={**NEW_MUG, field: 99})

    body = assert_problem(response, 422, "invalid_input")
    assert _fields(body) == {field}
    assert (await client.get(PRODUCTS)).json()["items"] == []


@pytest.mark.parametrize("actor", [CUSTOMER, ANONYMOUS], ids=["customer", "anonymous"])
async def test_only_catalogue_managers_may_write(
    app: FastAPI, client: httpx.AsyncClient, pg_deps: Dependencies, actor: Actor
) -> None:
    await seed(pg_deps, "CUP-1", on_hand=5)
    act_as(app, actor)

    answers = [
        await client.post(PRODUCTS, json=NEW_MUG),
        await client.patch(f"{PRODUCTS}/CUP-1", json={"name": "x"}, headers={"If-Match": '"1"'}),
        await client.delete(f"{PRODUCTS}/CUP-1"),
        await client.post(f"{PRODUCTS}/CUP-1/stock-adjustments", json={"delta": 1, "reason": "r"}),
    ]

    # Anonymous callers may sign in (401 with a challenge); a customer may not write (403).
    for response in answers:
        if actor is ANONYMOUS:
            assert_problem(response, 401, "not_signed_in")
            assert response.headers["www-authenticate"] == "Bearer"
        else:
            assert_problem(response, 403, "forbidden")
    product = (await client.get(f"{PRODUCTS}/CUP-1")).json()
    assert (product["version"], product["active"], product["on_hand"]) == (1, True, 5)
    assert (await client.get(f"{PRODUCTS}/MUG-1")).status_code == 404


async def test_admins_may_write_too(app: FastAPI, client: httpx.AsyncClient) -> None:
    act_as(app, ADMIN)

    assert (await client.post(PRODUCTS, json=NEW_MUG)).status_code == 201


@pytest.mark.usefixtures("staff")
async def test_patch_with_the_current_etag_changes_the_product_and_answers_the_new_etag(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    await seed(pg_deps, "MUG-1", unit_price=1000)
    etag = (await client.get(f"{PRODUCTS}/mug-1")).headers["etag"]

    response = await client.patch(
        f"{PRODUCTS}/mug-1",
        json={"unit_price": 1500, "name": "Big mug"},
        headers={"If-Match": etag},
    )

    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"2"'
    body = response.json()
    assert (body["unit_price"], body["name"], body["version"]) == (1500, "Big mug", 2)
    assert (await client.get(f"{PRODUCTS}/MUG-1")).json() == body


@pytest.mark.usefixtures("staff")
async def test_patch_with_a_stale_etag_is_a_412_and_changes_nothing(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    await seed(pg_deps, "MUG-1")
    stale = (await client.get(f"{PRODUCTS}/MUG-1")).headers["etag"]
    first = await client.patch(f"{PRODUCTS}/MUG-1", json={"name": "A"}, headers={"If-Match": stale})
    assert first.status_code == 200

    response = await client.patch(
        f"{PRODUCTS}/MUG-1", json={"name": "B"}, headers={"If-Match": stale}
    )

    body = assert_problem(response, 412, "version_conflict")
    assert (body["expected"], body["current"]) == (1, 2)
    assert (body["sku"], body["target_type"], body["target_id"]) == ("MUG-1", "product", "MUG-1")
    assert (await client.get(f"{PRODUCTS}/MUG-1")).json()["name"] == "A"


@pytest.mark.usefixtures("staff")
async def test_patch_without_if_match_is_a_428_and_changes_nothing(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    await seed(pg_deps, "MUG-1", name="Blue mug")

    response = await client.patch(f"{PRODUCTS}/MUG-1", json={"name": "Lost update"})

    body = assert_problem(response, 428, "precondition_required")
    assert body["header"] == "If-Match"
    assert (await client.get(f"{PRODUCTS}/MUG-1")).json()["name"] == "Blue mug"


@pytest.mark.usefixtures("staff")
@pytest.mark.parametrize("if_match", ['W/"1"', "1", '"1", "2"', '"x"'])
async def test_an_if_match_that_is_not_one_strong_etag_is_refused(
    client: httpx.AsyncClient, pg_deps: Dependencies, if_match: str
) -> None:
    await seed(pg_deps, "MUG-1")

    response = await client.patch(
        f"{PRODUCTS}/MUG-1", json={"name": "B"}, headers={"If-Match": if_match}
    )

    body = assert_problem(response, 422, "invalid_input")
    assert _fields(body) == {"If-Match"}


@pytest.mark.usefixtures("staff")
async def test_patch_body_rejects_null_and_fields_it_does_not_own(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    await seed(pg_deps, "MUG-1")

    response = await client.patch(
        f"{PRODUCTS}/MUG-1",
        json={"name": None, "version": 9, "sku": "OTHER"},
        headers={"If-Match": "*"},
    )

    body = assert_problem(response, 422, "invalid_input")
    assert _fields(body) == {"name", "version", "sku"}


@pytest.mark.usefixtures("staff")
async def test_a_dry_run_create_answers_200_what_would_be_created_and_stores_nothing(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(PRODUCTS, params={"mode": "dry_run"}, json=NEW_MUG)

    assert response.status_code == 200, response.text
    assert response.headers["orderly-mode"] == "dry_run"
    assert "location" not in response.headers
    assert "etag" not in response.headers
    assert response.json()["sku"] == "MUG-1"
    assert (await client.get(f"{PRODUCTS}/MUG-1")).status_code == 404


@pytest.mark.usefixtures("staff")
async def test_a_dry_run_failure_is_marked_too(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    await seed(pg_deps, "MUG-1")

    response = await client.post(PRODUCTS, params={"mode": "dry_run"}, json=NEW_MUG)

    assert_problem(response, 409, "duplicate_sku")
    assert response.headers["orderly-mode"] == "dry_run"


@pytest.mark.usefixtures("staff")
async def test_an_unknown_mode_is_invalid_input(client: httpx.AsyncClient) -> None:
    response = await client.post(PRODUCTS, params={"mode": "maybe"}, json=NEW_MUG)

    body = assert_problem(response, 422, "invalid_input")
    assert _fields(body) == {"mode"}


async def _reserve(engine: AsyncEngine, sku: str, units: int) -> None:
    """Reserve stock as open orders will (orders do not exist yet)."""
    async with engine.begin() as connection:
        await connection.execute(
            text("UPDATE products SET reserved = :units WHERE sku = :sku"),
            {"units": units, "sku": sku},
        )


@pytest.mark.usefixtures("staff")
async def test_stock_may_not_drop_below_what_is_reserved(
    client: httpx.AsyncClient, pg_deps: Dependencies, clean_engine: AsyncEngine
) -> None:
    await seed(pg_deps, "MUG-1", on_hand=10)
    await _reserve(clean_engine, "MUG-1", 4)
    url = f"{PRODUCTS}/MUG-1/stock-adjustments"

    refused = await client.post(url, json={"delta": -7, "reason": "breakage"})
    allowed = await client.post(url, json={"delta": -6, "reason": "breakage"})

    body = assert_problem(refused, 409, "stock_below_reserved")
    assert (body["on_hand"], body["reserved"], body["requested_on_hand"]) == (10, 4, 3)
    assert allowed.status_code == 200, allowed.text
    assert allowed.headers["etag"] == '"2"'
    assert (allowed.json()["on_hand"], allowed.json()["available"]) == (4, 0)


@pytest.mark.usefixtures("staff")
async def test_a_stock_adjustment_needs_a_non_zero_delta_and_a_reason(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    await seed(pg_deps, "MUG-1")

    response = await client.post(
        f"{PRODUCTS}/MUG-1/stock-adjustments", json={"delta": 0, "reason": ""}
    )

    body = assert_problem(response, 422, "invalid_input")
    assert _fields(body) == {"delta", "reason"}


@pytest.mark.usefixtures("staff")
async def test_a_stock_adjustment_against_a_stale_etag_is_a_412(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    await seed(pg_deps, "MUG-1", on_hand=1)
    await client.post(f"{PRODUCTS}/MUG-1/stock-adjustments", json={"delta": 1, "reason": "r"})

    response = await client.post(
        f"{PRODUCTS}/MUG-1/stock-adjustments",
        json={"delta": 1, "reason": "r"},
        headers={"If-Match": '"1"'},
    )

    assert_problem(response, 412, "version_conflict")
    assert (await client.get(f"{PRODUCTS}/MUG-1")).json()["on_hand"] == 2


@pytest.mark.usefixtures("staff")
async def test_delete_archives_the_product_and_keeps_it_readable(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    await seed(pg_deps, "MUG-1", on_hand=3)

    response = await client.delete(f"{PRODUCTS}/MUG-1", headers={"If-Match": '"1"'})

    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"2"'
    assert (response.json()["active"], response.json()["on_hand"]) == (False, 3)
    assert (await client.get(f"{PRODUCTS}/MUG-1")).json()["active"] is False
    active = (await client.get(PRODUCTS, params={"active": "true"})).json()["items"]
    assert active == []
    stale = await client.delete(f"{PRODUCTS}/MUG-1", headers={"If-Match": '"1"'})
    assert_problem(stale, 412, "version_conflict")


@pytest.mark.usefixtures("staff")
async def test_writes_to_an_unknown_product_are_404(client: httpx.AsyncClient) -> None:
    answers = [
        await client.patch(f"{PRODUCTS}/NOPE", json={"name": "x"}, headers={"If-Match": "*"}),
        await client.delete(f"{PRODUCTS}/NOPE"),
        await client.post(f"{PRODUCTS}/NOPE/stock-adjustments", json={"delta": 1, "reason": "r"}),
    ]

    for response in answers:
        assert_problem(response, 404, "product_not_found")


async def test_every_write_route_declares_its_problems(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    expected = {
        ("/api/v1/products", "post"): {"403", "409", "413", "422", "500"},
        ("/api/v1/products/{sku}", "patch"): {"403", "404", "412", "413", "422", "428", "500"},
        ("/api/v1/products/{sku}", "delete"): {"403", "404", "412", "422", "500"},
        ("/api/v1/products/{sku}/stock-adjustments", "post"): {
            "403", "404", "409", "412", "413", "422", "500",
        },
    }  # fmt: skip

    for (path, method), statuses in expected.items():
        responses = paths[path][method]["responses"]
        for status in statuses:
            assert "application/problem+json" in responses[status]["content"], (path, status)
    create = paths["/api/v1/products"]["post"]
    assert {p["name"] for p in create["parameters"]} == {"mode"}
    schema = (await client.get("/openapi.json")).json()["components"]["schemas"]["NewProductBody"]
    assert schema["additionalProperties"] is False
    assert "version" not in schema["properties"]


@pytest.mark.usefixtures("staff")
async def test_a_retried_stock_adjustment_with_its_key_applies_once(
    client: httpx.AsyncClient,
) -> None:
    await client.post(PRODUCTS, json=NEW_MUG)
    adjust = f"{PRODUCTS}/MUG-1/stock-adjustments"
    key = {"Idempotency-Key": "delivery-2031-05-02"}

    first = await client.post(adjust, json={"delta": 5, "reason": "delivery"}, headers=key)
    retry = await client.post(adjust, json={"delta": 5, "reason": "delivery"}, headers=key)
    other = await client.post(adjust, json={"delta": 6, "reason": "delivery"}, headers=key)

    assert (first.status_code, retry.status_code) == (200, 200)
    assert retry.content == first.content
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.headers["etag"] == first.headers["etag"]
    assert_problem(other, 422, "idempotency_key_reused")
    assert (await client.get(f"{PRODUCTS}/MUG-1")).json()["on_hand"] == 12
