"""What the attack review sent, over HTTP: a NUL in any text, a time out of range and an
order above the money bound are each a 422 naming the field (never a 500); a NUL in the
sign-in form is the 401 of an unknown account."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly_core.shared.context import Role
from orderly_core.shared.money import MAX_MINOR_UNITS
from orderly_core.unit_of_work import Dependencies
from orderly_http.settings import HttpSettings
from tests.http.accounts import TOKEN_URL, auth_settings, forget_login_failures, signed_in
from tests.http.helpers import assert_problem, seed

NUL = "a\x00b"
EARLIEST_EAST = "0001-01-01T00:00:00+14:00"


@pytest.fixture
def http_settings(database_url: str, redis_url: str, clean_engine: AsyncEngine) -> HttpSettings:
    forget_login_failures(redis_url)
    return auth_settings(database_url, redis_url)


def _fields(response: httpx.Response) -> set[str]:
    body = assert_problem(response, 422, "invalid_input")
    return {error["field"] for error in body["errors"]}


async def test_a_nul_in_text_is_invalid_input_naming_the_field(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    await seed(pg_deps, "MUG-1", on_hand=5)
    _, admin = await signed_in(client, pg_deps, "root@example.com", Role.ADMIN)
    _, customer = await signed_in(client, pg_deps, "ann@example.com")
    new_user = {"email": "bob@example.com", "password": "a long passphrase", "display_name": NUL}
    new_mug = {"sku": "MUG-2", "name": NUL, "unit_price": 1, "currency": "EUR"}

    answers = {
        "q": await client.get("/api/v1/products", params={"q": NUL}),
        "display_name": await client.post("/api/v1/users", json=new_user),
        "display_name ": await client.patch(
            "/api/v1/users/me", json={"display_name": NUL}, headers=customer
        ),
        "name": await client.post("/api/v1/products", json=new_mug, headers=admin),
        "reason": await client.post(
            "/api/v1/products/MUG-1/stock-adjustments",
            json={"delta": 1, "reason": NUL},
            headers=admin,
        ),
        "email_prefix": await client.get(
            "/api/v1/users", params={"email_prefix": NUL}, headers=admin
        ),
        "target_type": await client.get(
            "/api/v1/audit", params={"target_type": NUL}, headers=admin
        ),
        "name  ": await client.get("/api/v1/jobs", params={"name": NUL}, headers=admin),
        "customer_id": await client.get(
            "/api/v1/orders", params={"customer_id": NUL}, headers=admin
        ),
    }

    for field, response in answers.items():
        assert field.strip() in _fields(response), (field, response.text)


async def test_a_nul_in_the_sign_in_form_is_an_unknown_account(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    await signed_in(client, pg_deps, "ann@example.com")

    for form in (
        {"username": "ann\x00@example.com", "password": "correct horse battery"},
        {"username": "ann@example.com", "password": "correct\x00horse"},
    ):
        response = await client.post(TOKEN_URL, data=form)
        assert_problem(response, 401, "invalid_credentials")


async def test_times_out_of_range_are_invalid_input(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    _, admin = await signed_in(client, pg_deps, "root@example.com", Role.ADMIN)
    _, customer = await signed_in(client, pg_deps, "ann@example.com")
    endpoint = await client.post(
        "/api/v1/webhooks",
        json={"url": "https://hooks.example.com/in", "event_types": ["order.placed"]},
        headers=admin,
    )
    assert endpoint.status_code == 201, endpoint.text
    replay = f"/api/v1/webhooks/{endpoint.json()['id']}/replay"
    window = {"event_types": ["order.placed"], "since": EARLIEST_EAST}
    window["until"] = "2031-01-01T00:00:00Z"

    assert _fields(await client.get("/api/v1/orders", params={"since": EARLIEST_EAST},
                                    headers=customer)) == {"since"}  # fmt: skip
    assert _fields(await client.get("/api/v1/audit", params={"until": EARLIEST_EAST},
                                    headers=admin)) == {"until"}  # fmt: skip
    assert _fields(await client.post(replay, json=window, headers=admin)) == {"since"}


@pytest.mark.parametrize("mode", ["execute", "dry_run"])
async def test_an_order_above_the_money_bound_is_invalid_input(
    client: httpx.AsyncClient, pg_deps: Dependencies, mode: str
) -> None:
    skus = [f"GOLD-{n}" for n in range(10)]
    for sku in skus:
        await seed(pg_deps, sku, unit_price=MAX_MINOR_UNITS, on_hand=1000)
    _, customer = await signed_in(client, pg_deps, "ann@example.com")
    order = {"lines": [{"sku": sku, "quantity": 1000} for sku in skus]}

    response = await client.post(
        "/api/v1/orders",
        json=order,
        params={"mode": mode},
        headers=customer | {"Idempotency-Key": f"gold-{mode}"},
    )

    assert "lines" in _fields(response)
