"""The users routes over the real database: signing up, one's own account, administration."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from orderly_core.shared.context import Role
from orderly_core.unit_of_work import Dependencies
from tests.http.accounts import (
    PASSWORD,
    TOKEN_URL,
    bearer,
    make_user,
    sign_in,
    signed_in,
)
from tests.http.helpers import assert_problem

USERS = "/api/v1/users"
ME = f"{USERS}/me"
USER_FIELDS = {
    "id", "email", "display_name", "role", "active", "email_verified", "created_at", "updated_at",
}  # fmt: skip
RFC3339_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|\+00:00)")
ANN = {"email": "Ann@Example.com", "password": PASSWORD, "display_name": " Ann "}


def _fields(body: dict[str, object]) -> set[str]:
    errors = body["errors"]
    assert isinstance(errors, list)
    return {error["field"] for error in errors}


async def test_sign_up_answers_201_with_the_user_and_its_location(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(USERS, json=ANN)

    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == USER_FIELDS
    assert (body["email"], body["display_name"], body["role"], body["active"]) == (
        "ann@example.com", "Ann", "customer", True,
    )  # fmt: skip
    assert str(uuid.UUID(body["id"])) == body["id"]
    assert RFC3339_UTC.fullmatch(body["created_at"])
    assert response.headers["location"] == f"{USERS}/{body['id']}"
    tokens = await sign_in(client, "ann@example.com")
    own = await client.get(response.headers["location"], headers=bearer(tokens["access_token"]))
    assert own.json() == body


@pytest.mark.parametrize(
    ("field", "value"),
    [("role", "admin"), ("active", False), ("id", str(uuid.uuid4())), ("created_at", "2020-01-01")],
)
async def test_sign_up_refuses_members_the_client_does_not_own(
    client: httpx.AsyncClient, pg_deps: Dependencies, field: str, value: object
) -> None:
    response = await client.post(USERS, json={**ANN, field: value})

    body = assert_problem(response, 422, "invalid_input")
    assert _fields(body) == {field}
    _, admin = await signed_in(client, pg_deps, "root@example.com", Role.ADMIN)
    listed = await client.get(USERS, headers=admin)
    assert [user["email"] for user in listed.json()["items"]] == ["root@example.com"]


async def test_sign_up_with_a_taken_email_in_other_case_is_409(client: httpx.AsyncClient) -> None:
    assert (await client.post(USERS, json=ANN)).status_code == 201

    response = await client.post(USERS, json={**ANN, "email": "ANN@example.COM"})

    assert_problem(response, 409, "email_taken")


async def test_sign_up_checks_the_password_rules(client: httpx.AsyncClient) -> None:
    short = await client.post(USERS, json={**ANN, "password": "short"})
    same = await client.post(USERS, json={**ANN, "password": "ann@example.com"})

    assert _fields(assert_problem(short, 422, "invalid_input")) == {"password"}
    assert _fields(assert_problem(same, 422, "invalid_input")) == {"password"}


async def test_changing_my_profile(client: httpx.AsyncClient, pg_deps: Dependencies) -> None:
    await make_user(pg_deps, "bob@example.com")
    _, headers = await signed_in(client, pg_deps, "ann@example.com")

    changed = await client.patch(
        ME, json={"display_name": "Annie", "email": "Annie@Example.com"}, headers=headers
    )
    taken = await client.patch(ME, json={"email": "bob@example.com"}, headers=headers)
    sneaky = await client.patch(ME, json={"role": "admin"}, headers=headers)
    anonymous = await client.patch(ME, json={"display_name": "x"})

    assert changed.status_code == 200, changed.text
    assert (changed.json()["display_name"], changed.json()["email"]) == (
        "Annie",
        "annie@example.com",
    )
    assert_problem(taken, 409, "email_taken")
    assert _fields(assert_problem(sneaky, 422, "invalid_input")) == {"role"}
    assert_problem(anonymous, 401, "not_signed_in")
    me = (await client.get(ME, headers=headers)).json()
    assert (me["email"], me["role"]) == ("annie@example.com", "customer")


async def test_changing_my_password_needs_the_current_one_and_ends_my_sessions(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    await make_user(pg_deps, "ann@example.com")
    tokens = await sign_in(client, "ann@example.com")
    headers = bearer(tokens["access_token"])
    new_password = "a brand new passphrase"

    wrong = await client.post(
        f"{ME}/password",
        json={"current_password": "not it at all", "new_password": new_password},
        headers=headers,
    )
    changed = await client.post(
        f"{ME}/password",
        json={"current_password": PASSWORD, "new_password": new_password},
        headers=headers,
    )

    assert_problem(wrong, 403, "wrong_password")
    assert changed.status_code == 204, changed.text
    old = await client.post(TOKEN_URL, data={"username": "ann@example.com", "password": PASSWORD})
    assert_problem(old, 401, "invalid_credentials")
    await sign_in(client, "ann@example.com", new_password)
    ended = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert_problem(ended, 401, "refresh_rejected")


async def test_another_customers_account_is_not_found(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    ann, ann_headers = await signed_in(client, pg_deps, "ann@example.com")
    bob = await make_user(pg_deps, "bob@example.com")
    _, staff = await signed_in(client, pg_deps, "staff@example.com", Role.STAFF)
    _, admin = await signed_in(client, pg_deps, "root@example.com", Role.ADMIN)

    other = await client.get(f"{USERS}/{bob.id}", headers=ann_headers)
    missing = await client.get(f"{USERS}/{uuid.uuid4()}", headers=ann_headers)

    assert_problem(other, 404, "user_not_found")
    assert other.json()["detail"].replace(str(bob.id), "?") == missing.json()["detail"].replace(
        missing.json()["user_id"], "?"
    )
    assert (await client.get(f"{USERS}/{ann.id}", headers=ann_headers)).status_code == 200
    assert_problem(await client.get(f"{USERS}/{bob.id}", headers=staff), 404, "user_not_found")
    assert (await client.get(f"{USERS}/{bob.id}", headers=admin)).json()["email"] == bob.email
    anonymous = await client.get(f"{USERS}/{bob.id}")
    assert_problem(anonymous, 401, "not_signed_in")


async def test_admins_list_users_in_pages_with_filters(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    _, admin = await signed_in(client, pg_deps, "root@example.com", Role.ADMIN)
    for name in ("ann", "bea", "cid", "dan"):
        await make_user(pg_deps, f"{name}@example.com")
    await make_user(pg_deps, "sam@shop.example.com", Role.STAFF)

    first = (await client.get(USERS, params={"limit": 2}, headers=admin)).json()
    second = (
        await client.get(USERS, params={"limit": 2, "cursor": first["next_cursor"]}, headers=admin)
    ).json()
    staff = (await client.get(USERS, params={"role": "staff"}, headers=admin)).json()
    prefixed = (await client.get(USERS, params={"email_prefix": "B"}, headers=admin)).json()

    assert [u["email"] for u in first["items"]] == ["ann@example.com", "bea@example.com"]
    assert [u["email"] for u in second["items"]] == ["cid@example.com", "dan@example.com"]
    assert [u["email"] for u in staff["items"]] == ["sam@shop.example.com"]
    assert staff["next_cursor"] is None
    assert [u["email"] for u in prefixed["items"]] == ["bea@example.com"]
    assert all(set(user) == USER_FIELDS for user in first["items"])
    bad = await client.get(USERS, params={"cursor": "not-a-cursor"}, headers=admin)
    assert _fields(assert_problem(bad, 422, "invalid_input")) == {"cursor"}


async def test_an_admin_changes_role_and_active_flag_in_one_request(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    _, admin = await signed_in(client, pg_deps, "root@example.com", Role.ADMIN)
    ann = await make_user(pg_deps, "ann@example.com")

    response = await client.patch(
        f"{USERS}/{ann.id}", json={"role": "staff", "active": False}, headers=admin
    )

    assert response.status_code == 200, response.text
    assert (response.json()["role"], response.json()["active"]) == ("staff", False)
    inactive = (await client.get(USERS, params={"active": "false"}, headers=admin)).json()
    assert [u["email"] for u in inactive["items"]] == ["ann@example.com"]
    empty = await client.patch(f"{USERS}/{ann.id}", json={}, headers=admin)
    assert _fields(assert_problem(empty, 422, "invalid_input")) == {"changes"}
    unknown = await client.patch(f"{USERS}/{uuid.uuid4()}", json={"active": True}, headers=admin)
    assert_problem(unknown, 404, "user_not_found")
    sneaky = await client.patch(f"{USERS}/{ann.id}", json={"email": "x@example.com"}, headers=admin)
    assert _fields(assert_problem(sneaky, 422, "invalid_input")) == {"email"}


async def test_the_last_active_admin_cannot_be_demoted_or_deactivated(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    root, admin = await signed_in(client, pg_deps, "root@example.com", Role.ADMIN)

    demoted = await client.patch(f"{USERS}/{root.id}", json={"role": "staff"}, headers=admin)
    deactivated = await client.patch(f"{USERS}/{root.id}", json={"active": False}, headers=admin)

    assert_problem(demoted, 409, "last_admin")
    assert_problem(deactivated, 409, "last_admin")
    assert (await client.get(ME, headers=admin)).json()["role"] == "admin"
    second = await make_user(pg_deps, "second@example.com", Role.ADMIN)
    assert (
        await client.patch(f"{USERS}/{root.id}", json={"role": "staff"}, headers=admin)
    ).status_code == 200
    # root is staff now, at once: the same token may no longer administer users.
    refused = await client.patch(f"{USERS}/{second.id}", json={"role": "staff"}, headers=admin)
    assert_problem(refused, 403, "forbidden")
