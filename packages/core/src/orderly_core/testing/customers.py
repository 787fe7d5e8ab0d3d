"""The in-memory customer directory: the fakes' accounts, as orders look customers up."""

from __future__ import annotations

import uuid

from orderly_core.accounts.model import User, normalise_email
from orderly_core.accounts.ports import UserRepository
from orderly_core.shared.context import Role


class InMemoryCustomers:
    """An active customer account's id, by id or by email, read from the unit of work's
    accounts: only accounts of the customer role that are active."""

    def __init__(self, users: UserRepository) -> None:
        self._users = users

    async def active_customer(self, ref: str) -> str | None:
        customers = await self._users.list(
            after=None, limit=2**31, role=Role.CUSTOMER, active=True, email_prefix=None
        )
        try:
            wanted = uuid.UUID(ref)
        except ValueError:
            return _id_of([u for u in customers if u.email == normalise_email(ref)])
        return _id_of([u for u in customers if u.id == wanted])

    async def email_of(self, customer_id: str) -> str | None:
        try:
            user = await self._users.get(uuid.UUID(customer_id))
        except ValueError:
            return None
        return None if user is None else user.email

    async def email_verified(self, customer_id: str) -> bool:
        try:
            user = await self._users.get(uuid.UUID(customer_id))
        except ValueError:
            return False
        return user is not None and user.email_verified_at is not None

    def normalised_email(self, raw: str) -> str | None:
        return normalise_email(raw)


def _id_of(found: list[User]) -> str | None:
    return str(found[0].id) if found else None
