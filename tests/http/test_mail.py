"""``/api/v1/mail``: staff read the messages Orderly sent; nobody reads a token."""

from __future__ import annotations

import uuid

import httpx

from orderly_core.shared.context import Role
from orderly_core.unit_of_work import Dependencies
from tests.http.accounts import signed_in
from tests.http.helpers import assert_problem

MAIL = "/api/v1/mail"
RESET = "/api/v1/auth/password-reset"


async def test_staff_list_and_read_messages_without_their_tokens(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    _, staff = await signed_in(client, pg_deps, "staff@example.com", Role.STAFF)
    _, customer = await signed_in(client, pg_deps, "ann@example.com")
    await client.post(RESET, json={"email": "ann@example.com"})

    page = await client.get(MAIL, headers=staff, params={"template": "password_reset"})
    [item] = page.json()["items"]
    detail = await client.get(f"{MAIL}/{item['id']}", headers=staff)
    filtered = await client.get(MAIL, headers=staff, params={"recipient": "ANN@example.com"})
    none = await client.get(MAIL, headers=staff, params={"status": "sent"})

    assert page.status_code == 200, page.text
    assert (item["recipient"], item["status"], item["attempts"]) == (
        "ann@example.com", "pending", 0,
    )  # fmt: skip
    assert detail.status_code == 200, detail.text
    body = detail.json()
    assert body["attempt_log"] == []
    assert body["data"]["display_name"] == "ann"
    assert "secret" not in body
    assert "token" not in detail.text
    assert [m["id"] for m in filtered.json()["items"]] == [item["id"]]
    assert none.json()["items"] == []
    assert_problem(await client.get(MAIL, headers=customer), 403, "forbidden")
    assert_problem(await client.get(f"{MAIL}/{uuid.uuid4()}", headers=staff), 404, "mail_not_found")
    assert_problem(await client.get(f"{MAIL}/not-an-id", headers=staff), 404, "mail_not_found")
    assert (await client.get(MAIL)).status_code == 401


async def test_bad_filters_are_refused(client: httpx.AsyncClient, pg_deps: Dependencies) -> None:
    _, staff = await signed_in(client, pg_deps, "staff@example.com", Role.STAFF)

    assert_problem(
        await client.get(MAIL, headers=staff, params={"status": "lost"}), 422, "invalid_input"
    )
    assert_problem(
        await client.get(MAIL, headers=staff, params={"recipient": "a\u0000b"}),
        422,
        "invalid_input",
    )
    assert_problem(
        await client.get(MAIL, headers=staff, params={"limit": 10_000}), 422, "invalid_input"
    )
