"""In-memory fakes of the core's ports, for tests of the core and of adapters.

The fakes behave like the PostgreSQL implementations, as far as use cases can tell. One
module per context holds the fakes of its ports (``accounts``, ``catalogue``, ``jobs``,
``orders``, ``sales``, ``webhooks``, and ``platform`` for the audit trail, the outbox,
idempotency records, the clock and ids); ``unit_of_work`` composes them over one store.

Production code never imports this package.
"""

from orderly_core.testing.accounts import FakePasswords
from orderly_core.testing.jobs import InMemoryJobQueue
from orderly_core.testing.platform import FixedClock, SequentialIds
from orderly_core.testing.unit_of_work import (
    InMemoryStore,
    InMemoryUnitOfWork,
    in_memory_dependencies,
)
from orderly_core.testing.webhooks import ScriptedSender

__all__ = [
    "FakePasswords",
    "FixedClock",
    "InMemoryJobQueue",
    "InMemoryStore",
    "InMemoryUnitOfWork",
    "ScriptedSender",
    "SequentialIds",
    "in_memory_dependencies",
]
