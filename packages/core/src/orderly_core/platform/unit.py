"""The part of a unit of work every writing context builds on: the transaction itself, the
idempotency records, the audit trail and the outbox, all in one transaction."""

from __future__ import annotations

from typing import Protocol

from orderly_core.platform.audit import HasAuditLog
from orderly_core.platform.outbox import HasOutbox
from orderly_core.platform.transaction import IdempotentUnit


class PlatformUnit(IdempotentUnit, HasAuditLog, HasOutbox, Protocol):
    """A unit of work that records idempotent outcomes, audit entries and events with the
    change they belong to."""
