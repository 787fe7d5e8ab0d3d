"""Webhook endpoints, their deliveries and each attempt of a delivery, as frozen values.

An endpoint receives the events of the types it asked for. Each (event, endpoint) pair is a
delivery, tried until the endpoint answers 2xx or the retry schedule runs out (the delivery is
then dead: a dead letter, visible and redeliverable). Every try is an attempt, kept with its
status code, latency and error.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from orderly_core.platform.outbox import EventType

# When to try again after each failed attempt; after the last, the delivery is dead.
DEFAULT_RETRY_SCHEDULE: tuple[timedelta, ...] = (
    timedelta(seconds=10),
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=8),
)
DISABLE_AFTER = timedelta(hours=24)  # an endpoint failing without a break this long is disabled


@dataclass(frozen=True, slots=True)
class Endpoint:
    id: uuid.UUID
    url: str
    event_types: tuple[EventType, ...]
    secret: str  # whsec_...: signs every delivery
    active: bool
    version: int
    created_at: datetime
    updated_at: datetime
    previous_secret: str | None = None  # after a rotation, still signs until...
    previous_secret_until: datetime | None = None
    failing_since: datetime | None = None  # the first failure since the last success
    disabled_reason: str | None = None

    def signing_secrets(self, now: datetime) -> tuple[str, ...]:
        """The secrets that sign a delivery sent at ``now``: the current one, and during the
        overlap after a rotation the previous one too."""
        if self.previous_secret and self.previous_secret_until and now < self.previous_secret_until:
            return (self.secret, self.previous_secret)
        return (self.secret,)

    def wants(self, event_type: EventType) -> bool:
        return self.active and event_type in self.event_types


class DeliveryState(enum.StrEnum):
    PENDING = "pending"  # waiting for its next attempt
    DELIVERED = "delivered"  # the endpoint answered 2xx
    DEAD = "dead"  # every attempt failed (or the endpoint was removed): a dead letter


@dataclass(frozen=True, slots=True)
class Delivery:
    id: uuid.UUID
    endpoint_id: uuid.UUID
    event_id: uuid.UUID
    event_type: EventType
    state: DeliveryState
    attempts: int
    next_attempt_at: datetime | None
    created_at: datetime
    updated_at: datetime
    last_status: int | None = None
    last_error: str | None = None
    delivered_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Attempt:
    delivery_id: uuid.UUID
    number: int  # 1 for the first try
    at: datetime
    latency_ms: int
    status: int | None  # None when no answer came (refused, timed out, blocked address)
    error: str | None  # why it failed; None for a 2xx

    @property
    def succeeded(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def endpoint_view(endpoint: Endpoint) -> dict[str, Any]:
    """The public representation of an endpoint; the secret is never part of it."""
    return {
        "id": str(endpoint.id),
        "url": endpoint.url,
        "event_types": [t.value for t in endpoint.event_types],
        "active": endpoint.active,
        "disabled_reason": endpoint.disabled_reason,
        "failing_since": _utc(endpoint.failing_since),
        "secret_rotating_until": _utc(endpoint.previous_secret_until),
        "version": endpoint.version,
        "created_at": _utc(endpoint.created_at),
        "updated_at": _utc(endpoint.updated_at),
    }


def delivery_view(delivery: Delivery) -> dict[str, Any]:
    return {
        "id": str(delivery.id),
        "endpoint_id": str(delivery.endpoint_id),
        "event_id": str(delivery.event_id),
        "event_type": delivery.event_type.value,
        "state": delivery.state.value,
        "attempts": delivery.attempts,
        "next_attempt_at": _utc(delivery.next_attempt_at),
        "last_status": delivery.last_status,
        "last_error": delivery.last_error,
        "delivered_at": _utc(delivery.delivered_at),
        "created_at": _utc(delivery.created_at),
        "updated_at": _utc(delivery.updated_at),
    }


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(UTC)
