"""Sending webhook deliveries over HTTP, with Orderly's limits.

One ``httpx.AsyncClient`` per worker process, opened at start-up and closed at shutdown, its
connections kept alive and shared by every attempt:

- connect and read timeouts (a receiver that hangs is a failed attempt, not a stuck worker);
- redirects are never followed (a 3xx is a failed attempt: the endpoint's URL is wrong);
- at most :data:`MAX_RESPONSE_BYTES` of an answer is read (only its status matters);
- the guard against server-side request forgery: the endpoint's host is resolved and the
  delivery is refused when any of its addresses is not a public one (the rule of
  :func:`~orderly_core.webhooks.policy.is_public_address`: loopback, private, link-local such
  as the cloud metadata address 169.254.169.254, shared, documentation, reserved, multicast,
  and IPv6 forms carrying such an IPv4 address), and plain ``http://`` is refused, unless the
  policy allows them (``orderly dev`` does, for a receiver on the developer's machine). The
  client then connects by name, so a DNS answer that changes between the check and the
  connection is not caught: run receivers' DNS you trust, or an egress proxy, where that
  matters;
- an attempt's error, shown to administrators, never names an address the host resolved to:
  a refusal says only that the host resolves to a non-public address, and addresses in a
  transport error's text (other than the URL's own host) are replaced by ``<address>``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import time
from collections.abc import Mapping
from urllib.parse import urlsplit

import httpx

from orderly_core.webhooks.policy import WebhookPolicy, is_public_address
from orderly_core.webhooks.ports import SendOutcome

CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 10.0
MAX_RESPONSE_BYTES = 64 * 1024
NON_PUBLIC = "refused: the host resolves to a non-public address"

# Runs of characters an IPv4 or IPv6 address is written with (a scope such as %eth0 included).
_ADDRESS_LIKE = re.compile(r"[0-9A-Fa-f:.]*[:.][0-9A-Fa-f:.]*(?:%[\w.-]+)?")


class RefusedAddress(Exception):  # noqa: N818 - the reason a delivery is not sent
    pass


async def _check_destination(url: str, policy: WebhookPolicy) -> None:
    parts = urlsplit(url)
    if parts.scheme != "https" and not (parts.scheme == "http" and policy.allow_http):
        raise RefusedAddress(f"refused: {parts.scheme}:// is not allowed")
    if policy.allow_private_addresses:
        return
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as error:
        raise RefusedAddress(f"cannot resolve {host}: {error}") from None
    for *_, address in found:
        ip = ipaddress.ip_address(address[0])
        if not is_public_address(ip):
            raise RefusedAddress(NON_PUBLIC)


def without_addresses(text: str, host: str) -> str:
    """``text`` with every IP address in it but ``host`` itself replaced by ``<address>``:
    what a name resolved to is not told to whoever reads the attempt's error."""

    def hidden(found: re.Match[str]) -> str:
        written = found.group().rstrip(".")  # a sentence's full stop is not the address's
        try:
            ipaddress.ip_address(written)
        except ValueError:
            return found.group()
        if written == host:
            return found.group()
        return found.group().replace(written, "<address>")

    return _ADDRESS_LIKE.sub(hidden, text)


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def longest_attempt(timeout_s: float) -> float:
    """The longest an attempt with a read timeout of ``timeout_s`` may last: connecting, then
    waiting for the answer (and, for a receiver that trickles it, reading it)."""
    return min(CONNECT_TIMEOUT_S, timeout_s) + 2 * timeout_s


class HttpxSender:
    def __init__(
        self,
        policy: WebhookPolicy,
        client: httpx.AsyncClient | None = None,
        *,
        timeout_s: float = READ_TIMEOUT_S,
        connections: int = 100,
    ) -> None:
        self._policy = policy
        self._longest_s = longest_attempt(timeout_s)
        self._client = client or httpx.AsyncClient(
            follow_redirects=False,
            timeout=httpx.Timeout(timeout_s, connect=min(CONNECT_TIMEOUT_S, timeout_s)),
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
            trust_env=False,
        )

    async def close(self) -> None:
        await self._client.aclose()

    async def send(self, url: str, body: bytes, headers: Mapping[str, str]) -> SendOutcome:
        started = time.perf_counter()

        def elapsed() -> int:
            return round((time.perf_counter() - started) * 1000)

        try:
            async with asyncio.timeout(self._longest_s):
                status = await self._post(url, body, headers)
        except RefusedAddress as error:
            return SendOutcome(None, elapsed(), str(error))
        except httpx.TimeoutException as error:
            return SendOutcome(None, elapsed(), f"timed out ({type(error).__name__})")
        except TimeoutError:
            return SendOutcome(None, elapsed(), "timed out (the answer took too long)")
        except httpx.HTTPError as error:
            text = without_addresses(f"{type(error).__name__}: {error}", _host(url))
            return SendOutcome(None, elapsed(), text[:500])
        error_text = None if 200 <= status < 300 else f"HTTP {status}"
        return SendOutcome(status, elapsed(), error_text)

    async def _post(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        await _check_destination(url, self._policy)
        async with self._client.stream("POST", url, content=body, headers=dict(headers)) as r:
            read = 0
            async for chunk in r.aiter_raw():
                read += len(chunk)
                if read >= MAX_RESPONSE_BYTES:
                    break
            return r.status_code
