"""Who may call each write route, with real accounts and real bearer tokens.

Anonymous callers get 401 with a ``WWW-Authenticate: Bearer`` challenge (they may sign in);
signed-in users without the right get 403. Catalogue writes are for staff and admins, user
administration for admins only.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import httpx
import pytest

from orderly_core.shared.context import Actor, Context, Role
from orderly_core.shared.errors import Forbidden
from orderly_core.unit_of_work import Dependencies
from orderly_http.problems import domain_problem
from tests.http.accounts import make_user, signed_in
from tests.http.helpers import assert_problem, seed

PRODUCTS = "/api/v1/products"
Call = Callable[[httpx.AsyncClient, dict[str, str], str], Awaitable[httpx.Response]]


async def _create(client: httpx.AsyncClient, headers: dict[str, str], _: str) -> httpx.Response:
    body = {"sku": "NEW-1", "name": "New", "unit_price": 100, "currency": "EUR"}
    return await client.post(PRODUCTS, json=body, headers=headers)


async def _patch(client: httpx.AsyncClient, headers: dict[str, str], _: str) -> httpx.Response:
    return await client.patch(
        f"{PRODUCTS}/CUP-1", json={"name": "Renamed"}, headers={**headers, "If-Match": '"1"'}
    )


async def _archive(client: httpx.AsyncClient, headers: dict[str, str], _: str) -> httpx.Response:
    return await client.delete(f"{PRODUCTS}/CUP-1", headers=headers)


async def _adjust(client: httpx.AsyncClient, headers: dict[str, str], _: str) -> httpx.Response:
    body = {"delta": 3, "reason": "count"}
    return await client.post(f"{PRODUCTS}/CUP-1/stock-adjustments", json=body, headers=headers)


async def _list_users(client: httpx.AsyncClient, headers: dict[str, str], _: str) -> httpx.Response:
    return await client.get("/api/v1/users", headers=headers)


async def _change_user(
    client: httpx.AsyncClient, headers: dict[str, str], target: str
) -> httpx.Response:
    return await client.patch(f"/api/v1/users/{target}", json={"role": "staff"}, headers=headers)


CATALOGUE_WRITES: dict[str, Call] = {
    "create": _create,
    "patch": _patch,
    "archive": _archive,
    "adjust": _adjust,
}
USER_ADMIN: dict[str, Call] = {"list users": _list_users, "change a user": _change_user}


async def _callers(
    client: httpx.AsyncClient, deps: Dependencies
) -> tuple[dict[str, dict[str, str]], str]:
    await seed(deps, "CUP-1", on_hand=5)
    target = await make_user(deps, "target@example.com")
    headers: dict[str, dict[str, str]] = {"anonymous": {}}
    for role in Role:
        _, headers[role.value] = await signed_in(client, deps, f"{role.value}@example.com", role)
    return headers, str(target.id)


@pytest.mark.parametrize("route", [*CATALOGUE_WRITES, *USER_ADMIN])
async def test_anonymous_callers_are_asked_to_sign_in_and_customers_are_refused(
    client: httpx.AsyncClient, pg_deps: Dependencies, route: str
) -> None:
    call = (CATALOGUE_WRITES | USER_ADMIN)[route]
    headers, target = await _callers(client, pg_deps)

    anonymous = await call(client, headers["anonymous"], target)
    customer = await call(client, headers["customer"], target)

    assert_problem(anonymous, 401, "not_signed_in")
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert_problem(customer, 403, "forbidden")
    assert "www-authenticate" not in customer.headers
    product = (await client.get(f"{PRODUCTS}/CUP-1")).json()
    assert (product["version"], product["active"], product["on_hand"]) == (1, True, 5)
    assert (await client.get(f"{PRODUCTS}/NEW-1")).status_code == 404
    target_user = (await client.get(f"/api/v1/users/{target}", headers=headers["admin"])).json()
    assert target_user["role"] == "customer"


@pytest.mark.parametrize("route", list(CATALOGUE_WRITES))
@pytest.mark.parametrize("role", [Role.STAFF, Role.ADMIN])
async def test_staff_and_admins_write_the_catalogue(
    client: httpx.AsyncClient, pg_deps: Dependencies, route: str, role: Role
) -> None:
    headers, target = await _callers(client, pg_deps)

    response = await CATALOGUE_WRITES[route](client, headers[role.value], target)

    assert response.status_code in (200, 201), response.text


@pytest.mark.parametrize("route", list(USER_ADMIN))
async def test_only_admins_administer_users(
    client: httpx.AsyncClient, pg_deps: Dependencies, route: str
) -> None:
    headers, target = await _callers(client, pg_deps)

    staff = await USER_ADMIN[route](client, headers["staff"], target)
    admin = await USER_ADMIN[route](client, headers["admin"], target)

    assert_problem(staff, 403, "forbidden")
    assert admin.status_code == 200, admin.text


def test_forbidden_is_401_for_anonymous_callers_and_403_for_known_ones() -> None:
    refused = Forbidden("create products")
    anonymous = domain_problem(refused, Context(Actor.anonymous(), "r"))
    customer = domain_problem(refused, Context(Actor.user("u", Role.CUSTOMER), "r"))

    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert json.loads(bytes(anonymous.body))["code"] == "not_signed_in"
    assert customer.status_code == 403
    assert "www-authenticate" not in customer.headers
