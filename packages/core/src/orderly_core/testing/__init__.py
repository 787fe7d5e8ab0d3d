"""In-memory fakes of the core's ports, for tests of the core and of adapters.

Production code never imports this package.
"""

from orderly_core.testing.fakes import (
    FakePasswords,
    FixedClock,
    InMemoryJobQueue,
    InMemoryStore,
    InMemoryUnitOfWork,
    ScriptedSender,
    SequentialIds,
    in_memory_dependencies,
)

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
