"""The busiest routes (an order, a page of orders, placing an order, the catalogue reads)
check the caller's account in their use case's own unit of work: one transaction per request,
and a deactivation, a sign-out or a role change still applies to the very next request."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly_core.shared.context import Role
from orderly_core.testing import FixedClock
from orderly_core.unit_of_work import Dependencies, UnitOfWork
from orderly_db.unit_of_work import dependencies_from_settings
from orderly_http.app import create_app
from orderly_http.settings import HttpSettings
from tests.http.accounts import bearer, sign_in, signed_in
from tests.http.helpers import assert_problem, seed, serving

pytestmark = pytest.mark.postgres

ORDERS = "/api/v1/orders"
USERS = "/api/v1/users"


def _order(sku: str = "MUG-1") -> dict[str, Any]:
    return {"lines": [{"sku": sku, "quantity": 1}]}


def _keyed(headers: dict[str, str], key: str | None = None) -> dict[str, str]:
    return headers | {"Idempotency-Key": key or uuid.uuid4().hex}


def assert_invalid_token(response: httpx.Response) -> None:
    assert_problem(response, 401, "invalid_token")


class Counted:
    """The API's units of work, counted."""

    def __init__(self) -> None:
        self.opened = 0


@pytest_asyncio.fixture(loop_scope="session")
async def counted(
    http_settings: HttpSettings, clean_engine: AsyncEngine
) -> AsyncIterator[tuple[httpx.AsyncClient, Dependencies, Counted, FixedClock]]:
    """An API whose units of work are counted, on a clock that moves only when told to."""
    clock = FixedClock(datetime.now(UTC))
    deps = replace(dependencies_from_settings(clean_engine, http_settings), clock=clock)
    count = Counted()

    def unit_of_work() -> UnitOfWork:
        count.opened += 1
        return deps.unit_of_work()

    counting = replace(deps, unit_of_work=unit_of_work)
    async with serving(create_app(http_settings, dependencies=counting)) as client:
        yield client, deps, count, clock


async def test_each_busy_route_runs_its_account_check_and_its_work_in_one_unit_of_work(
    counted: tuple[httpx.AsyncClient, Dependencies, Counted, FixedClock],
) -> None:
    client, deps, count, _ = counted
    await seed(deps, "MUG-1", on_hand=10)
    _, headers = await signed_in(client, deps, "ann@example.com")
    requests = {
        "place": ("POST", ORDERS, _keyed(headers, "first"), _order()),
        "replay": ("POST", ORDERS, _keyed(headers, "first"), _order()),
        "page": ("GET", ORDERS, headers, None),
        "product": ("GET", "/api/v1/products/MUG-1", headers, None),
        "catalogue": ("GET", "/api/v1/products", headers, None),
    }
    order_id = None
    for name, (method, path, sent, body) in requests.items():
        before = count.opened
        response = await client.request(method, path, headers=sent, json=body)
        assert response.status_code in {200, 201}, (name, response.text)
        assert count.opened - before == 1, name
        order_id = order_id or response.json()["id"]

    before = count.opened
    read = await client.get(f"{ORDERS}/{order_id}", headers=headers)
    assert read.status_code == 200, read.text
    assert count.opened - before == 1


