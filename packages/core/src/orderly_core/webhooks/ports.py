"""What webhooks need from storage."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from orderly_core.platform.ports import Services
from orderly_core.platform.unit import PlatformUnit
from orderly_core.webhooks.model import Attempt, Delivery, Endpoint
from orderly_core.webhooks.policy import WebhookPolicy


class EndpointRepository(Protocol):
    async def add(self, endpoint: Endpoint) -> None: ...

    async def get(self, endpoint_id: uuid.UUID, *, for_update: bool = False) -> Endpoint | None: ...

    async def save(self, endpoint: Endpoint) -> None: ...

    async def remove(self, endpoint_id: uuid.UUID) -> None: ...

    async def all(self) -> list[Endpoint]:
        """Every endpoint, oldest first (a shop has a handful)."""
        ...


class DeliveryRepository(Protocol):
    async def add(self, delivery: Delivery) -> bool:
        """Store a new delivery; ``False`` (and nothing changes) when its id exists."""
        ...

    async def get(self, delivery_id: uuid.UUID, *, for_update: bool = False) -> Delivery | None: ...

    async def save(self, delivery: Delivery) -> None: ...

    async def add_attempt(self, attempt: Attempt) -> None: ...

    async def attempts(self, delivery_id: uuid.UUID) -> list[Attempt]:
        """The delivery's attempts, first first."""
        ...

    async def of_endpoint(
        self, endpoint_id: uuid.UUID, *, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[Delivery]:
        """The endpoint's deliveries newest first, after the (created_at, id) position."""
        ...

    async def pending_for_event(self, event_id: uuid.UUID) -> int:
        """How many deliveries of the event are still pending."""
        ...

    async def mark_queued(self, delivery_ids: Sequence[uuid.UUID], at: datetime) -> None:
        """Note that the next attempts of these (pending) deliveries were queued at ``at``."""
        ...

    async def unqueued(self, now: datetime, limit: int) -> list[Delivery]:
        """Pending deliveries due by ``now`` that were never handed to the queue (made by a
        redelivery or a replay), oldest first."""
        ...

    async def overdue(self, before: datetime, limit: int) -> list[Delivery]:
        """Pending deliveries whose next attempt was due before ``before``, oldest first:
        their queued job was lost (Redis restarted empty, a worker died)."""
        ...


@dataclass(frozen=True, slots=True)
class SendOutcome:
    """What came of one POST to an endpoint."""

    status: int | None  # None when no answer came
    latency_ms: int
    error: str | None = None  # why it failed: a network error, a timeout, a refused address


class WebhookSender(Protocol):
    """Sends one signed delivery (an HTTP client with Orderly's limits, in the worker)."""

    async def send(self, url: str, body: bytes, headers: Mapping[str, str]) -> SendOutcome: ...


class WebhooksUnit(PlatformUnit, Protocol):
    @property
    def endpoints(self) -> EndpointRepository: ...

    @property
    def deliveries(self) -> DeliveryRepository: ...


class WebhooksServices(Services[WebhooksUnit], Protocol):
    @property
    def webhooks(self) -> WebhookPolicy:
        """Where webhooks may be sent, and their retry schedule."""
        ...
