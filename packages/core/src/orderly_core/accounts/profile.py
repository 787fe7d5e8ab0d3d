"""A signed-in user's own account: their display name, email and password.

Changing the password ends every session of the account and every access token issued
before it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from returns.pipeline import is_successful
from returns.result import Failure, Result, Success

from orderly_core.accounts.errors import EmailTaken, NotSignedIn, WrongPassword
from orderly_core.accounts.mailed_links import tell_old_address
from orderly_core.accounts.model import User, user_view
from orderly_core.accounts.ports import AccountsServices, AccountsUnit
from orderly_core.accounts.sessions import end_access_tokens, signed_in_user
from orderly_core.accounts.validation import AccountFields
from orderly_core.platform.audit import record
from orderly_core.platform.transaction import in_transaction
from orderly_core.shared.context import Context
from orderly_core.shared.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class ProfileChanges:
    display_name: str | None = None
    email: str | None = None


@dataclass(frozen=True, slots=True)
class PasswordChange:
    current_password: str
    new_password: str


async def update_profile(
    deps: AccountsServices, ctx: Context, changes: ProfileChanges
) -> Result[User, NotSignedIn | InvalidInput | EmailTaken]:
    """Change one's own display name or email (unique, ignoring case). A new email is
    unverified: a verification link is mailed to it, and the old address is told."""
    fields = AccountFields()
    name = None if changes.display_name is None else fields.display_name(changes.display_name)
    email = None if changes.email is None else fields.email(changes.email)
    if name is None and email is None:
        fields.fail("changes", "name at least one field to change")
    if invalid := fields.invalid():
        return invalid

    async def work(uow: AccountsUnit) -> Result[User, NotSignedIn | InvalidInput | EmailTaken]:
        user = await signed_in_user(uow, ctx, lock=True)
        if user is None:
            return Failure(NotSignedIn())
        updated = replace(
            user,
            display_name=user.display_name if name is None else name,
            email=user.email if email is None else email,
        )
        if updated == user:
            return Success(user)
        email_changed = updated.email != user.email
        if email_changed:
            updated = replace(updated, email_verified_at=None)
        updated = replace(updated, updated_at=deps.clock.now())
        saved = await uow.users.save(updated)
        if not is_successful(saved):
            return Failure(saved.failure())
        if email_changed:
            await tell_old_address(deps, uow, user, updated)
        await record(
            deps,
            uow,
            ctx,
            "user.update_profile",
            target=("user", str(updated.id)),
            before=user_view(user),
            after=user_view(updated),
        )
        return Success(updated)

    return await in_transaction(deps, ctx, work)


async def change_password(
    deps: AccountsServices, ctx: Context, change: PasswordChange
) -> Result[None, NotSignedIn | InvalidInput | WrongPassword]:
    """Change one's own password, proving the current one. Every session, and every access
    token issued until now (this request's included), is ended."""

    async def work(uow: AccountsUnit) -> Result[None, NotSignedIn | InvalidInput | WrongPassword]:
        user = await signed_in_user(uow, ctx, lock=True)
        if user is None:
            return Failure(NotSignedIn())
        fields = AccountFields()
        fields.password(change.new_password, user.email, field="new_password")
        if invalid := fields.invalid():
            return invalid
        if not await deps.passwords.verify(user.password_hash, change.current_password):
            return Failure(WrongPassword())
        now = deps.clock.now()
        new_hash = await deps.passwords.hash(change.new_password)
        changed = replace(user, password_hash=new_hash, updated_at=now)
        await uow.users.save(end_access_tokens(changed, now))
        await uow.refresh_tokens.revoke_user(user.id, now)
        # The entry says that the password changed; neither password nor hash is recorded.
        await record(
            deps,
            uow,
            ctx,
            "user.change_password",
            target=("user", str(user.id)),
            before={"password": "(previous)"},
            after={"password": "(changed)"},
        )
        return Success(None)

    return await in_transaction(deps, ctx, work)
