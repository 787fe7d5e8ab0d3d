"""Who is at the other end of a request, as the rate limits count clients.

The address is the connection's peer. ``X-Forwarded-For`` is read only when that peer is one
of ``TRUSTED_PROXIES`` (none by default, so no header can choose its own limiter key): its
entries are read from the right, skipping trusted proxies, and the first other address is the
client's. An entry that is not an IP address ends the walk at the hop that forwarded it, so a
malformed value never becomes a key. IPv6 clients are counted by their /64 network, the
smallest block an ISP hands a customer, so that a guesser cannot take a fresh key per address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.requests import Request

type Address = ipaddress.IPv4Address | ipaddress.IPv6Address
type Network = ipaddress.IPv4Network | ipaddress.IPv6Network

FORWARDED_FOR = "X-Forwarded-For"
UNKNOWN = "unknown"  # a peer that is no IP address (a Unix socket, a test client)
IPV6_CLIENT_PREFIX = 64


def parse_address(text: str) -> Address | None:
    """An IP address written alone (IPv6 optionally in brackets), else ``None``."""
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def client_key(address: Address) -> str:
    """The limiter key of a client: an IPv4 address, or the /64 an IPv6 address is in."""
    if isinstance(address, ipaddress.IPv4Address):
        return str(address)
    return str(ipaddress.ip_network(f"{address}/{IPV6_CLIENT_PREFIX}", strict=False))


def _trusted(address: Address, proxies: Iterable[Network]) -> bool:
    return any(address.version == net.version and address in net for net in proxies)


def forwarded_client(peer: Address, forwarded_for: str, proxies: tuple[Network, ...]) -> Address:
    """The client behind a chain of trusted proxies ending at ``peer``."""
    client = peer
    for entry in reversed(forwarded_for.split(",")):
        if not _trusted(client, proxies):
            break
        hop = parse_address(entry)
        if hop is None:
            break
        client = hop
    return client


def client_address(request: Request, proxies: tuple[Network, ...]) -> str:
    """The limiter key of the client that sent ``request``."""
    peer = parse_address(request.client.host) if request.client else None
    if peer is None:
        return UNKNOWN
    forwarded = ",".join(request.headers.getlist(FORWARDED_FOR))
    if forwarded and proxies:
        peer = forwarded_client(peer, forwarded, proxies)
    return client_key(peer)
