"""In-memory fakes of the webhooks' ports: endpoints, deliveries and the sender."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from orderly_core.testing.platform import InMemoryOutbox
from orderly_core.webhooks.model import Attempt, Delivery, DeliveryState, Endpoint
from orderly_core.webhooks.ports import Claim, Recorded, SendOutcome


class InMemoryEndpoints:
    def __init__(self, rows: dict[uuid.UUID, Endpoint]) -> None:
        self._rows = rows

    async def add(self, endpoint: Endpoint) -> None:
        self._rows[endpoint.id] = endpoint

    async def get(self, endpoint_id: uuid.UUID, *, for_update: bool = False) -> Endpoint | None:  # noqa: ARG002
        return self._rows.get(endpoint_id)

    async def save(self, endpoint: Endpoint) -> None:
        self._rows[endpoint.id] = endpoint

    async def remove(self, endpoint_id: uuid.UUID) -> None:
        self._rows.pop(endpoint_id, None)

    async def all(self) -> list[Endpoint]:
        return sorted(self._rows.values(), key=lambda e: (e.created_at, e.id))

    async def clear_failing(self, endpoint_ids: Sequence[uuid.UUID]) -> None:
        for endpoint_id in endpoint_ids:
            if (found := self._rows.get(endpoint_id)) is not None:
                self._rows[endpoint_id] = replace(found, failing_since=None)


class InMemoryDeliveries:
    def __init__(
        self, rows: dict[uuid.UUID, Delivery], attempts: list[Attempt], outbox: InMemoryOutbox
    ) -> None:
        self._rows = rows
        self._attempts = attempts
        self._outbox = outbox

    async def add(self, delivery: Delivery) -> bool:
        if delivery.id in self._rows:
            return False
        self._rows[delivery.id] = delivery
        return True

    async def get(self, delivery_id: uuid.UUID, *, for_update: bool = False) -> Delivery | None:  # noqa: ARG002
        return self._rows.get(delivery_id)

    async def save(self, delivery: Delivery) -> None:
        self._rows[delivery.id] = delivery

    async def add_attempt(self, attempt: Attempt) -> None:
        self._attempts.append(attempt)

    async def attempts(self, delivery_id: uuid.UUID) -> list[Attempt]:
        return [a for a in self._attempts if a.delivery_id == delivery_id]

    async def of_endpoint(
        self, endpoint_id: uuid.UUID, *, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[Delivery]:
        found = sorted(
            (d for d in self._rows.values() if d.endpoint_id == endpoint_id),
            key=lambda d: (d.created_at, d.id),
            reverse=True,
        )
        if after is not None:
            found = [d for d in found if (d.created_at, d.id) < after]
        return found[:limit]

    async def add_many(self, deliveries: Sequence[Delivery]) -> set[uuid.UUID]:
        return {delivery.id for delivery in deliveries if await self.add(delivery)}

    async def claim_due(self, claim: Claim) -> list[Delivery]:
        due = sorted(
            (
                d
                for d in self._rows.values()
                if d.state is DeliveryState.PENDING
                and d.next_attempt_at is not None
                and d.next_attempt_at <= claim.now
            ),
            key=lambda d: (d.next_attempt_at or d.created_at, d.id),
        )
        taken: list[Delivery] = []
        per_endpoint: Counter[uuid.UUID] = Counter()
        for delivery in due:
            room = claim.rooms.get(delivery.endpoint_id, 0)
            if len(taken) == claim.limit or per_endpoint[delivery.endpoint_id] >= room:
                continue
            per_endpoint[delivery.endpoint_id] += 1
            taken.append(delivery)
            self._rows[delivery.id] = replace(delivery, next_attempt_at=claim.until)
        return taken

    async def record(self, recorded: Sequence[Recorded]) -> list[uuid.UUID]:
        saved = []
        for entry in recorded:
            stored = self._rows.get(entry.delivery.id)
            if (
                stored is None
                or stored.state is not DeliveryState.PENDING
                or stored.attempts != entry.expected_attempts
            ):
                continue
            self._rows[stored.id] = entry.delivery
            if entry.attempt is not None:
                self._attempts.append(entry.attempt)
            saved.append(stored.id)
        return saved

    async def settle_events(self, event_ids: Sequence[uuid.UUID], at: datetime) -> None:
        waiting = {d.event_id for d in self._rows.values() if d.state is DeliveryState.PENDING}
        ended = [event_id for event_id in event_ids if event_id not in waiting]
        await self._outbox.mark_done(ended, at)


@dataclass
class ScriptedSender:
    """A webhook receiver's answers, in order (then 200 for ever), and what it was sent."""

    statuses: list[int | None] = field(default_factory=list)
    sent: list[tuple[str, bytes, dict[str, str]]] = field(default_factory=list)

    async def send(self, url: str, body: bytes, headers: Mapping[str, str]) -> SendOutcome:
        self.sent.append((url, body, dict(headers)))
        status = self.statuses.pop(0) if self.statuses else 200
        if status is None:
            return SendOutcome(None, 5, "connection refused")
        error = None if 200 <= status < 300 else f"HTTP {status}"
        return SendOutcome(status, 5, error)
