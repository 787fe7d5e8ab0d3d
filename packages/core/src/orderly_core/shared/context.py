"""Who is acting, under which request, with which idempotency key, in which mode.

Adapters build a :class:`Context` at the edge (from an HTTP request, a CLI invocation or a
job) and hand it to exactly one use case. The core never looks anywhere else for this.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import datetime

IDEMPOTENCY_KEY_RULE = (
    "must be 1-255 printable ASCII characters, not starting or ending with a space"
)
IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e](?:[\x20-\x7e]{0,253}[\x21-\x7e])?$"  # JSON Schema
_IDEMPOTENCY_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN.strip("^$"))


def is_idempotency_key(key: str) -> bool:
    """Whether ``key`` may name an operation for retries: every adapter accepts the same keys
    (an HTTP header's string, a CLI option, a job id), so a key works wherever it is reused."""
    return _IDEMPOTENCY_KEY.fullmatch(key) is not None


class ActorKind(enum.StrEnum):
    """What kind of party performs an operation."""

    ANONYMOUS = "anonymous"  # an unauthenticated caller of a public read
    USER = "user"  # an account holder, acting through the API
    OPERATOR = "operator"  # a person at the admin CLI, named by their OS user
    SYSTEM = "system"  # Orderly itself: background jobs and schedules


class Role(enum.StrEnum):
    """An account holder's role; operators and the system act with their own kind instead."""

    CUSTOMER = "customer"
    STAFF = "staff"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Actor:
    kind: ActorKind
    id: str
    role: Role | None = None

    @classmethod
    def anonymous(cls) -> Actor:
        return cls(ActorKind.ANONYMOUS, "anonymous")

    @classmethod
    def operator(cls, name: str) -> Actor:
        return cls(ActorKind.OPERATOR, name)

    @classmethod
    def system(cls, component: str = "orderly") -> Actor:
        return cls(ActorKind.SYSTEM, component)

    @classmethod
    def user(cls, user_id: str, role: Role) -> Actor:
        return cls(ActorKind.USER, user_id, role)


class Mode(enum.StrEnum):
    """``EXECUTE`` applies a change; ``DRY_RUN`` runs every check and computes the result,
    then rolls back."""

    EXECUTE = "execute"
    DRY_RUN = "dry_run"


@dataclass(frozen=True, slots=True)
class Claims:
    """What a signed-in user's access token claims, its account not read yet: the user, the
    role the token was issued with and when it was issued (to the microsecond)."""

    user_id: str
    role: Role
    issued_at: datetime

    @property
    def actor(self) -> Actor:
        return Actor.user(self.user_id, self.role)


@dataclass(frozen=True, slots=True)
class Context:
    """``claims``: the claims of the access token that made ``actor``, when its account is
    still to be checked. The first statement of each unit of work of the use case then reads the
    account (see :func:`orderly_core.platform.transaction.in_transaction`), so the check and
    the work share one transaction; ``None`` when the actor was checked already, or is not a
    token's."""

    actor: Actor
    request_id: str
    idempotency_key: str | None = None
    mode: Mode = Mode.EXECUTE
    claims: Claims | None = None

    @property
    def applies_changes(self) -> bool:
        return self.mode is Mode.EXECUTE
