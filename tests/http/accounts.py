"""Accounts for the HTTP tests: real users in the database, real sign-ins, real bearer tokens."""

from __future__ import annotations

from typing import Any

import httpx
import redis
from returns.pipeline import is_successful

from orderly_core.accounts.model import User
from orderly_core.accounts.registration import NewUser, create_user
from orderly_core.shared.context import Role
from orderly_core.unit_of_work import Dependencies
from orderly_http.ratelimit import KEY_PREFIX
from orderly_http.settings import HttpSettings
from tests.http.helpers import OPERATOR, SIGN_UPS_OF_THE_SUITE

TOKEN_URL = "/api/v1/auth/token"
PASSWORD = "correct horse battery"
JWT_SECRET = "test-signing-key-0123456789-abcdefghijklmnop"


def auth_settings(database_url: str, redis_url: str, **overrides: Any) -> HttpSettings:
    """An API whose Argon2id is as cheap as the test fixtures' (``FAST_PASSWORDS``), so users
    made through the core sign in without a rehash."""
    fields: dict[str, Any] = {
        "database_url": database_url,
        "redis_url": redis_url,
        "log_format": "json",
        "password_hash_time_cost": 1,
        "password_hash_memory_kib": 8192,
        "jwt_secret": JWT_SECRET,
        "signup_max_per_address": SIGN_UPS_OF_THE_SUITE,
    }
    return HttpSettings(**(fields | overrides))


# The counts of the mailed-link limits, which every test starts without too.
MAILED_LINK_COUNTS = ("orderly:password-resets:*", "orderly:verification-links:*")


def forget_login_failures(redis_url: str) -> None:
    """Every test starts with no failed sign-in counted (the tests share 127.0.0.1), and no
    password reset or verification link asked for."""
    with redis.Redis.from_url(redis_url) as client:
        keys = list(client.scan_iter(match=KEY_PREFIX + "*"))
        for pattern in MAILED_LINK_COUNTS:
            keys += list(client.scan_iter(match=pattern))
        if keys:
            client.delete(*keys)


async def make_user(
    deps: Dependencies,
    email: str,
    role: Role = Role.CUSTOMER,
    *,
    password: str = PASSWORD,
    display_name: str | None = None,
) -> User:
    """An account made through the core by an operator, as ``orderly users`` would."""
    new = NewUser(email, password, display_name or email.split("@", maxsplit=1)[0], role)
    result = await create_user(deps, OPERATOR, new)
    assert is_successful(result), result
    return result.unwrap()


async def sign_in(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD
) -> dict[str, Any]:
    response = await client.post(TOKEN_URL, data={"username": email, "password": password})
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def signed_in(
    client: httpx.AsyncClient, deps: Dependencies, email: str, role: Role = Role.CUSTOMER
) -> tuple[User, dict[str, str]]:
    """A new account of ``role``, signed in: the user and its ``Authorization`` header."""
    user = await make_user(deps, email, role)
    tokens = await sign_in(client, email)
    return user, bearer(tokens["access_token"])
