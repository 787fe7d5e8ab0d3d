"""Password reset and email verification over HTTP, on the real database and Redis: the
answers, the rate limits, and a link that works once."""

from __future__ import annotations

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly_core.unit_of_work import Dependencies
from orderly_db.tables import mail_messages
from tests.http.accounts import PASSWORD, bearer, make_user, sign_in, signed_in
from tests.http.helpers import assert_problem

RESET = "/api/v1/auth/password-reset"
CONFIRM = "/api/v1/auth/password-reset/confirm"
VERIFY = "/api/v1/auth/verify-email"
RESEND = "/api/v1/users/me/email-verification"
NEW_PASSWORD = "a brand new passphrase"


async def latest_token(engine: AsyncEngine, template: str) -> str:
    """The token of the newest pending message of ``template``: what the email will carry."""
    async with engine.connect() as connection:
        token = await connection.scalar(
            select(mail_messages.c.secret)
            .where(mail_messages.c.template == template)
            .order_by(mail_messages.c.created_at.desc())
            .limit(1)
        )
    assert isinstance(token, str)
    return token


async def test_a_reset_link_sets_the_password_once(
    client: httpx.AsyncClient, pg_deps: Dependencies, clean_engine: AsyncEngine
) -> None:
    await make_user(pg_deps, "ann@example.com")
    old_tokens = await sign_in(client, "ann@example.com")

    asked = await client.post(RESET, json={"email": "Ann@Example.com"})
    token = await latest_token(clean_engine, "password_reset")
    done = await client.post(CONFIRM, json={"token": token, "password": NEW_PASSWORD})
    again = await client.post(CONFIRM, json={"token": token, "password": "another passphrase"})

    assert asked.status_code == 202, asked.text
    assert asked.headers["cache-control"] == "no-store"
    assert done.status_code == 204, done.text
    assert_problem(again, 404, "token_rejected")
    assert (
        await client.get("/api/v1/users/me", headers=bearer(old_tokens["access_token"]))
    ).status_code == 401
    await sign_in(client, "ann@example.com", NEW_PASSWORD)


async def test_an_unknown_email_gets_the_same_answer(
    client: httpx.AsyncClient, pg_deps: Dependencies, clean_engine: AsyncEngine
) -> None:
    await make_user(pg_deps, "ann@example.com")

    known = await client.post(RESET, json={"email": "ann@example.com"})
    unknown = await client.post(RESET, json={"email": "nobody@example.com"})

    assert (known.status_code, known.content) == (unknown.status_code, unknown.content)
    async with clean_engine.connect() as connection:
        recipients = (await connection.scalars(select(mail_messages.c.recipient))).all()
    assert recipients == ["ann@example.com"]


async def test_reset_requests_are_limited_per_email(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    await make_user(pg_deps, "ann@example.com")
    answers = [
        (await client.post(RESET, json={"email": email})).status_code
        for email in ["ann@example.com", "ANN@example.com", " ann@example.com", "ann@example.com"]
    ]

    assert answers == [202, 202, 202, 429]
    other = await client.post(RESET, json={"email": "bob@example.com"})
    assert other.status_code == 202


async def test_reset_requests_are_limited_per_address(client: httpx.AsyncClient) -> None:
    answers = [
        (await client.post(RESET, json={"email": f"user{n}@example.com"})).status_code
        for n in range(11)
    ]

    assert answers == [202] * 10 + [429]
    refused = await client.post(RESET, json={"email": "late@example.com"})
    body = assert_problem(refused, 429, "too_many_password_resets")
    assert int(refused.headers["retry-after"]) == body["retry_after_s"] > 0


async def test_tokens_and_bodies_that_are_not_a_link_are_refused(
    client: httpx.AsyncClient,
) -> None:
    malformed = await client.post(CONFIRM, json={"token": "x\u0000y", "password": NEW_PASSWORD})
    unknown = await client.post(CONFIRM, json={"token": "A" * 43, "password": NEW_PASSWORD})
    extra = await client.post(VERIFY, json={"token": "A" * 43, "admin": True})
    huge = await client.post(RESET, json={"email": "a" * 5000})

    assert_problem(malformed, 404, "token_rejected")  # not a token Orderly could have made
    assert_problem(unknown, 404, "token_rejected")
    assert_problem(extra, 422, "invalid_input")
    assert_problem(huge, 422, "invalid_input")


async def test_signing_up_mails_a_verification_link_and_it_verifies(
    client: httpx.AsyncClient, clean_engine: AsyncEngine
) -> None:
    signed_up = await client.post(
        "/api/v1/users",
        json={"email": "ann@example.com", "password": PASSWORD, "display_name": "Ann"},
    )
    tokens = await sign_in(client, "ann@example.com")
    headers = bearer(tokens["access_token"])
    token = await latest_token(clean_engine, "verify_email")

    verified = await client.post(VERIFY, json={"token": token})
    me = await client.get("/api/v1/users/me", headers=headers)
    resent = await client.post(RESEND, headers=headers)

    assert signed_up.json()["email_verified"] is False
    assert verified.status_code == 204, verified.text
    assert me.json()["email_verified"] is True
    assert (resent.status_code, resent.json()) == (202, {"sent": False})
    assert_problem(await client.post(VERIFY, json={"token": token}), 404, "token_rejected")


async def test_asking_for_verification_links_is_limited_per_account(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    _, headers = await signed_in(client, pg_deps, "ann@example.com")

    answers = [(await client.post(RESEND, headers=headers)).status_code for _ in range(6)]

    assert answers == [202] * 5 + [429]
    assert (await client.post(RESEND)).status_code == 401
