"""The customers orders are placed for, read from the accounts' table."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from orderly_core.accounts.model import normalise_email
from orderly_core.shared.context import Role
from orderly_db.tables import users


class SqlCustomers:
    """An active customer account's id, by id or by email (normalised as accounts store
    emails): only active accounts of the customer role."""

    def __init__(
        self, connection: AsyncConnection, known: Mapping[uuid.UUID, str] | None = None
    ) -> None:
        self._db = connection
        self._known = known or {}  # emails this unit of work has read already, by account

    async def active_customer(self, ref: str) -> str | None:
        try:
            named = users.c.id == uuid.UUID(ref)
        except ValueError:
            email = normalise_email(ref)
            if email is None:
                return None
            named = users.c.email == email
        query = select(users.c.id).where(
            named, users.c.active.is_(True), users.c.role == Role.CUSTOMER.value
        )
        found = await self._db.scalar(query)
        return None if found is None else str(found)

    async def email_of(self, customer_id: str) -> str | None:
        try:
            wanted = uuid.UUID(customer_id)
        except ValueError:
            return None
        if (known := self._known.get(wanted)) is not None:
            return known
        email: str | None = await self._db.scalar(select(users.c.email).where(users.c.id == wanted))
        return email

    async def email_verified(self, customer_id: str) -> bool:
        try:
            wanted = uuid.UUID(customer_id)
        except ValueError:
            return False
        verified = await self._db.scalar(
            select(users.c.email_verified_at).where(users.c.id == wanted)
        )
        return verified is not None

    def normalised_email(self, raw: str) -> str | None:
        return normalise_email(raw)
