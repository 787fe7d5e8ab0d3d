"""An access token issued before its account's deactivation, password change or sign-out is
refused, a reactivation included, while tokens issued after them (in the same second too)
work."""

from __future__ import annotations

import httpx
import pytest
from returns.pipeline import is_successful
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly_core.accounts.administration import ActiveChange, set_active
from orderly_core.unit_of_work import Dependencies
from orderly_http.settings import HttpSettings
from tests.http.accounts import auth_settings, bearer, forget_login_failures, make_user, sign_in
from tests.http.helpers import OPERATOR, assert_problem

ME = "/api/v1/users/me"


@pytest.fixture
def http_settings(database_url: str, redis_url: str, clean_engine: AsyncEngine) -> HttpSettings:
    forget_login_failures(redis_url)
    return auth_settings(database_url, redis_url)


async def test_a_token_from_before_a_deactivation_is_refused_after_reactivation(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    ann = await make_user(pg_deps, "ann@example.com")
    old = bearer((await sign_in(client, "ann@example.com"))["access_token"])
    assert (await client.get(ME, headers=old)).status_code == 200

    for active in (False, True):
        changed = await set_active(pg_deps, OPERATOR, ActiveChange(str(ann.id), active=active))
        assert is_successful(changed), changed
    refused = await client.get(ME, headers=old)
    new = bearer((await sign_in(client, "ann@example.com"))["access_token"])

    assert_problem(refused, 401, "invalid_token")
    assert (await client.get(ME, headers=new)).status_code == 200


async def test_signing_out_ends_the_access_tokens_and_a_new_sign_in_works_at_once(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    await make_user(pg_deps, "ann@example.com")
    tokens = await sign_in(client, "ann@example.com")
    old = bearer(tokens["access_token"])

    logout = await client.post(
        "/api/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]}
    )
    refused = await client.get(ME, headers=old)
    new = bearer((await sign_in(client, "ann@example.com"))["access_token"])  # same second, likely

    assert logout.status_code == 204
    assert_problem(refused, 401, "invalid_token")
    assert (await client.get(ME, headers=new)).status_code == 200


async def test_a_password_change_ends_the_access_tokens_issued_before_it(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    await make_user(pg_deps, "ann@example.com")
    old = bearer((await sign_in(client, "ann@example.com"))["access_token"])
    change = {"current_password": "correct horse battery", "new_password": "another long one"}

    changed = await client.post(f"{ME}/password", json=change, headers=old)
    refused = await client.get(ME, headers=old)
    new = bearer((await sign_in(client, "ann@example.com", "another long one"))["access_token"])

    assert changed.status_code == 204, changed.text
    assert_problem(refused, 401, "invalid_token")
    assert (await client.get(ME, headers=new)).status_code == 200
