"""In-memory fakes of the platform's ports: the audit trail, the outbox, idempotency
records, the clock and ids."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from orderly_core.platform.audit import AuditEntry, AuditQuery
from orderly_core.platform.idempotency import KeyScope, StoredOutcome
from orderly_core.platform.outbox import Event, EventType


class InMemoryAudit:
    def __init__(self, rows: list[AuditEntry]) -> None:
        self._rows = rows

    async def append(self, entry: AuditEntry) -> None:
        self._rows.append(entry)

    async def list(
        self, *, after: tuple[datetime, uuid.UUID] | None, limit: int, query: AuditQuery
    ) -> list[AuditEntry]:
        newest_first = sorted(self._rows, key=lambda e: (e.at, e.id), reverse=True)
        return [
            e
            for e in newest_first
            if (after is None or (e.at, e.id) < after)
            and query.target_type in (None, e.target_type)
            and query.target_id in (None, e.target_id)
            and query.actor_id in (None, e.actor_id)
            and query.operation in (None, e.operation)
            and (query.since is None or e.at >= query.since)
            and (query.until is None or e.at < query.until)
        ][:limit]


class InMemoryOutbox:
    """Events in the order they were added; ``dispatched`` holds the ids handed on, ``done``
    those whose every delivery has ended."""

    def __init__(self, rows: list[Event], dispatched: set[uuid.UUID], done: set[uuid.UUID]) -> None:
        self._rows = rows
        self._dispatched = dispatched
        self._done = done

    async def add(self, event: Event) -> None:
        self._rows.append(event)

    async def claim(self, limit: int) -> list[Event]:
        return [event for event in self._rows if event.id not in self._dispatched][:limit]

    async def mark_dispatched(self, event_ids: Sequence[uuid.UUID], at: datetime) -> None:  # noqa: ARG002
        self._dispatched.update(event_ids)

    async def mark_done(self, event_ids: Sequence[uuid.UUID], at: datetime) -> None:  # noqa: ARG002
        self._dispatched.update(event_ids)
        self._done.update(event_ids)

    async def get(self, event_id: uuid.UUID) -> Event | None:
        return next((event for event in self._rows if event.id == event_id), None)

    async def get_many(self, event_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Event]:
        wanted = set(event_ids)
        return {event.id: event for event in self._rows if event.id in wanted}

    async def between(
        self, types: Sequence[EventType], since: datetime, until: datetime, limit: int
    ) -> list[Event]:
        found = [e for e in self._rows if e.type in types and since <= e.created_at < until]
        return found[:limit]


class InMemoryIdempotency:
    """Keys are held like PostgreSQL's transaction-level advisory locks: ``held`` are this
    unit of work's, ``held_anywhere`` every open unit of work's."""

    def __init__(
        self,
        rows: dict[KeyScope, StoredOutcome],
        held: set[KeyScope],
        held_anywhere: set[KeyScope],
    ) -> None:
        self._rows = rows
        self._held = held
        self._held_anywhere = held_anywhere

    async def claim(self, scope: KeyScope) -> bool:
        if scope in self._held:
            return True
        if scope in self._held_anywhere:
            return False
        self._held_anywhere.add(scope)
        self._held.add(scope)
        return True

    async def find(self, scope: KeyScope, now: datetime) -> StoredOutcome | None:
        stored = self._rows.get(scope)
        return stored if stored is not None and stored.expires_at > now else None

    async def store(self, scope: KeyScope, outcome: StoredOutcome) -> None:
        self._rows[scope] = outcome

    async def purge(self, now: datetime, limit: int) -> int:
        expired = [scope for scope, kept in self._rows.items() if kept.expires_at <= now]
        for scope in expired[:limit]:
            del self._rows[scope]
        return len(expired[:limit])


class FixedClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2030, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta


class SequentialIds:
    def __init__(self) -> None:
        self._next = 0

    def new_id(self) -> uuid.UUID:
        self._next += 1
        return uuid.UUID(int=self._next)
