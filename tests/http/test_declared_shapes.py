"""What fuzzing from the OpenAPI document found: the API takes what its document declares,
in the JSON types it declares, and refuses what the document refuses.

JSON Schema's integer includes ``12.0``; a boolean is ``true`` or ``false``, never ``0``; a
change refuses ``null`` for any field; a time in a query is RFC 3339 text with an offset, never
a number of seconds.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly_core.accounts.model import normalise_email
from orderly_core.shared.context import Role
from orderly_core.unit_of_work import Dependencies
from orderly_http import limits
from orderly_http.settings import HttpSettings
from tests.http.accounts import auth_settings, forget_login_failures, signed_in
from tests.http.helpers import assert_problem, seed


@pytest.fixture
def http_settings(database_url: str, redis_url: str, clean_engine: AsyncEngine) -> HttpSettings:
    forget_login_failures(redis_url)
    return auth_settings(database_url, redis_url)


def _fields(response: httpx.Response) -> list[str]:
    body = assert_problem(response, 422, "invalid_input")
    return [error["field"] for error in body["errors"]]


async def test_an_integer_may_be_written_with_a_zero_fraction(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    await seed(pg_deps, "MUG-1", on_hand=5)
    _, admin = await signed_in(client, pg_deps, "root@example.com", Role.ADMIN)
    product = {"sku": "MUG-2", "name": "Mug", "unit_price": 999999999999999.0, "currency": "EUR"}

    created = await client.post("/api/v1/products", json=product, headers=admin)
    adjusted = await client.post(
        "/api/v1/products/MUG-1/stock-adjustments",
        json={"delta": 2.0, "reason": "count"},
        headers=admin,
    )
    fraction = await client.post(
        "/api/v1/products", json=product | {"sku": "MUG-3", "unit_price": 12.5}, headers=admin
    )
    text = await client.post(
        "/api/v1/products", json=product | {"sku": "MUG-3", "unit_price": "12"}, headers=admin
    )

    assert created.status_code == 201, created.text
    assert created.json()["unit_price"] == 999999999999999
    assert adjusted.status_code == 200, adjusted.text
    assert adjusted.json()["on_hand"] == 7
    assert _fields(fraction) == ["unit_price"]
    assert _fields(text) == ["unit_price"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"active": 0}, "active"),
        ({"active": "false"}, "active"),
        ({"active": None}, "active"),
        ({"role": None}, "role"),
        ({"role": "owner"}, "role"),
    ],
)
async def test_a_user_change_takes_its_declared_types_strictly(
    client: httpx.AsyncClient, pg_deps: Dependencies, changes: dict[str, Any], field: str
) -> None:
    _, admin = await signed_in(client, pg_deps, "root@example.com", Role.ADMIN)
    ann, _ = await signed_in(client, pg_deps, "ann@example.com")

    answer = await client.patch(f"/api/v1/users/{ann.id}", json=changes, headers=admin)

    assert {name.split(".")[0] for name in _fields(answer)} == {field}


async def test_a_user_change_by_its_json_value_still_works(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    _, admin = await signed_in(client, pg_deps, "root@example.com", Role.ADMIN)
    ann, _ = await signed_in(client, pg_deps, "ann@example.com")

    answer = await client.patch(
        f"/api/v1/users/{ann.id}", json={"role": "staff", "active": True}, headers=admin
    )

    assert answer.status_code == 200, answer.text
    assert answer.json()["role"] == "staff"


async def test_a_profile_change_refuses_null(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    _, ann = await signed_in(client, pg_deps, "ann@example.com")

    answer = await client.patch("/api/v1/users/me", json={"display_name": None}, headers=ann)

    assert {name.split(".")[0] for name in _fields(answer)} == {"display_name"}


@pytest.mark.parametrize("value", ["0.5", "1700000000", "2026-01-01T00:00:00", "2026-01-01"])
async def test_a_time_filter_is_rfc_3339_text_with_an_offset(
    client: httpx.AsyncClient, pg_deps: Dependencies, value: str
) -> None:
    _, admin = await signed_in(client, pg_deps, "root@example.com", Role.ADMIN)

    orders = await client.get("/api/v1/orders", params={"until": value}, headers=admin)
    audit = await client.get("/api/v1/audit", params={"since": value}, headers=admin)

    assert _fields(orders) == ["until"]
    assert _fields(audit) == ["since"]


async def test_a_replay_window_is_rfc_3339_text(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    _, admin = await signed_in(client, pg_deps, "root@example.com", Role.ADMIN)
    window = {"event_types": ["order.placed"], "since": 0, "until": "2026-01-01T00:00:00Z"}

    answer = await client.post(
        "/api/v1/webhooks/00000000-0000-0000-0000-000000000001/replay", json=window, headers=admin
    )

    assert _fields(answer) == ["since"]


async def test_the_document_says_which_user_names_and_job_names_are_taken(
    client: httpx.AsyncClient,
) -> None:
    document = (await client.get("/openapi.json")).json()
    parameters = document["paths"]["/api/v1/users/{user_id}"]["patch"]["parameters"]
    user_id = next(p["schema"] for p in parameters if p["name"] == "user_id")
    jobs = document["paths"]["/api/v1/jobs"]["get"]["parameters"]
    name = next(p["schema"] for p in jobs if p["name"] == "name")["anyOf"][0]

    assert re.search(user_id["pattern"], "\x06") is None
    assert re.search(user_id["pattern"], "0") is None
    assert re.search(user_id["pattern"], "6f1c2b9e-7d4a-4a53-9a57-0c3b5f0f3e21")
    assert re.search(user_id["pattern"], "ann@example.com")
    assert name["minLength"] == 1


async def test_the_document_writes_integer_bounds_as_integers_and_a_price_with_a_currency(
    client: httpx.AsyncClient,
) -> None:
    schemas = (await client.get("/openapi.json")).json()["components"]["schemas"]
    price = schemas["NewProductBody"]["properties"]["unit_price"]

    assert schemas["ProductChangesBody"]["dependentRequired"] == {"currency": ["unit_price"]}
    assert price["maximum"] == 10**15
    assert isinstance(price["maximum"], int)
    assert isinstance(price["minimum"], int)


def test_an_if_match_the_document_allows_is_one_the_api_reads() -> None:
    pattern = limits.IF_MATCH["pattern"]

    assert re.fullmatch(pattern, '"' + "9" * limits.ETAG_DIGITS_MAX + '"')
    assert not re.fullmatch(pattern, '"' + "9" * (limits.ETAG_DIGITS_MAX + 1) + '"')


@pytest.mark.parametrize(
    "email",
    ["a@" + "b" * 64 + ".com", "a@xn--zz.com", "a@example." + "c" * 64, "a" * 65 + "@x.com"],
)
def test_an_email_the_document_allows_is_one_the_core_takes(email: str) -> None:
    """The declared shape is conservative: what it lets through, the core takes."""
    assert re.fullmatch(limits.EMAIL["pattern"], email) is None
    assert re.fullmatch(limits.EMAIL["pattern"], "ann.lee+shop@my-shop.example.com")
    assert normalise_email("ann.lee+shop@my-shop.example.com") is not None
