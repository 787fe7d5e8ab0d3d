"""What mail needs from storage, and from whatever renders and sends emails."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from orderly_core.mail.model import (
    MailAttempt,
    MailMessage,
    MailPolicy,
    MailQuery,
    OutgoingMail,
    RenderedMail,
)
from orderly_core.platform.ports import Services
from orderly_core.platform.unit import PlatformUnit


@dataclass(frozen=True, slots=True)
class OrderContact:
    """Whom the shop writes to about an order, and the order as its events show it."""

    email: str
    order: Mapping[str, Any]  # the order's public view


@dataclass(frozen=True, slots=True)
class Tried:
    """A message as an attempt left it, the attempt, and the attempts it had when claimed."""

    message: MailMessage
    attempt: MailAttempt
    expected_attempts: int


class MailRepository(Protocol):
    async def add(self, message: MailMessage) -> bool:
        """Store a new message; ``False`` (and nothing changes) when a message of the same
        event to the same recipient exists already."""
        ...

    async def get(
        self, message_id: uuid.UUID, *, for_update: bool = False
    ) -> MailMessage | None: ...

    async def save(self, message: MailMessage) -> None: ...

    async def find(
        self, *, after: tuple[datetime, uuid.UUID] | None, limit: int, query: MailQuery
    ) -> list[MailMessage]:
        """Messages newest first, after the (created_at, id) position ``after``."""
        ...

    async def add_attempts(self, attempts: Sequence[MailAttempt]) -> None: ...

    async def record(self, tried: Sequence[Tried]) -> list[uuid.UUID]:
        """Save each message as its attempt left it and add the attempt, where the stored
        message is still pending with ``expected_attempts`` attempts; the ids of those saved.
        One statement for the whole batch."""
        ...

    async def attempts(self, message_id: uuid.UUID) -> list[MailAttempt]:
        """The message's attempts, first first."""
        ...

    async def claim_due(self, now: datetime, lease: timedelta, limit: int) -> list[MailMessage]:
        """Up to ``limit`` pending messages due by ``now``, oldest due first, leased: each is
        due again only at ``now + lease`` (so another worker leaves it alone while this one
        sends it, and takes it up if this one dies). Rows another transaction holds are
        skipped, not waited for."""
        ...

    async def add_many(self, messages: Sequence[MailMessage]) -> int:
        """Store new messages in one statement, each as :meth:`add` would; how many were
        new."""
        ...

    async def order_contacts(self, order_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, OrderContact]:
        """The contact email and public view of each of these orders that has an email."""
        ...


class MailUnit(PlatformUnit, Protocol):
    @property
    def mail(self) -> MailRepository: ...


class MailServices(Services[MailUnit], Protocol):
    @property
    def mail(self) -> MailPolicy: ...


@dataclass(frozen=True, slots=True)
class MailOutcome:
    """What came of handing one email to the SMTP server."""

    accepted: bool
    latency_ms: int
    provider_message_id: str | None = None
    error: str | None = None
    permanent: bool = False  # refused for good (a 5xx answer): no retry would help


class MailRenderer(Protocol):
    """Turns a message's template and variables into an email (Jinja2 templates in files)."""

    def render(self, mail: OutgoingMail) -> RenderedMail:
        """Raises ``ValueError`` when the template cannot be rendered."""
        ...


class MailSender(Protocol):
    """Hands one rendered email to the SMTP server."""

    async def send(self, mail: RenderedMail) -> MailOutcome: ...
