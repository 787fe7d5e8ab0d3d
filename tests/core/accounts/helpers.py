"""Accounts the account tests start from: a customer who signed up, an admin an operator
created."""

from __future__ import annotations

from orderly_core.accounts.model import User
from orderly_core.accounts.registration import NewUser, Registration, create_user, register
from orderly_core.shared.context import Actor, Context, Role
from orderly_core.unit_of_work import Dependencies
from tests.core.helpers import ctx, ok

PASSWORD = "correct horse battery"


async def registered(deps: Dependencies, email: str = "Ann@Example.com") -> User:
    """A customer who signed up with ``email``."""
    return ok(await register(deps, ctx(Actor.anonymous()), Registration(email, PASSWORD, "Ann")))


async def admin(deps: Dependencies, email: str = "root@example.com") -> User:
    """An admin an operator created."""
    return ok(await create_user(deps, ctx(), NewUser(email, PASSWORD, "Root", Role.ADMIN)))


def as_user(user: User) -> Context:
    """The context of ``user`` acting through the API."""
    return ctx(user.actor)
