"""Which database failures are worth trying again later.

A failure is transient when PostgreSQL could not serve the work right now but may a moment
later: the server is unreachable, restarting or out of connections, a connection dropped (or
the driver lost track of it: asyncpg's bare ``InterfaceError`` and its ``InternalClientError``,
met when the server goes away mid-call), the pool or a statement timed out, or the
transaction lost a deadlock or serialization conflict.
Anything else (a constraint violation, bad SQL, bad data) means the code is wrong, and trying
again would only fail again. Whoever retries (the worker) asks here instead of guessing from
driver exception types.
"""

from __future__ import annotations

from collections.abc import Iterator

from asyncpg import InterfaceError
from asyncpg.exceptions import InternalClientError
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.exc import TimeoutError as PoolTimeout

# SQLSTATE classes: 08 connection exception, 40 transaction rollback (deadlock, serialization),
# 53 insufficient resources, 57 operator intervention (statement timeout, shutdown, starting
# up), 58 system error (I/O).
_TRANSIENT_CLASSES = frozenset({"08", "40", "53", "57", "58"})
# 3D000: the database does not exist (yet): met while a new environment is being provisioned.
_TRANSIENT_STATES = frozenset({"3D000"})


def sqlstate(error: BaseException) -> str | None:
    """The SQLSTATE PostgreSQL reported, from a driver error or the one SQLAlchemy wraps."""
    for candidate in (error, getattr(error, "orig", None)):
        state = getattr(candidate, "sqlstate", None)
        if isinstance(state, str):
            return state
    return None


def is_transient(error: BaseException) -> bool:
    """Whether ``error`` says the database is unavailable for now rather than the work wrong."""
    # Connecting fails with the socket's own errors (refused, reset, unreachable, timed out).
    if isinstance(error, OSError | TimeoutError | PoolTimeout | DisconnectionError):
        return True
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    if any(_lost_track(cause) for cause in _causes(error)):
        return True
    state = sqlstate(error)
    return state is not None and (state[:2] in _TRANSIENT_CLASSES or state in _TRANSIENT_STATES)


def _lost_track(error: BaseException) -> bool:
    """asyncpg's connection-level faults that carry no SQLSTATE: its ``InterfaceError`` itself
    (the connection is closed, or a call met one still in progress on it as the server went
    away), not its subclasses (bad data, bad configuration), and ``InternalClientError`` (the
    protocol's state broken by the same)."""
    return type(error) is InterfaceError or isinstance(error, InternalClientError)


def _causes(error: BaseException) -> Iterator[BaseException]:
    """``error``, the driver error SQLAlchemy wraps (``orig``) and what each was raised from."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        candidate = pending.pop()
        if candidate is None or id(candidate) in seen or len(seen) > 8:
            continue
        seen.add(id(candidate))
        yield candidate
        pending += [getattr(candidate, "orig", None), candidate.__cause__]
