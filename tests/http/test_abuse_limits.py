"""Sign-ups (each an Argon2id hash) are limited per client address, and guesses at the current
password of a signed-in account per account: 429 with Retry-After, like sign-ins."""

from __future__ import annotations

import hashlib
import uuid

import httpx
import redis
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly_core.unit_of_work import Dependencies
from orderly_http.app import create_app
from tests.http.accounts import PASSWORD, auth_settings, bearer, make_user, sign_in
from tests.http.helpers import assert_problem, serving

USERS = "/api/v1/users"
PASSWORD_URL = "/api/v1/users/me/password"


def _digest(address: str) -> str:
    return hashlib.sha256(address.encode()).hexdigest()


def _signup(n: int) -> dict[str, str]:
    return {"email": f"new{n}-{uuid.uuid4().hex[:8]}@example.com", "password": PASSWORD,
            "display_name": "New"}  # fmt: skip


async def test_sign_ups_from_one_address_are_limited(
    database_url: str, redis_url: str, clean_engine: AsyncEngine
) -> None:
    with redis.Redis.from_url(redis_url) as server:
        server.delete(
            *(f"orderly:sign-ups:{_digest(a)}" for a in ("203.0.113.40", "198.51.100.77"))
        )
    settings = auth_settings(database_url, redis_url, signup_max_per_address=3)
    app = create_app(settings)
    async with serving(app):
        transport = httpx.ASGITransport(app=app, client=("203.0.113.40", 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            made = [await client.post(USERS, json=_signup(n)) for n in range(3)]
            refused = await client.post(USERS, json=_signup(3))
        other = httpx.ASGITransport(app=app, client=("198.51.100.77", 1))
        async with httpx.AsyncClient(transport=other, base_url="http://test") as client:
            elsewhere = await client.post(USERS, json=_signup(4))

    assert [response.status_code for response in made] == [201, 201, 201]
    body = assert_problem(refused, 429, "too_many_sign_ups")
    retry_after = int(refused.headers["retry-after"])
    assert 1 <= retry_after <= 3600
    assert body["retry_after_s"] == retry_after
    assert elsewhere.status_code == 201, elsewhere.text


async def test_guesses_at_the_current_password_are_limited_per_account(
    database_url: str, redis_url: str, clean_engine: AsyncEngine, pg_deps: Dependencies
) -> None:
    settings = auth_settings(database_url, redis_url, password_change_max_failures=3)
    await make_user(pg_deps, "ann@example.com")
    async with serving(create_app(settings)) as client:
        ann = bearer((await sign_in(client, "ann@example.com"))["access_token"])
        change = {"current_password": "a wrong guess!", "new_password": "another long one"}
        wrong = [await client.post(PASSWORD_URL, json=change, headers=ann) for _ in range(3)]
        right = {"current_password": PASSWORD, "new_password": "another long one"}
        refused = await client.post(PASSWORD_URL, json=right, headers=ann)

    assert all(r.status_code == 403 for r in wrong), [r.text for r in wrong]
    assert_problem(refused, 429, "too_many_attempts")
    assert 1 <= int(refused.headers["retry-after"]) <= settings.login_window_s


async def test_a_successful_password_change_clears_the_count(
    database_url: str, redis_url: str, clean_engine: AsyncEngine, pg_deps: Dependencies
) -> None:
    settings = auth_settings(database_url, redis_url, password_change_max_failures=2)
    await make_user(pg_deps, "ann@example.com")
    async with serving(create_app(settings)) as client:
        ann = bearer((await sign_in(client, "ann@example.com"))["access_token"])
        wrong = {"current_password": "a wrong guess!", "new_password": "another long one"}
        assert (await client.post(PASSWORD_URL, json=wrong, headers=ann)).status_code == 403
        right = {"current_password": PASSWORD, "new_password": "another long one"}
        assert (await client.post(PASSWORD_URL, json=right, headers=ann)).status_code == 204
        # The change ended the old token: sign in with the new password.
        ann = bearer((await sign_in(client, "ann@example.com", "another long one"))["access_token"])
        back = {"current_password": "another long one", "new_password": PASSWORD}
        again = await client.post(PASSWORD_URL, json=back, headers=ann)

    assert again.status_code == 204, again.text
