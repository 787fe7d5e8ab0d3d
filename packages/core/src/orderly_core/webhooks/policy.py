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
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import SplitResult, urlsplit

from orderly_core.shared.validation import FieldErrors
from orderly_core.webhooks.model import DEFAULT_RETRY_SCHEDULE, DISABLE_AFTER

URL_MAX = 2048

# Hosts a URL may name as digits, that resolvers read as IPv4 (127.1, 2130706433, 0x7f.1).
_NUMERIC_HOST = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+)){0,3}")


# Addresses no webhook is sent to: the entries of IANA's IPv4 Special-Purpose Address Registry
# that are not globally reachable, with multicast and the deprecated 6to4 relay block.
# 192.0.0.0/24 is refused whole: the two anycast addresses in it that the registry marks
# globally reachable (PCP 192.0.0.9, RFC 7723; TURN 192.0.0.10, RFC 8155) are answered by the
# network nearest the sender, that is by the sender's own.
NON_PUBLIC_IPV4: tuple[tuple[str, str], ...] = (
    ("0.0.0.0/8", "this network"),  # RFC 791 §3.2; 0.0.0.0/32 RFC 1122 §3.2.1.3
    ("10.0.0.0/8", "private use"),  # RFC 1918
    ("100.64.0.0/10", "shared address space"),  # RFC 6598
    ("127.0.0.0/8", "loopback"),  # RFC 1122 §3.2.1.3
    ("169.254.0.0/16", "link local, cloud metadata among them"),  # RFC 3927
    ("172.16.0.0/12", "private use"),  # RFC 1918
    ("192.0.0.0/24", "IETF protocol assignments"),  # RFC 6890 §2.1; RFC 7335, 7600, 8880
    ("192.0.2.0/24", "documentation (TEST-NET-1)"),  # RFC 5737
    ("192.88.99.0/24", "6to4 relay anycast, deprecated"),  # RFC 7526; 6a44 relay RFC 6751
    ("192.168.0.0/16", "private use"),  # RFC 1918
    ("198.18.0.0/15", "benchmarking"),  # RFC 2544
    ("198.51.100.0/24", "documentation (TEST-NET-2)"),  # RFC 5737
    ("203.0.113.0/24", "documentation (TEST-NET-3)"),  # RFC 5737
    ("224.0.0.0/4", "multicast"),  # RFC 5771 (IANA IPv4 Multicast Address Space)
    ("240.0.0.0/4", "reserved"),  # RFC 1112 §4
    ("255.255.255.255/32", "limited broadcast"),  # RFC 8190, RFC 919 §7
)

# The same for IANA's IPv6 Special-Purpose Address Registry, with site-local and multicast.
# 2001::/23 is refused whole (its Teredo part is judged by the addresses it carries, below):
# the more specific entries the registry marks globally reachable are anycast services,
# AMT, AS112, ORCHIDv2 and drone identifiers, none of them a webhook receiver.
NON_PUBLIC_IPV6: tuple[tuple[str, str], ...] = (
    ("::/128", "unspecified"),  # RFC 4291 §2.5.2
    ("::1/128", "loopback"),  # RFC 4291 §2.5.3
    ("64:ff9b:1::/48", "IPv4/IPv6 translation, local use"),  # RFC 8215
    ("100::/64", "discard only"),  # RFC 6666
    ("100:0:0:1::/64", "dummy prefix"),  # RFC 9780
    ("2001::/23", "IETF protocol assignments"),  # RFC 2928
    ("2001:2::/48", "benchmarking"),  # RFC 5180
    ("2001:10::/28", "ORCHID, deprecated"),  # RFC 4843
    ("2001:db8::/32", "documentation"),  # RFC 3849
    ("3fff::/20", "documentation"),  # RFC 9637
    ("5f00::/16", "segment routing (SRv6) SIDs"),  # RFC 9602
    ("fc00::/7", "unique local"),  # RFC 4193
    ("fe80::/10", "link-local unicast"),  # RFC 4291 §2.5.6
    ("fec0::/10", "site-local, deprecated"),  # RFC 3879
    ("ff00::/8", "multicast"),  # RFC 4291 §2.7
)

# Only this block of the IPv6 address space is allocated for global unicast (IANA IPv6 Address
# Space; RFC 4291 §2.4): any other IPv6 address, once the forms below are read, is not public.
GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")

_V4_BITS = 0xFFFF_FFFF


def _last_32_bits(address: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, ...]:
    return (ipaddress.IPv4Address(int(address) & _V4_BITS),)


def _sixtofour(address: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, ...]:
    return (ipaddress.IPv4Address((int(address) >> 80) & _V4_BITS),)


def _teredo(address: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, ...]:
    """The Teredo server's address, and the client's, stored with every bit inverted."""
    server = ipaddress.IPv4Address((int(address) >> 64) & _V4_BITS)
    client = ipaddress.IPv4Address(~int(address) & _V4_BITS)
    return (server, client)


# IPv6 forms that carry IPv4 addresses and reach them: such an address is as public as every
# IPv4 address it carries, whatever the registry says of the form itself.
EMBEDDING_IPV4: tuple[
    tuple[str, str, Callable[[ipaddress.IPv6Address], tuple[ipaddress.IPv4Address, ...]]], ...
] = (
    ("::ffff:0:0/96", "IPv4-mapped", _last_32_bits),  # RFC 4291 §2.5.5.2
    ("::/96", "IPv4-compatible, deprecated", _last_32_bits),  # RFC 4291 §2.5.5.1
    ("64:ff9b::/96", "IPv4/IPv6 translation (NAT64)", _last_32_bits),  # RFC 6052 §2.1
    ("2002::/16", "6to4", _sixtofour),  # RFC 3056 §2
    ("2001::/32", "Teredo", _teredo),  # RFC 4380 §4
)

_IPV4 = tuple(ipaddress.IPv4Network(block) for block, _ in NON_PUBLIC_IPV4)
_IPV6 = tuple(ipaddress.IPv6Network(block) for block, _ in NON_PUBLIC_IPV6)
_EMBEDDING = tuple((ipaddress.IPv6Network(block), carried) for block, _, carried in EMBEDDING_IPV4)


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
    """Whether deliveries may go to ``address`` without ``allow_private_addresses``: it is in
    none of the blocks of :data:`NON_PUBLIC_IPV4` / :data:`NON_PUBLIC_IPV6`, an IPv6 address
    is global unicast (``2000::/3``), an IPv6 address carrying IPv4 addresses
    (:data:`EMBEDDING_IPV4`: IPv4-mapped, IPv4-compatible, NAT64, 6to4, Teredo) carries only
    public ones, and the standard library does not know the address as not global either.
    Checked on URLs when endpoints are registered and on resolved addresses when deliveries
    are sent."""
    if isinstance(address, ipaddress.IPv4Address):
        return _is_public_ipv4(address)
    for network, carried in _EMBEDDING:
        if address in network:
            return all(_is_public_ipv4(inner) for inner in carried(address))
    if address not in GLOBAL_UNICAST or any(address in network for network in _IPV6):
        return False
    return address.is_global


def _is_public_ipv4(address: ipaddress.IPv4Address) -> bool:
    return address.is_global and not any(address in network for network in _IPV4)


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
