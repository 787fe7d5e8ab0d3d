"""How Orderly delivers webhooks: who may be sent to, and how often a failure is tried again.

Assembled once per process from settings; production settings refuse plain http and private
addresses, ``orderly dev`` allows both so that a receiver on the developer's machine works.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import timedelta

from orderly_core.webhooks.model import DEFAULT_RETRY_SCHEDULE, DISABLE_AFTER


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
