"""What webhooks need from storage."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from orderly_core.mail.model import MailPolicy
from orderly_core.mail.ports import MailUnit
from orderly_core.platform.ports import Services
from orderly_core.webhooks.model import Attempt, Delivery, Endpoint
from orderly_core.webhooks.policy import WebhookPolicy


@dataclass(frozen=True, slots=True)
class Claim:
    """Which due deliveries a worker takes, and until when it holds them."""

    now: datetime  # due by then
    until: datetime  # the lease: no other worker takes them before
    limit: int  # at most this many in all
    rooms: Mapping[uuid.UUID, int]  # only of these endpoints, at most this many of each


@dataclass(frozen=True, slots=True)
class Recorded:
    """A delivery as an attempt left it, and the attempt (``None``: it ended unsent)."""

    delivery: Delivery
    attempt: Attempt | None
    expected_attempts: int  # its attempts when claimed: saved only if still so


class EndpointRepository(Protocol):
    async def add(self, endpoint: Endpoint) -> None: ...

    async def get(self, endpoint_id: uuid.UUID, *, for_update: bool = False) -> Endpoint | None: ...

    async def save(self, endpoint: Endpoint) -> None: ...

    async def remove(self, endpoint_id: uuid.UUID) -> None: ...

    async def all(self) -> list[Endpoint]:
        """Every endpoint, oldest first (a shop has a handful)."""
        ...

    async def clear_failing(self, endpoint_ids: Sequence[uuid.UUID]) -> None:
        """End the failing streak of these endpoints (they answered)."""
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

    async def add_many(self, deliveries: Sequence[Delivery]) -> set[uuid.UUID]:
        """Store new deliveries; one whose id exists is left as it is. The ids stored."""
        ...

    async def claim_due(self, claim: Claim) -> list[Delivery]:
        """Lease the deliveries ``claim`` describes: each endpoint's soonest due, up to its
        room (rows another transaction holds are skipped). Their next attempt moves to
        ``claim.until``. The leased deliveries."""
        ...

    async def record(self, recorded: Sequence[Recorded]) -> list[uuid.UUID]:
        """Save each delivery and add its attempt, where the stored delivery is still pending
        with ``expected_attempts`` attempts; the ids of those saved."""
        ...

    async def settle_events(self, event_ids: Sequence[uuid.UUID], at: datetime) -> None:
        """Mark done those of these events that no delivery waits for any more."""
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


class WebhooksUnit(MailUnit, Protocol):
    """The relay hands each event on to webhooks and to mail in one transaction, so this unit
    of work holds mail's repository too."""

    @property
    def endpoints(self) -> EndpointRepository: ...

    @property
    def deliveries(self) -> DeliveryRepository: ...


class WebhooksServices(Services[WebhooksUnit], Protocol):
    @property
    def webhooks(self) -> WebhookPolicy:
        """Where webhooks may be sent, and their retry schedule."""
        ...

    @property
    def mail(self) -> MailPolicy:
        """Which events the relay turns into emails."""
        ...
