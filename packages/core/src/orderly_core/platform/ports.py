"""The ports every context builds on: a clock, an id source, and the least a unit of work and
the services around it must offer.

Each context declares the unit of work it needs (its repositories, as properties) by extending
:class:`Transactional`, and the services it needs by extending :class:`Services`; the unit of
work that composes every context's repositories (:mod:`orderly_core.unit_of_work`) satisfies
them all. So a context names only what it uses, and nothing here knows any context.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Protocol, Self

from orderly_core.shared.context import Actor, Claims


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware."""
        ...


class IdGenerator(Protocol):
    def new_id(self) -> uuid.UUID: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class RandomIds:
    def new_id(self) -> uuid.UUID:
        return uuid.uuid4()


class Transactional(Protocol):
    """One database transaction, opened on entry.

    Leaving the block without :meth:`commit` rolls back, whether by return or by exception.
    Repositories hang off the unit of work and never commit on their own.
    """

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...

    async def claims_actor(self, claims: Claims) -> Actor | None:
        """The actor the account of ``claims`` makes now (its role read from the account),
        or ``None`` when the account is gone or deactivated or refuses tokens issued when
        this one was (a sign-out, a password change, a deactivation since)."""
        ...


class Services[U](Protocol):
    """What every use case may reach outside itself: units of work of the kind ``U``, the
    clock, the id source, and how long an idempotency key's outcome is kept."""

    @property
    def unit_of_work(self) -> Callable[[], U]: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def ids(self) -> IdGenerator: ...

    @property
    def idempotency_ttl(self) -> timedelta: ...
