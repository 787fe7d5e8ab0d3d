"""Sign-in brute-force protection on a real Redis: per account, per address, in windows."""

from __future__ import annotations

import asyncio
import time

import httpx
from structlog.testing import capture_logs

from orderly_core.unit_of_work import Dependencies
from orderly_http.app import create_app
from tests.http.accounts import PASSWORD, TOKEN_URL, auth_settings, forget_login_failures, make_user
from tests.http.helpers import assert_problem, serving

WRONG = "not the password"


async def _attempt(client: httpx.AsyncClient, email: str, password: str = WRONG) -> httpx.Response:
    return await client.post(TOKEN_URL, data={"username": email, "password": password})


async def test_the_sixth_attempt_is_refused_before_the_password_is_checked(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    await make_user(pg_deps, "ann@example.com")
    for _ in range(5):
        assert_problem(await _attempt(client, "ann@example.com"), 401, "invalid_credentials")

    # The right password, and a differently written email: still the same account, refused.
    refused = await _attempt(client, "  ANN@example.com", PASSWORD)

    body = assert_problem(refused, 429, "too_many_attempts")
    retry_after = int(refused.headers["retry-after"])
    assert 1 <= retry_after <= 300
    assert body["retry_after_s"] == retry_after
    assert "access_token" not in refused.text
    # Other accounts from the same address may still sign in.
    await make_user(pg_deps, "bob@example.com")
    assert (await _attempt(client, "bob@example.com", PASSWORD)).status_code == 200


async def test_a_successful_sign_in_resets_the_accounts_count(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    await make_user(pg_deps, "ann@example.com")
    for _ in range(4):
        assert (await _attempt(client, "ann@example.com")).status_code == 401
    assert (await _attempt(client, "ann@example.com", PASSWORD)).status_code == 200

    # Without the reset, the second of these would already be the sixth failure.
    for _ in range(5):
        assert_problem(await _attempt(client, "ann@example.com"), 401, "invalid_credentials")
    assert_problem(await _attempt(client, "ann@example.com"), 429, "too_many_attempts")


async def test_failures_are_counted_per_address_across_accounts(
    database_url: str, redis_url: str, pg_deps: Dependencies
) -> None:
    forget_login_failures(redis_url)
    settings = auth_settings(
        database_url,
        redis_url,
        login_max_failures_per_account=100,
        login_max_failures_per_address=3,
    )
    await make_user(pg_deps, "ann@example.com")
    async with serving(create_app(settings)) as client:
        for email in ("x@example.com", "y@example.com", "z@example.com"):
            assert (await _attempt(client, email)).status_code == 401

        refused = await _attempt(client, "ann@example.com", PASSWORD)

    assert_problem(refused, 429, "too_many_attempts")


async def test_after_the_window_a_correct_sign_in_succeeds(
    database_url: str, redis_url: str, pg_deps: Dependencies
) -> None:
    forget_login_failures(redis_url)
    settings = auth_settings(database_url, redis_url, login_window_s=1)
    await make_user(pg_deps, "ann@example.com")
    async with serving(create_app(settings)) as client:
        for _ in range(5):
            assert (await _attempt(client, "ann@example.com")).status_code == 401
        assert (await _attempt(client, "ann@example.com", PASSWORD)).status_code == 429

        deadline = time.monotonic() + 10
        response = await _attempt(client, "ann@example.com", PASSWORD)
        while response.status_code == 429 and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            response = await _attempt(client, "ann@example.com", PASSWORD)

    assert response.status_code == 200, response.text


async def test_without_redis_sign_in_is_allowed_and_a_warning_logged(
    database_url: str, closed_port: int, pg_deps: Dependencies
) -> None:
    settings = auth_settings(
        database_url, f"redis://127.0.0.1:{closed_port}/0", redis_timeout_s=0.5
    )
    await make_user(pg_deps, "ann@example.com")
    async with serving(create_app(settings)) as client:
        with capture_logs() as logs:
            for _ in range(7):
                assert (await _attempt(client, "ann@example.com")).status_code == 401
            signed = await _attempt(client, "ann@example.com", PASSWORD)

    assert signed.status_code == 200, signed.text
    warnings = [line for line in logs if line["event"] == "login_limiter_unavailable"]
    assert warnings
    assert all(line["log_level"] == "warning" for line in warnings)
