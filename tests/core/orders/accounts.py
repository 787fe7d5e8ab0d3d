"""Accounts for the order tests, written straight into the unit of work: the customers an
operator names, and accounts that are not active customers."""

from __future__ import annotations

import uuid

from returns.pipeline import is_successful

from orderly_core.accounts.model import User
from orderly_core.shared.context import Role
from orderly_core.unit_of_work import Dependencies


async def add_account(
    deps: Dependencies,
    user_id: str,
    email: str,
    *,
    role: Role = Role.CUSTOMER,
    active: bool = True,
) -> User:
    """An account with this id and (lower-case) email, as signing up would leave it."""
    now = deps.clock.now()
    user = User(
        uuid.UUID(user_id), email, email.partition("@")[0], "not-a-hash", role, active, now, now
    )
    async with deps.unit_of_work() as uow:
        added = await uow.users.add(user)
        assert is_successful(added), added
        await uow.commit()
    return user