async def test_a_deactivated_customers_token_is_refused_by_the_next_read_or_order(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    await seed(pg_deps, "MUG-1", on_hand=10)
    _, admin = await signed_in(client, pg_deps, "root@example.com", Role.ADMIN)
    ann, headers = await signed_in(client, pg_deps, "ann@example.com")
    placed = await client.post(ORDERS, json=_order(), headers=_keyed(headers, "kept"))
    assert placed.status_code == 201, placed.text
    order = f"{ORDERS}/{placed.json()['id']}"
    assert (await client.get(order, headers=headers)).status_code == 200

    off = await client.patch(f"{USERS}/{ann.id}", json={"active": False}, headers=admin)
    assert off.status_code == 200, off.text

    assert_invalid_token(await client.get(order, headers=headers))
    assert_invalid_token(await client.get(ORDERS, headers=headers))
    assert_invalid_token(await client.post(ORDERS, json=_order(), headers=_keyed(headers)))
    # a replay of an order placed before answers nobody whose account is gone
    assert_invalid_token(await client.post(ORDERS, json=_order(), headers=_keyed(headers, "kept")))
    assert_invalid_token(await client.get("/api/v1/products/MUG-1", headers=headers))
    # a refusal the use case decides before its unit of work checks the account too
    duplicate = {"lines": [{"sku": "MUG-1", "quantity": 1}, {"sku": "mug-1", "quantity": 1}]}
    assert_invalid_token(await client.post(ORDERS, json=duplicate, headers=_keyed(headers)))
    # a request of the wrong shape reaches no use case: refused for its shape
    assert_problem(
        await client.get(ORDERS, params={"limit": 0}, headers=headers), 422, "invalid_input"
    )
    # nothing was placed
    assert (await client.get(ORDERS, headers=admin)).json()["items"] == [placed.json()]


async def test_a_token_from_before_a_password_change_is_refused_by_an_order_read(
    counted: tuple[httpx.AsyncClient, Dependencies, Counted, FixedClock],
) -> None:
    client, deps, _, clock = counted
    await seed(deps, "MUG-1", on_hand=10)
    _, headers = await signed_in(client, deps, "ann@example.com")
    placed = await client.post(ORDERS, json=_order(), headers=_keyed(headers))
    assert placed.status_code == 201, placed.text
    order = f"{ORDERS}/{placed.json()['id']}"

    clock.advance(timedelta(seconds=1))
    changed = await client.post(
        f"{USERS}/me/password",
        json={"current_password": "correct horse battery", "new_password": "another horse 42"},
        headers=headers,
    )
    assert changed.status_code == 204, changed.text

    assert_invalid_token(await client.get(order, headers=headers))
    assert_invalid_token(await client.get(ORDERS, headers=headers))


async def test_an_expired_token_is_refused_by_an_order_read_after_it_was_accepted(
    counted: tuple[httpx.AsyncClient, Dependencies, Counted, FixedClock],
) -> None:
    client, deps, _, clock = counted
    _, headers = await signed_in(client, deps, "ann@example.com")
    assert (await client.get(ORDERS, headers=headers)).status_code == 200

    clock.advance(timedelta(hours=1))

    response = await client.get(ORDERS, headers=headers)
    assert_invalid_token(response)
    assert "expired" in response.json()["detail"]


async def test_a_customer_promoted_to_staff_reads_every_order_with_a_token_issued_before(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    await seed(pg_deps, "MUG-1", on_hand=10)
    _, admin = await signed_in(client, pg_deps, "root@example.com", Role.ADMIN)
    ann, ann_headers = await signed_in(client, pg_deps, "ann@example.com")
    _, bob_headers = await signed_in(client, pg_deps, "bob@example.com")
    bobs = await client.post(ORDERS, json=_order(), headers=_keyed(bob_headers))
    assert bobs.status_code == 201, bobs.text
    bobs_order = f"{ORDERS}/{bobs.json()['id']}"
    assert_problem(await client.get(bobs_order, headers=ann_headers), 404, "order_not_found")
    assert (await client.get(ORDERS, headers=ann_headers)).json()["items"] == []

    promoted = await client.patch(f"{USERS}/{ann.id}", json={"role": "staff"}, headers=admin)
    assert promoted.status_code == 200, promoted.text

    read = await client.get(bobs_order, headers=ann_headers)
    assert read.status_code == 200, read.text
    assert read.json() == bobs.json()
    page = await client.get(ORDERS, headers=ann_headers)
    assert [item["id"] for item in page.json()["items"]] == [bobs.json()["id"]]


async def test_a_staff_member_demoted_to_customer_sees_only_their_own_orders_at_once(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    await seed(pg_deps, "MUG-1", on_hand=10)
    _, admin = await signed_in(client, pg_deps, "root@example.com", Role.ADMIN)
    ann, ann_headers = await signed_in(client, pg_deps, "ann@example.com", Role.STAFF)
    _, bob_headers = await signed_in(client, pg_deps, "bob@example.com")
    bobs = await client.post(ORDERS, json=_order(), headers=_keyed(bob_headers))
    assert bobs.status_code == 201, bobs.text
    bobs_order = f"{ORDERS}/{bobs.json()['id']}"
    assert (await client.get(bobs_order, headers=ann_headers)).status_code == 200
    staff_only = {"customer_id": str(uuid.uuid4())}
    assert (await client.get(ORDERS, params=staff_only, headers=ann_headers)).status_code == 200

    demoted = await client.patch(f"{USERS}/{ann.id}", json={"role": "customer"}, headers=admin)
    assert demoted.status_code == 200, demoted.text

    assert_problem(await client.get(bobs_order, headers=ann_headers), 404, "order_not_found")
    assert (await client.get(ORDERS, headers=ann_headers)).json()["items"] == []
    # as a customer now, ann may place an order with the token issued to her as staff
    placed = await client.post(ORDERS, json=_order(), headers=_keyed(ann_headers))
    assert placed.status_code == 201, placed.text
    assert placed.json()["customer_id"] == str(ann.id)


async def test_a_token_signed_in_again_after_a_role_change_works_as_before(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    _, admin = await signed_in(client, pg_deps, "root@example.com", Role.ADMIN)
    ann, _ = await signed_in(client, pg_deps, "ann@example.com")
    promoted = await client.patch(f"{USERS}/{ann.id}", json={"role": "staff"}, headers=admin)
    assert promoted.status_code == 200, promoted.text

    headers = bearer((await sign_in(client, "ann@example.com"))["access_token"])

    assert (await client.get(ORDERS, headers=headers)).status_code == 200
