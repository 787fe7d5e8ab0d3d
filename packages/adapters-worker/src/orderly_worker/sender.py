"""Sending webhook deliveries over HTTP, with Orderly's limits.

One aiohttp client session per worker process, opened at start-up and closed at shutdown, its
connections kept alive and shared by every attempt (aiohttp's client: its HTTP parser is
compiled, and an attempt costs a fraction of the CPU a pure-Python client needs; see
bench/README.md):

- connect and read timeouts, and a bound on the whole attempt (a receiver that hangs, or
  answers a byte at a time, is a failed attempt, not a stuck worker);
- redirects are never followed (a 3xx is a failed attempt: the endpoint's URL is wrong);
- at most :data:`MAX_RESPONSE_BYTES` of an answer is read (only its status matters);
- the guard against server-side request forgery: the endpoint's host is resolved and the
  delivery is refused when any of its addresses is not a public one (the rule of
  :func:`~orderly_core.webhooks.policy.is_public_address`: loopback, private, link-local such
  as the cloud metadata address 169.254.169.254, shared, documentation, reserved, multicast,
  and IPv6 forms carrying such an IPv4 address), and plain ``http://`` is refused, unless the
  policy allows them (``orderly dev`` does, for a receiver on the developer's machine). The
  check is made by the client's own resolver, on the very addresses it then connects to, so a
  DNS answer that changes between a check and the connection cannot slip through;
- an attempt's error, shown to administrators, never names an address the host resolved to:
  a refusal says only that the host resolves to a non-public address, and addresses in a
  transport error's text (other than the URL's own host) are replaced by ``<address>``.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import time
from collections.abc import Mapping
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

from orderly_core.webhooks.policy import WebhookPolicy, is_public_address
from orderly_core.webhooks.ports import SendOutcome

CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 10.0
MAX_RESPONSE_BYTES = 64 * 1024
NON_PUBLIC = "refused: the host resolves to a non-public address"
DNS_CACHE_S = 10  # a host's checked addresses are reused this long

# Runs of characters an IPv4 or IPv6 address is written with (a scope such as %eth0 included).
_ADDRESS_LIKE = re.compile(r"[0-9A-Fa-f:.]*[:.][0-9A-Fa-f:.]*(?:%[\w.-]+)?")


class RefusedAddress(OSError):  # noqa: N818 - the reason a delivery is not sent
    """The reason a delivery is not sent: its scheme, or where its host resolves to."""


class PublicOnlyResolver(AbstractResolver):
    """The system's resolver, refusing a host when any of its addresses is not public."""

    def __init__(self) -> None:
        self._resolver = ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        try:
            found = await self._resolver.resolve(host, port, family)
        except OSError as error:
            raise RefusedAddress(f"cannot resolve {host}: {error}") from None
        for entry in found:
            if not is_public_address(ipaddress.ip_address(entry["host"])):
                raise RefusedAddress(NON_PUBLIC)
        return found

    async def close(self) -> None:
        await self._resolver.close()


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


class HttpSender:
    def __init__(
        self,
        policy: WebhookPolicy,
        *,
        timeout_s: float = READ_TIMEOUT_S,
        connections: int = 100,
    ) -> None:
        self._policy = policy
        self._timeout = aiohttp.ClientTimeout(
            total=longest_attempt(timeout_s),
            connect=min(CONNECT_TIMEOUT_S, timeout_s),
            sock_read=timeout_s,
        )
        self._connections = connections
        self._session: aiohttp.ClientSession | None = None

    def _opened(self) -> aiohttp.ClientSession:
        """The session, opened on first use (it belongs to the running event loop)."""
        if self._session is None:
            resolver: AbstractResolver = (
                ThreadedResolver() if self._policy.allow_private_addresses else PublicOnlyResolver()
            )
            connector = aiohttp.TCPConnector(
                limit=self._connections,
                resolver=resolver,
                ttl_dns_cache=DNS_CACHE_S,
                enable_cleanup_closed=True,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=self._timeout,
                trust_env=False,
                auto_decompress=False,
                skip_auto_headers=("Accept-Encoding",),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def send(self, url: str, body: bytes, headers: Mapping[str, str]) -> SendOutcome:
        started = time.perf_counter()

        def elapsed() -> int:
            return round((time.perf_counter() - started) * 1000)

        try:
            status = await self._post(url, body, headers)
        except RefusedAddress as error:
            return SendOutcome(None, elapsed(), str(error))
        except aiohttp.ClientConnectorError as error:
            if isinstance(error.os_error, RefusedAddress):
                return SendOutcome(None, elapsed(), str(error.os_error))
            return SendOutcome(None, elapsed(), _shown(error, url))
        except (TimeoutError, aiohttp.ServerTimeoutError) as error:
            return SendOutcome(None, elapsed(), f"timed out ({_timed_out(error)})")
        except (aiohttp.ClientError, OSError) as error:
            return SendOutcome(None, elapsed(), _shown(error, url))
        error_text = None if 200 <= status < 300 else f"HTTP {status}"
        return SendOutcome(status, elapsed(), error_text)

    async def _post(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        scheme = urlsplit(url).scheme
        if scheme != "https" and not (scheme == "http" and self._policy.allow_http):
            raise RefusedAddress(f"refused: {scheme}:// is not allowed")
        session = self._opened()
        async with session.post(url, data=body, headers=headers, allow_redirects=False) as r:
            read = 0
            while read < MAX_RESPONSE_BYTES and (chunk := await r.content.readany()):
                read += len(chunk)
            return r.status


def _timed_out(error: BaseException) -> str:
    if isinstance(error, aiohttp.ConnectionTimeoutError):
        return "ConnectTimeout"
    if isinstance(error, aiohttp.SocketTimeoutError):
        return "ReadTimeout"
    return "the answer took too long"


def _shown(error: BaseException, url: str) -> str:
    text = without_addresses(f"{type(error).__name__}: {error}", _host(url))
    return text[:500]
