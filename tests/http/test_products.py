"""The product routes over the real database: resource shape, pages, filters, ETags, errors."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest
from returns.pipeline import is_successful

from orderly_core.catalogue.model import Product, Stock
from orderly_core.catalogue.use_cases import (
    ArchiveRequest,
    ProductChanges,
    archive_product,
    update_product,
)
from orderly_core.shared.money import Money
from orderly_core.unit_of_work import Dependencies
from orderly_http.schemas import ProductResource
from tests.http.helpers import OPERATOR, assert_problem, seed

RESOURCE_FIELDS = {
    "sku", "name", "description", "unit_price", "currency", "active", "on_hand", "reserved",
    "available", "low_stock_threshold", "max_per_order", "version", "created_at", "updated_at",
}  # fmt: skip
RFC3339_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|\+00:00)")


async def test_a_product_is_served_with_exactly_the_documented_fields_and_types(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    created = await seed(
        pg_deps, "mug-1", name="Blue mug", unit_price=1250, description="Stoneware", on_hand=20
    )

    response = await client.get("/api/v1/products/MUG-1")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == RESOURCE_FIELDS
    timestamps = {key: body.pop(key) for key in ("created_at", "updated_at")}
    assert body == {
        "sku": "MUG-1",
        "name": "Blue mug",
        "description": "Stoneware",
        "unit_price": 1250,
        "currency": "EUR",
        "active": True,
        "on_hand": 20,
        "reserved": 0,
        "available": 20,
        "low_stock_threshold": 0,
        "max_per_order": None,
        "version": 1,
    }
    for key in ("unit_price", "on_hand", "reserved", "available", "version"):
        assert type(body[key]) is int, key
    for text in timestamps.values():
        assert RFC3339_UTC.fullmatch(text), text
        assert datetime.fromisoformat(text) == created.created_at


def test_the_resource_subtracts_reserved_stock_and_speaks_utc() -> None:
    paris = timezone(timedelta(hours=2))
    product = Product(
        sku="MUG-1",
        name="Blue mug",
        description="",
        price=Money(1250, "EUR"),
        active=True,
        stock=Stock(on_hand=10, reserved=3),
        version=4,
        created_at=datetime(2026, 11, 22, 12, 0, tzinfo=paris),
        updated_at=datetime(2026, 11, 22, 12, 30, tzinfo=paris),
    )

    body = ProductResource.from_domain(product).model_dump(mode="json")

    assert (body["on_hand"], body["reserved"], body["available"]) == (10, 3, 7)
    assert body["created_at"] == "2026-11-22T10:00:00Z"
    assert body["updated_at"] == "2026-11-22T10:30:00Z"


async def test_skus_are_case_insensitive_in_the_path(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    await seed(pg_deps, "MUG-1")

    response = await client.get("/api/v1/products/mug-1")

    assert response.status_code == 200
    assert response.json()["sku"] == "MUG-1"


async def test_pages_follow_next_cursor_through_the_whole_catalogue_in_sku_order(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    skus = [f"SKU-{n:02d}" for n in (7, 3, 1, 5, 2, 6, 4)]
    for sku in skus:
        await seed(pg_deps, sku)

    pages: list[list[str]] = []
    params: dict[str, str | int] = {"limit": 3}
    while True:
        response = await client.get("/api/v1/products", params=params)
        assert response.status_code == 200
        page = response.json()
        assert set(page) == {"items", "next_cursor"}
        pages.append([item["sku"] for item in page["items"]])
        if page["next_cursor"] is None:
            break
        params = {"limit": 3, "cursor": page["next_cursor"]}
        assert len(pages) < 10, "the cursor never ends"

    assert [len(page) for page in pages] == [3, 3, 1]
    assert [sku for page in pages for sku in page] == sorted(skus)


async def test_a_page_that_fits_has_no_next_cursor(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    for sku in ("A-1", "A-2", "A-3"):
        await seed(pg_deps, sku)

    exact = (await client.get("/api/v1/products", params={"limit": 3})).json()
    default = (await client.get("/api/v1/products")).json()

    assert [item["sku"] for item in exact["items"]] == ["A-1", "A-2", "A-3"]
    assert exact["next_cursor"] is None
    assert len(default["items"]) == 3
    assert default["next_cursor"] is None


async def test_the_empty_catalogue_is_an_empty_page(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/products")

    assert response.status_code == 200
    assert response.json() == {"items": [], "next_cursor": None}


async def test_filters_by_active_flag_and_text_in_name_or_sku(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    await seed(pg_deps, "MUG-1", name="Blue mug")
    await seed(pg_deps, "MUG-2", name="Red mug")
    await seed(pg_deps, "TEA-1", name="Green tea")
    await seed(pg_deps, "CUP-9", name="Espresso cup")
    archived = await archive_product(pg_deps, OPERATOR, ArchiveRequest("MUG-2"))
    assert is_successful(archived)

    async def skus(**params: str) -> list[str]:
        response = await client.get("/api/v1/products", params=params)
        assert response.status_code == 200, response.text
        return [item["sku"] for item in response.json()["items"]]

    assert await skus(active="false") == ["MUG-2"]
    assert await skus(active="true") == ["CUP-9", "MUG-1", "TEA-1"]
    assert await skus(q="MUG") == ["MUG-1", "MUG-2"]  # the name, ignoring case
    assert await skus(q="tea-") == ["TEA-1"]  # the SKU
    assert await skus(q="mug", active="true") == ["MUG-1"]
    assert await skus(q="nothing like it") == []


@pytest.mark.parametrize("limit", ["201", "0", "-1", "lots"])
async def test_a_limit_outside_1_to_200_is_an_invalid_input_problem_naming_limit(
    client: httpx.AsyncClient, limit: str
) -> None:
    response = await client.get("/api/v1/products", params={"limit": limit})

    body = assert_problem(response, 422, "invalid_input")
    assert body["type"] == "/problems/invalid_input"
    assert [error["field"] for error in body["errors"]] == ["limit"]
    assert all(set(error) == {"field", "message"} for error in body["errors"])


async def test_the_largest_page_is_allowed(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/products", params={"limit": 200})

    assert response.status_code == 200


@pytest.mark.parametrize("cursor", ["!!!", "bm90IGEgc2t1IQ", ""])
async def test_a_cursor_the_api_never_returned_is_an_invalid_input_problem(
    client: httpx.AsyncClient, cursor: str
) -> None:
    response = await client.get("/api/v1/products", params={"cursor": cursor})

    body = assert_problem(response, 422, "invalid_input")
    assert body["errors"] == [{"field": "cursor", "message": "is not a cursor this API returned"}]


async def test_every_invalid_parameter_is_listed_under_the_name_the_client_used(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/api/v1/products", params={"q": "x" * 101, "cursor": "!!!"})

    body = assert_problem(response, 422, "invalid_input")
    assert sorted(error["field"] for error in body["errors"]) == ["cursor", "q"]
    assert "q:" in body["detail"]
    assert "search" not in body["detail"]


async def test_an_unknown_sku_is_a_product_not_found_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/products/nope-1")

    body = assert_problem(response, 404, "product_not_found")
    assert body["type"] == "/problems/product_not_found"
    assert body["sku"] == "NOPE-1"
    assert "NOPE-1" in body["detail"]


@pytest.mark.parametrize("sku", ["bad sku!", "a" * 65, "caf%C3%A9"])
async def test_a_malformed_sku_is_an_invalid_input_problem(
    client: httpx.AsyncClient, sku: str
) -> None:
    response = await client.get(f"/api/v1/products/{sku}")

    body = assert_problem(response, 422, "invalid_input")
    assert [error["field"] for error in body["errors"]] == ["sku"]


async def test_etag_carries_the_version_and_if_none_match_answers_304_until_it_changes(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    await seed(pg_deps, "MUG-1")
    url = "/api/v1/products/MUG-1"

    first = await client.get(url)
    assert first.headers["etag"] == '"1"'

    for header in ('"1"', 'W/"1"', '"9", "1"', "*"):
        cached = await client.get(url, headers={"If-None-Match": header})
        assert cached.status_code == 304, header
        assert cached.content == b""
        assert cached.headers["etag"] == '"1"'
        assert cached.headers["x-request-id"]

    changed = await update_product(pg_deps, OPERATOR, ProductChanges("MUG-1", name="Renamed"))
    assert is_successful(changed)
    fresh = await client.get(url, headers={"If-None-Match": '"1"'})

    assert fresh.status_code == 200
    assert fresh.headers["etag"] == '"2"'
    assert fresh.json()["name"] == "Renamed"
    assert fresh.json()["version"] == 2


async def test_an_unknown_sku_ignores_if_none_match(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/products/NOPE-1", headers={"If-None-Match": "*"})

    assert_problem(response, 404, "product_not_found")


async def test_timestamps_change_with_the_product(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    created = await seed(pg_deps, "MUG-1")
    changed = await update_product(pg_deps, OPERATOR, ProductChanges("MUG-1", unit_price=999))
    assert is_successful(changed)

    body = (await client.get("/api/v1/products/MUG-1")).json()

    assert body["unit_price"] == 999
    assert datetime.fromisoformat(body["created_at"]) == created.created_at
    assert datetime.fromisoformat(body["updated_at"]) > created.created_at
    assert datetime.fromisoformat(body["updated_at"]).tzinfo == UTC
