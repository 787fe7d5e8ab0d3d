"""Guessing at an account's password never locks its owner out: a guesser's own address is
refused, guessing from many addresses is slowed down, and a correct password still signs in."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly_core.shared.context import Role
from orderly_core.unit_of_work import Dependencies
from orderly_http.app import create_app
from tests.http.accounts import PASSWORD, TOKEN_URL, auth_settings, forget_login_failures, make_user
from tests.http.helpers import assert_problem, serving

WRONG = "not the password"

type FromAddress = Callable[[str], httpx.AsyncClient]


@asynccontextmanager
async def addresses(app: FastAPI) -> AsyncIterator[FromAddress]:
    """The app's lifespan, and clients each connecting from an address of its own."""
    opened: list[httpx.AsyncClient] = []

    def client_from(host: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(host, 40_000))
        client = httpx.AsyncClient(transport=transport, base_url="http://test")
        opened.append(client)
        return client

    async with serving(app):
        try:
            yield client_from
        finally:
            for client in opened:
                await client.aclose()


async def _attempt(client: httpx.AsyncClient, email: str, password: str = WRONG) -> httpx.Response:
    return await client.post(TOKEN_URL, data={"username": email, "password": password})


async def test_the_owner_signs_in_from_elsewhere_while_a_guesser_is_refused(
    database_url: str, redis_url: str, clean_engine: AsyncEngine, pg_deps: Dependencies
) -> None:
    forget_login_failures(redis_url)
    await make_user(pg_deps, "root@example.com", Role.ADMIN)
    app = create_app(auth_settings(database_url, redis_url))
    async with addresses(app) as from_address:
        guesser, owner = from_address("203.0.113.7"), from_address("198.51.100.20")
        for _ in range(5):
            assert_problem(await _attempt(guesser, "root@example.com"), 401, "invalid_credentials")

        refused = await _attempt(guesser, "root@example.com", PASSWORD)
        signed_in = await _attempt(owner, "root@example.com", PASSWORD)

    assert_problem(refused, 429, "too_many_attempts")
    assert signed_in.status_code == 200, signed_in.text


async def test_guessing_from_many_addresses_slows_sign_ins_down_without_refusing_them(
    database_url: str, redis_url: str, clean_engine: AsyncEngine, pg_deps: Dependencies
) -> None:
    forget_login_failures(redis_url)
    await make_user(pg_deps, "ann@example.com")
    settings = auth_settings(
        database_url, redis_url, login_slowdown_after_failures=3, login_max_delay_s=0.6
    )
    app = create_app(settings)
    async with addresses(app) as from_address:
        for host in ("203.0.113.1", "203.0.113.2", "203.0.113.3"):
            assert (await _attempt(from_address(host), "ann@example.com")).status_code == 401

        started = time.monotonic()
        wrong = await _attempt(from_address("203.0.113.4"), "ann@example.com")
        slowed_wrong = time.monotonic() - started
        started = time.monotonic()
        right = await _attempt(from_address("198.51.100.20"), "ann@example.com", PASSWORD)
        slowed_right = time.monotonic() - started

    assert_problem(wrong, 401, "invalid_credentials")
    assert right.status_code == 200, right.text
    assert slowed_wrong >= 0.5  # the first step: half a second
    assert slowed_right >= 0.6  # one more failure: doubled, up to LOGIN_MAX_DELAY_S


async def test_under_the_slow_down_threshold_sign_ins_are_not_delayed(
    database_url: str, redis_url: str, clean_engine: AsyncEngine, pg_deps: Dependencies
) -> None:
    forget_login_failures(redis_url)
    await make_user(pg_deps, "ann@example.com")
    settings = auth_settings(
        database_url, redis_url, login_slowdown_after_failures=3, login_max_delay_s=5
    )
    app = create_app(settings)
    async with addresses(app) as from_address:
        for host in ("203.0.113.1", "203.0.113.2"):
            assert (await _attempt(from_address(host), "ann@example.com")).status_code == 401

        started = time.monotonic()
        right = await _attempt(from_address("198.51.100.20"), "ann@example.com", PASSWORD)
        took = time.monotonic() - started

    assert right.status_code == 200, right.text
    assert took < 0.5
