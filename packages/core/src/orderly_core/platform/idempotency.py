"""Idempotency keys: a retried write never happens twice.

The rule follows the IETF httpapi draft "The Idempotency-Key HTTP Header Field" and Stripe's
practice, for every adapter alike (an HTTP header, the CLI's ``--idempotency-key``, a job's
own id):

- A key belongs to one actor and one operation (:class:`KeyScope`); two customers' keys never
  meet.
- The request's payload is fingerprinted. The first request to complete stores its outcome,
  success or domain failure, in the same transaction as its effects; a retry with the same key
  and payload gets that outcome again, wrapped in :class:`Replayed`.
- The same key with another payload is :class:`KeyReused`; a retry while the first request is
  still running is :class:`RequestInFlight`.
- Input that fails validation, or an actor who may not act, is answered without storing
  anything: the client may correct the request and retry with the same key.
- A dry run never reads or stores a record.
- Records expire after ``Dependencies.idempotency_ttl`` (24 hours by default); an expired key
  names a new request, and :func:`purge_expired_keys` deletes the old records.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, ClassVar, Protocol, cast

from cattrs.preconf.json import make_converter
from returns.pipeline import is_successful
from returns.result import Failure, Result, Success

from orderly_core.shared.context import Actor, Context
from orderly_core.shared.errors import VersionConflict

RETRY_AFTER_SECONDS = 1  # how soon a client should retry a request that is still in flight

_converter = make_converter()
_converter.register_unstructure_hook(uuid.UUID, str)
_converter.register_structure_hook(uuid.UUID, lambda value, _: uuid.UUID(value))


@dataclass(frozen=True, slots=True)
class KeyScope:
    """Whose key, for which operation: a key is unique only within its scope."""

    actor: str  # "<kind>:<id>", such as "user:0b5e...", "operator:alice", "system:worker"
    operation: str  # such as "order.place"
    key: str

    @classmethod
    def of(cls, actor: Actor, operation: str, key: str) -> KeyScope:
        return cls(f"{actor.kind.value}:{actor.id}", operation, key)


@dataclass(frozen=True, slots=True)
class StoredOutcome:
    """The outcome of the first request with a key, as kept for its retries."""

    fingerprint: str  # SHA-256 of the canonical JSON of the payload
    succeeded: bool
    kind: str  # the name of the value's or the error's type
    document: dict[str, Any]  # the value or error as JSON
    request_id: str
    created_at: datetime
    expires_at: datetime


class IdempotencyRecords(Protocol):
    """The stored outcomes, inside a unit of work (one PostgreSQL table)."""

    async def claim(self, scope: KeyScope) -> bool:
        """Hold ``scope`` until this transaction ends; ``False`` when another transaction
        holds it (the first request is still running). Never waits."""
        ...

    async def find(self, scope: KeyScope, now: datetime) -> StoredOutcome | None:
        """The stored outcome of ``scope``, unless it expired before ``now``."""
        ...

    async def store(self, scope: KeyScope, outcome: StoredOutcome) -> None:
        """Keep ``outcome`` for ``scope``, replacing an expired record of the same scope."""
        ...

    async def purge(self, now: datetime, limit: int) -> int:
        """Delete up to ``limit`` records expired before ``now``; the number deleted."""
        ...


@dataclass(frozen=True, slots=True)
class Replayed[T]:
    """What the first request with this idempotency key answered, answered again."""

    original: T
    request_id: str = field(default="", compare=False)  # the first request's


def without_replay[T](value: T | Replayed[T]) -> tuple[T, bool]:
    """The value itself, and whether it is the stored answer of an earlier request."""
    if isinstance(value, Replayed):
        return cast("T", value.original), True
    return value, False


@dataclass(frozen=True, slots=True)
class KeyReused:
    """The key already named a different request of the same actor and operation."""

    key: str
    operation: str
    code: ClassVar[str] = "idempotency_key_reused"

    @property
    def detail(self) -> str:
        return (
            f"Idempotency key '{self.key}' was already used for a different {self.operation} "
            "request; use a new key for a new request."
        )


@dataclass(frozen=True, slots=True)
class RequestInFlight:
    """The first request with this key is still running; retry shortly."""

    key: str
    retry_after: int = RETRY_AFTER_SECONDS
    code: ClassVar[str] = "request_in_flight"

    @property
    def detail(self) -> str:
        return (
            f"A request with idempotency key '{self.key}' is still being processed; retry "
            f"in {self.retry_after} s to get its outcome."
        )


type IdempotencyError = KeyReused | RequestInFlight

type Idempotent[T, E] = Result[T | Replayed[T], E | Replayed[E] | IdempotencyError]
"""What an idempotent use case answers: its own outcome, or the replay of the first one."""


@dataclass(frozen=True, slots=True)
class Operation[T]:
    """An idempotent write: its name, its payload, and how to store its outcome.

    ``replayable`` names the domain failures that are outcomes to keep (out of stock, an
    illegal transition...). Any other failure, such as invalid input or a refused actor, is
    answered without being kept.
    """

    name: str
    payload: object  # a dataclass (or JSON-like value) describing the whole request
    value_type: type[T]
    replayable: tuple[type, ...] = ()


def fingerprint(payload: object) -> str:
    """SHA-256 of the payload's canonical JSON (sorted keys, no spaces)."""
    canonical = json.dumps(
        _converter.unstructure(payload), sort_keys=True, separators=(",", ":"), default=str
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def stored_outcome[T](
    ctx: Context, operation: Operation[T], result: Result[T, Any], now: datetime, ttl: timedelta
) -> StoredOutcome:
    """The record of ``result``, the outcome of ``operation`` under ``ctx``."""
    succeeded = is_successful(result)
    value = result.unwrap() if succeeded else result.failure()
    return StoredOutcome(
        fingerprint=fingerprint(operation.payload),
        succeeded=succeeded,
        kind=type(value).__name__,
        document=_converter.unstructure(value),
        request_id=ctx.request_id,
        created_at=now,
        expires_at=now + ttl,
    )


def is_kept(operation: Operation[Any], result: Result[Any, Any]) -> bool:
    """Whether ``result`` is an outcome to store: a success or a replayable failure."""
    return is_successful(result) or isinstance(result.failure(), operation.replayable)


# Refusals stored before the contexts' version conflicts became one error that names its
# target, by their old type's name: the member that held the record's id, and the target
# type it names now. Such a record is read for as long as its key lives (a day).
_LEGACY_CONFLICTS = {
    "VersionConflict": ("sku", "product"),
    "OrderVersionConflict": ("order_id", "order"),
    "EndpointVersionConflict": ("endpoint_id", "webhook"),
}


def _in_current_shape(stored: StoredOutcome) -> StoredOutcome:
    """``stored``, with a version conflict kept in an earlier shape read as today's."""
    legacy = None if stored.succeeded else _LEGACY_CONFLICTS.get(stored.kind)
    if legacy is None or legacy[0] not in stored.document:
        return stored
    id_member, target_type = legacy
    document = {name: value for name, value in stored.document.items() if name != id_member}
    document |= {"target_type": target_type, "target_id": stored.document[id_member]}
    return replace(stored, kind=VersionConflict.__name__, document=document)


def replay[T](operation: Operation[T], stored: StoredOutcome) -> Result[Replayed[T], Replayed[Any]]:
    """The stored outcome as the values it was made of, marked as replayed."""
    stored = _in_current_shape(stored)
    if stored.succeeded:
        value = _converter.structure(stored.document, operation.value_type)
        return Success(Replayed(value, stored.request_id))
    for error_type in operation.replayable:
        if error_type.__name__ == stored.kind:
            error: Any = _converter.structure(stored.document, error_type)
            return Failure(Replayed(error, stored.request_id))
    raise LookupError(f"{operation.name} cannot replay a stored {stored.kind}")


async def earlier_answer[T](
    records: IdempotencyRecords,
    scope: KeyScope,
    operation: Operation[T],
    now: datetime,
) -> Result[Replayed[T], Replayed[Any] | IdempotencyError] | None:
    """What to answer instead of running ``operation``: the stored outcome, or a refusal of
    a reused key or of a request in flight. ``None`` when the key is free, and now held by
    this transaction. A finished request's outcome is read without taking the key, so any
    number of retries of it may be answered at once."""
    stored = await records.find(scope, now)
    if stored is None:
        if not await records.claim(scope):
            return Failure(RequestInFlight(scope.key))
        stored = await records.find(scope, now)  # it may have finished in the meantime
        if stored is None:
            return None
    if stored.fingerprint != fingerprint(operation.payload):
        return Failure(KeyReused(scope.key, operation.name))
    return replay(operation, stored)
