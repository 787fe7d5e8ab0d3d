"""How Orderly delivers webhooks: who may be sent to, and how often a failure is tried again.

Assembled once per process from settings; production settings refuse plain http and private
addresses, ``orderly dev`` allows both so that a receiver on the developer's machine works.
"""

from __future__ import annotations

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
