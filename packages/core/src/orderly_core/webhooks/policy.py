"""How Orderly delivers webhooks: who may be sent to, and how often a failure is tried again.

Who may be sent to is decided here, twice: on an endpoint's URL when it is registered or
changed (:func:`url_problem`, naming why a URL is refused), and on every resolved address
when a delivery is sent (:func:`is_public_address`). The policy is assembled once per
process from settings; production settings refuse plain http and private addresses,
``orderly dev`` allows both so that a receiver on the developer's machine works.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import SplitResult, urlsplit

from orderly_core.shared.validation import FieldErrors
from orderly_core.webhooks.model import DEFAULT_RETRY_SCHEDULE, DISABLE_AFTER

URL_MAX = 2048

# Hosts a URL may name as digits, that resolvers read as IPv4 (127.1, 2130706433, 0x7f.1).
_NUMERIC_HOST = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+)){0,3}")


@dataclass(frozen=True, slots=True)
class WebhookPolicy:
    allow_http: bool = False  # plain http:// endpoints (local development only)
    allow_private_addresses: bool = False  # loopback, private, link-local, metadata addresses
    retry_schedule: tuple[timedelta, ...] = field(default=DEFAULT_RETRY_SCHEDULE)
    disable_after: timedelta = DISABLE_AFTER  # failing without a success this long: disabled
    secret_overlap: timedelta = timedelta(hours=24)  # a rotated secret keeps signing this long

    @property
    def max_attempts(self) -> int:
        return len(self.retry_schedule) + 1


def is_public_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether deliveries may go to ``address`` without ``allow_private_addresses``: not
    loopback, private, shared, link-local (the cloud metadata address 169.254.169.254 among
    them), reserved, multicast or unspecified, also when written as an IPv4-mapped IPv6
    address. Checked on URLs when endpoints are registered and on resolved addresses when
    deliveries are sent."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    special = (
        address.is_loopback,
        address.is_private,
        address.is_link_local,
        address.is_reserved,
        address.is_multicast,
        address.is_unspecified,
    )
    return address.is_global and not any(special)


def ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address ``host`` spells, in any form a resolver reads without asking DNS."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _NUMERIC_HOST.fullmatch(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def is_private_host(host: str) -> bool:
    """``localhost`` (and names under it), or a literal address that is not public."""
    name = host.rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    address = ip_literal(name)
    return address is not None and not is_public_address(address)


def url_problem(url: str, policy: WebhookPolicy) -> str | None:
    """Why ``url`` cannot receive webhooks, or ``None``."""
    if not url:
        return "is required"
    if len(url) > URL_MAX:
        return f"must be at most {URL_MAX} characters"
    if any(c.isspace() or not c.isprintable() for c in url):
        return "must not contain spaces or control characters"
    if "#" in url:
        return "must not have a fragment (#...)"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port out of range
    except ValueError:
        return "is not a valid URL"
    return target_problem(parts, policy)


def target_problem(parts: SplitResult, policy: WebhookPolicy) -> str | None:
    """Why the scheme, credentials or host of a URL are refused, or ``None``."""
    schemes = ("https", "http") if policy.allow_http else ("https",)
    if parts.scheme.lower() not in schemes:
        if policy.allow_http:
            return "must be an absolute https:// or http:// URL"
        return "must be an absolute https:// URL (plain http is not allowed)"
    if not parts.hostname:
        return "must name a host"
    if parts.username is not None or parts.password is not None:
        return "must not carry a user name or password"
    if not policy.allow_private_addresses and is_private_host(parts.hostname):
        return (
            "must not name localhost or an address that is not public (loopback, private, "
            "link-local, shared, reserved, multicast, unspecified)"
        )
    return None


def checked_url(fields: FieldErrors, url: str, policy: WebhookPolicy) -> str:
    """``url`` without surrounding spaces; why it cannot receive webhooks, if it cannot, is
    added to ``fields`` as the ``url`` field's error."""
    url = url.strip()
    if (problem := url_problem(url, policy)) is not None:
        fields.fail("url", problem)
    return url
