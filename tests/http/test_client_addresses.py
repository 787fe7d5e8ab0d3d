"""The address the rate limits count: the connection's, a forwarded one only from a trusted
proxy, never text that is no IP address, and IPv6 clients by their /64."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly_core.unit_of_work import Dependencies
from orderly_http.addresses import client_key, forwarded_client, parse_address
from orderly_http.app import create_app
from tests.http.accounts import PASSWORD, TOKEN_URL, auth_settings, forget_login_failures, make_user
from tests.http.helpers import assert_problem, serving

WRONG = "not the password"
PROXIES = (ipaddress.ip_network("10.0.0.0/24"), ipaddress.ip_network("fd00::/8"))


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    address = parse_address(text)
    assert address is not None
    return address


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
        ("::ffff:192.0.2.7", "192.0.2.7"),
        ("[2001:db8::1]", "2001:db8::/64"),
    ],
)
def test_ipv4_clients_are_keyed_by_address_and_ipv6_clients_by_their_64(
    address: str, key: str
) -> None:
    assert client_key(_address(address)) == key


@pytest.mark.parametrize("text", ["abc", "", "192.0.2.7:80", "1.2.3", "unknown", "::g"])
def test_text_that_is_no_ip_address_is_no_address(text: str) -> None:
    assert parse_address(text) is None


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("192.0.2.1", "198.51.100.9", "192.0.2.1"),  # an untrusted peer's header is ignored
        ("10.0.0.5", "198.51.100.9", "198.51.100.9"),
        ("10.0.0.5", "198.51.100.66, 198.51.100.9", "198.51.100.9"),  # the proxy's own entry
        ("10.0.0.5", "198.51.100.9, 10.0.0.7", "198.51.100.9"),  # through two proxies
        ("10.0.0.5", "abc", "10.0.0.5"),  # malformed: the hop that forwarded it
        ("10.0.0.5", "198.51.100.9, abc", "10.0.0.5"),
        ("fd00::1", "2001:db8::9", "2001:db8::9"),
    ],
)
def test_the_forwarded_client_is_read_from_the_right_through_trusted_proxies_only(
    peer: str, forwarded: str, client: str
) -> None:
    assert forwarded_client(_address(peer), forwarded, PROXIES) == _address(client)


def test_trusted_proxies_must_be_addresses_or_networks(database_url: str, redis_url: str) -> None:
    settings = auth_settings(database_url, redis_url, trusted_proxies="10.0.0.5, 10.1.0.0/16")
    assert settings.trusted_proxies == (
        ipaddress.ip_network("10.0.0.5/32"),
        ipaddress.ip_network("10.1.0.0/16"),
    )
    assert auth_settings(database_url, redis_url).trusted_proxies == ()
    with pytest.raises(ValidationError, match="is not an IP address or network"):
        auth_settings(database_url, redis_url, trusted_proxies="proxy.internal")


@asynccontextmanager
async def _from(app: FastAPI, host: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=(host, 40_000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def _attempt(
    client: httpx.AsyncClient, email: str, password: str = WRONG, forwarded: str | None = None
) -> httpx.Response:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    return await client.post(
        TOKEN_URL, data={"username": email, "password": password}, headers=headers
    )


async def test_without_trusted_proxies_a_forwarded_header_from_loopback_changes_nothing(
    database_url: str, redis_url: str, clean_engine: AsyncEngine, pg_deps: Dependencies
) -> None:
    forget_login_failures(redis_url)
    await make_user(pg_deps, "ann@example.com")
    settings = auth_settings(database_url, redis_url, login_max_failures_per_address=3)
    app = create_app(settings)
    async with serving(app), _from(app, "127.0.0.1") as client:
        for n in range(3):
            await _attempt(client, f"x{n}@example.com", forwarded=f"198.51.100.{n}")

        refused = await _attempt(client, "ann@example.com", PASSWORD, forwarded="198.51.100.99")

    assert_problem(refused, 429, "too_many_attempts")


async def test_behind_a_trusted_proxy_each_forwarded_client_is_counted_on_its_own(
    database_url: str, redis_url: str, clean_engine: AsyncEngine, pg_deps: Dependencies
) -> None:
    forget_login_failures(redis_url)
    await make_user(pg_deps, "ann@example.com")
    settings = auth_settings(
        database_url, redis_url, login_max_failures_per_address=3, trusted_proxies="10.0.0.5"
    )
    app = create_app(settings)
    async with serving(app), _from(app, "10.0.0.5") as proxy:
        for _ in range(3):
            await _attempt(proxy, "x@example.com", forwarded="198.51.100.1")
        guesser = await _attempt(proxy, "ann@example.com", PASSWORD, forwarded="198.51.100.1")
        # A client that puts 'abc' in front is still the address the proxy saw.
        spoofing = await _attempt(proxy, "ann@example.com", PASSWORD, forwarded="abc, 198.51.100.1")
        other = await _attempt(proxy, "ann@example.com", PASSWORD, forwarded="198.51.100.2")

    assert_problem(guesser, 429, "too_many_attempts")
    assert_problem(spoofing, 429, "too_many_attempts")
    assert other.status_code == 200, other.text


async def test_addresses_of_one_ipv6_64_share_their_count(
    database_url: str, redis_url: str, clean_engine: AsyncEngine, pg_deps: Dependencies
) -> None:
    forget_login_failures(redis_url)
    await make_user(pg_deps, "ann@example.com")
    settings = auth_settings(database_url, redis_url, login_max_failures_per_address=3)
    app = create_app(settings)
    async with serving(app):
        for n in range(1, 4):
            async with _from(app, f"2001:db8:0:7::{n}") as client:
                await _attempt(client, "x@example.com")
        async with _from(app, "2001:db8:0:7:ffff::1") as same_64:
            refused = await _attempt(same_64, "ann@example.com", PASSWORD)
        async with _from(app, "2001:db8:0:8::1") as next_64:
            allowed = await _attempt(next_64, "ann@example.com", PASSWORD)

    assert_problem(refused, 429, "too_many_attempts")
    assert allowed.status_code == 200, allowed.text
