"""Signing in over HTTP against real PostgreSQL and Redis: the token flow, refresh rotation and
reuse detection, expiry on the core's clock, forged tokens, and accounts that change under a
still-valid token."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly_core.shared.context import Role
from orderly_core.testing import FixedClock
from orderly_core.unit_of_work import Dependencies
from orderly_db.settings import ConfigurationError, load_settings
from orderly_db.unit_of_work import dependencies_from_settings
from orderly_http.app import create_app
from orderly_http.settings import HttpSettings
from tests.http.accounts import (
    JWT_SECRET,
    PASSWORD,
    TOKEN_URL,
    auth_settings,
    bearer,
    make_user,
    sign_in,
    signed_in,
)
from tests.http.helpers import assert_problem, serving

ME = "/api/v1/users/me"
REFRESH = "/api/v1/auth/refresh"
LOGOUT = "/api/v1/auth/logout"
INVALID_TOKEN_CHALLENGE = 'Bearer error="invalid_token"'


def assert_invalid_token(response: httpx.Response) -> None:
    assert_problem(response, 401, "invalid_token")
    assert response.headers["www-authenticate"] == INVALID_TOKEN_CHALLENGE


async def test_register_sign_in_refresh_reuse_and_sign_out(client: httpx.AsyncClient) -> None:
    registered = await client.post(
        "/api/v1/users",
        json={"email": "Ann@Example.com", "password": PASSWORD, "display_name": "Ann"},
    )
    assert registered.status_code == 201, registered.text

    signed = await client.post(
        TOKEN_URL, data={"username": "ann@example.com", "password": PASSWORD}
    )

    assert signed.status_code == 200, signed.text
    assert signed.headers["cache-control"] == "no-store"
    first = signed.json()
    assert set(first) == {
        "access_token", "token_type", "expires_in", "refresh_token", "refresh_expires_at",
    }  # fmt: skip
    assert (first["token_type"], first["expires_in"]) == ("bearer", 900)
    claims = jwt.decode(first["access_token"], JWT_SECRET, algorithms=["HS256"])
    assert set(claims) == {"sub", "role", "exp", "iat", "jti"}
    assert (claims["sub"], claims["role"]) == (registered.json()["id"], "customer")
    assert claims["exp"] - int(claims["iat"]) == 900  # iat to the microsecond, exp in seconds

    me = await client.get(ME, headers=bearer(first["access_token"]))
    assert me.status_code == 200, me.text
    assert me.json() == registered.json()
    assert me.headers["cache-control"] == "no-store"

    rotated = await client.post(REFRESH, json={"refresh_token": first["refresh_token"]})
    assert rotated.status_code == 200, rotated.text
    assert rotated.headers["cache-control"] == "no-store"
    second = rotated.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert (await client.get(ME, headers=bearer(second["access_token"]))).status_code == 200

    # The first refresh token again: a stolen copy. Its whole family ends, the new one too.
    reused = await client.post(REFRESH, json={"refresh_token": first["refresh_token"]})
    assert_problem(reused, 401, "refresh_reused")
    assert reused.headers["www-authenticate"] == "Bearer"
    revoked = await client.post(REFRESH, json={"refresh_token": second["refresh_token"]})
    assert_problem(revoked, 401, "refresh_rejected")

    third = await sign_in(client, "ann@example.com")
    assert (
        await client.post(LOGOUT, json={"refresh_token": third["refresh_token"]})
    ).status_code == 204
    after_logout = await client.post(REFRESH, json={"refresh_token": third["refresh_token"]})
    assert_problem(after_logout, 401, "refresh_rejected")


async def test_refresh_and_logout_ignore_a_stale_access_token_sent_along(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    await make_user(pg_deps, "ann@example.com")
    tokens = await sign_in(client, "ann@example.com")
    stale = bearer("not.a.token")

    refreshed = await client.post(
        REFRESH, json={"refresh_token": tokens["refresh_token"]}, headers=stale
    )

    assert refreshed.status_code == 200, refreshed.text
    logout = await client.post(
        LOGOUT, json={"refresh_token": refreshed.json()["refresh_token"]}, headers=stale
    )
    assert logout.status_code == 204


@pytest_asyncio.fixture(loop_scope="session")
async def clocked(
    http_settings: HttpSettings, clean_engine: AsyncEngine
) -> AsyncIterator[tuple[httpx.AsyncClient, Dependencies, FixedClock]]:
    """An API whose use cases and tokens read a clock that moves only when told to."""
    clock = FixedClock(datetime.now(UTC))
    deps = replace(dependencies_from_settings(clean_engine, http_settings), clock=clock)
    async with serving(create_app(http_settings, dependencies=deps)) as client:
        yield client, deps, clock


async def test_an_access_token_expires_after_its_ttl_on_the_cores_clock(
    clocked: tuple[httpx.AsyncClient, Dependencies, FixedClock],
) -> None:
    client, deps, clock = clocked
    _, headers = await signed_in(client, deps, "ann@example.com")

    clock.advance(timedelta(minutes=14, seconds=59))
    assert (await client.get(ME, headers=headers)).status_code == 200

    clock.advance(timedelta(minutes=1, seconds=1))
    expired = await client.get(ME, headers=headers)

    assert_invalid_token(expired)
    assert "expired" in expired.json()["detail"]


async def test_an_expired_refresh_token_is_rejected(
    clocked: tuple[httpx.AsyncClient, Dependencies, FixedClock],
) -> None:
    client, deps, clock = clocked
    await make_user(deps, "ann@example.com")
    tokens = await sign_in(client, "ann@example.com")

    clock.advance(timedelta(days=30, seconds=1))
    response = await client.post(REFRESH, json={"refresh_token": tokens["refresh_token"]})

    assert_problem(response, 401, "refresh_rejected")


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _claims(token: str) -> dict[str, object]:
    payload = token.split(".")[1]
    decoded: dict[str, object] = json.loads(base64.urlsafe_b64decode(payload + "=="))
    return decoded


async def test_forged_tampered_and_malformed_tokens_are_refused(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    await make_user(pg_deps, "ann@example.com")
    genuine = (await sign_in(client, "ann@example.com"))["access_token"]
    header, _, signature = genuine.split(".")
    claims = _claims(genuine)
    as_admin = _b64({**claims, "role": "admin"})
    forged = {
        "tampered payload": f"{header}.{as_admin}.{signature}",
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{as_admin}.",
        "another key": jwt.encode(claims, "another-key-" + "x" * 32, algorithm="HS256"),
        "HS512 with our key": jwt.encode(claims, JWT_SECRET, algorithm="HS512"),
        "no exp": jwt.encode({**claims, "exp": None}, JWT_SECRET, algorithm="HS256"),
        "unknown role": jwt.encode({**claims, "role": "root"}, JWT_SECRET, algorithm="HS256"),
        "garbage": "abc.def.ghi",
    }

    details = {}
    for name, token in forged.items():
        response = await client.get(ME, headers=bearer(token))
        assert response.status_code == 401, name
        assert_invalid_token(response)
        details[name] = response.json()["detail"]
    # A signature this key does not make is called what it is; a broken token is malformed.
    for name in ("tampered payload", "another key"):
        assert "signed with another key" in details[name], name
        assert "expired" not in details[name], name
    for name in ("alg none", "HS512 with our key", "no exp", "unknown role", "garbage"):
        assert "malformed" in details[name], name
    for value in ("Basic YW5uOnB3", "Bearer", f"Token {genuine}"):
        assert_invalid_token(await client.get(ME, headers={"Authorization": value}))
    assert (await client.get(ME, headers=bearer(genuine))).status_code == 200


async def test_no_token_on_a_route_that_needs_one_is_401_with_a_bearer_challenge(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(ME)

    assert_problem(response, 401, "not_signed_in")
    assert response.headers["www-authenticate"] == "Bearer"


async def test_a_deactivated_users_valid_token_stops_working_at_once(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    _, admin = await signed_in(client, pg_deps, "root@example.com", Role.ADMIN)
    ann = await make_user(pg_deps, "ann@example.com")
    tokens = await sign_in(client, "ann@example.com")
    assert (await client.get(ME, headers=bearer(tokens["access_token"]))).status_code == 200

    deactivated = await client.patch(
        f"/api/v1/users/{ann.id}", json={"active": False}, headers=admin
    )

    assert deactivated.status_code == 200, deactivated.text
    assert_invalid_token(await client.get(ME, headers=bearer(tokens["access_token"])))
    refreshed = await client.post(REFRESH, json={"refresh_token": tokens["refresh_token"]})
    assert_problem(refreshed, 401, "refresh_rejected")
    again = await client.post(TOKEN_URL, data={"username": ann.email, "password": PASSWORD})
    assert_problem(again, 401, "account_deactivated")


async def test_a_role_change_applies_to_a_token_issued_before_it(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    _, admin = await signed_in(client, pg_deps, "root@example.com", Role.ADMIN)
    ann, headers = await signed_in(client, pg_deps, "ann@example.com", Role.STAFF)
    new_product = {"sku": "MUG-1", "name": "Mug", "unit_price": 100, "currency": "EUR"}
    created = await client.post("/api/v1/products", json=new_product, headers=headers)
    assert created.status_code == 201, created.text

    demoted = await client.patch(
        f"/api/v1/users/{ann.id}", json={"role": "customer"}, headers=admin
    )
    assert demoted.status_code == 200, demoted.text

    refused = await client.post(
        "/api/v1/products", json={**new_product, "sku": "MUG-2"}, headers=headers
    )
    assert_problem(refused, 403, "forbidden")


async def test_an_unknown_email_and_a_wrong_password_get_the_same_answer(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    await make_user(pg_deps, "ann@example.com")

    wrong = await client.post(TOKEN_URL, data={"username": "ann@example.com", "password": "x" * 12})
    unknown = await client.post(
        TOKEN_URL, data={"username": "bob@example.com", "password": PASSWORD}
    )

    bodies = []
    for response in (wrong, unknown):
        body = assert_problem(response, 401, "invalid_credentials")
        assert response.headers["www-authenticate"] == "Bearer"
        body.pop("request_id")
        bodies.append(body)
    assert bodies[0] == bodies[1]


async def test_the_token_endpoint_takes_the_form_swagger_ui_sends(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    await make_user(pg_deps, "ann@example.com")
    form = {
        "grant_type": "password",
        "username": "ANN@example.com",
        "password": PASSWORD,
        "scope": "",
    }

    response = await client.post(TOKEN_URL, data=form)

    assert response.status_code == 200, response.text
    missing = await client.post(TOKEN_URL, data={"username": "ann@example.com"})
    assert_problem(missing, 422, "invalid_input")


async def test_the_openapi_document_declares_the_password_flow_on_protected_routes(
    client: httpx.AsyncClient,
) -> None:
    document = (await client.get("/openapi.json")).json()

    schemes = document["components"]["securitySchemes"]
    assert schemes["OAuth2PasswordBearer"]["flows"]["password"]["tokenUrl"] == TOKEN_URL
    paths = document["paths"]
    locked: dict[str, object] = {"security": [{"OAuth2PasswordBearer": []}]}
    assert paths["/api/v1/users/me"]["get"].items() >= locked.items()
    assert paths["/api/v1/users/{user_id}"]["patch"].items() >= locked.items()
    assert paths["/api/v1/products"]["post"].items() >= locked.items()
    assert "security" not in paths["/api/v1/products"]["get"]
    assert "security" not in paths["/api/v1/users"]["post"]


def test_production_refuses_to_start_without_a_strong_signing_key() -> None:
    urls = {"database_url": "postgresql://db/orderly", "redis_url": "redis://cache:6379/0"}
    for secret in (None, "", "too-short"):
        with pytest.raises(ConfigurationError) as raised:
            load_settings(HttpSettings, **urls, environment="production", jwt_secret=secret)
        message = str(raised.value)
        assert "JWT_SECRET" in message
        assert "\n" not in message
        if secret:
            assert secret not in message
    strong = load_settings(HttpSettings, **urls, environment="production", jwt_secret="k" * 32)
    assert strong.jwt_secret is not None
    assert "k" * 32 not in repr(strong)


async def test_without_a_configured_key_each_api_signs_with_its_own(
    database_url: str, redis_url: str, pg_deps: Dependencies
) -> None:
    settings = auth_settings(database_url, redis_url, jwt_secret=None)
    await make_user(pg_deps, "ann@example.com")
    async with serving(create_app(settings)) as first, serving(create_app(settings)) as second:
        token = (await sign_in(first, "ann@example.com"))["access_token"]

        assert (await first.get(ME, headers=bearer(token))).status_code == 200
        refused = await second.get(ME, headers=bearer(token))
        assert_invalid_token(refused)
        assert "signed with another key" in refused.json()["detail"]


async def test_an_expired_token_of_another_key_is_said_to_have_expired(
    clocked: tuple[httpx.AsyncClient, Dependencies, FixedClock],
) -> None:
    """A token from another key that expired anyway (say, from yesterday's `orderly dev`
    with the key it had then): its expiry is the first thing the client needs to hear."""
    client, deps, clock = clocked
    ann = await make_user(deps, "ann@example.com")
    now = int(clock.now().timestamp())
    claims = {"sub": str(ann.id), "role": "customer", "iat": now - 7200, "jti": "x" * 32}
    old = jwt.encode({**claims, "exp": now - 3600}, "old-key-" + "x" * 32, algorithm="HS256")
    fresh = jwt.encode({**claims, "exp": now + 600}, "old-key-" + "x" * 32, algorithm="HS256")

    expired = await client.get(ME, headers=bearer(old))
    current = await client.get(ME, headers=bearer(fresh))

    assert_invalid_token(expired)
    assert expired.json()["detail"].startswith("The access token has expired")
    assert "another key" in expired.json()["detail"]
    assert_invalid_token(current)
    assert "expired" not in current.json()["detail"]
