"""User administration: reading users, and changing their role or whether they may sign in.

Admins and operators administer users (:func:`~orderly_core.shared.authorization.
user_admin_denied`); a user may read only their own account. Deactivating a user ends every
one of their sessions at once, and the last active admin can be neither demoted nor
deactivated.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace

from returns.pipeline import is_successful
from returns.result import Failure, Result, Success

from orderly_core.accounts.errors import LastAdmin, NotSignedIn, UserNotFound
from orderly_core.accounts.model import User, UserQuery, normalise_email, user_view
from orderly_core.accounts.ports import AccountsServices, AccountsUnit
from orderly_core.accounts.sessions import end_access_tokens
from orderly_core.accounts.validation import AccountFields
from orderly_core.platform.audit import record
from orderly_core.platform.transaction import in_transaction
from orderly_core.shared.authorization import (
    holds_admin_rights,
    may_see_account,
    must_sign_in,
    user_admin_denied,
)
from orderly_core.shared.context import Context, Role
from orderly_core.shared.errors import Forbidden, InvalidInput
from orderly_core.shared.paging import Page, by_key, checked_page

_BY_EMAIL = by_key(normalise_email)


@dataclass(frozen=True, slots=True)
class RoleChange:
    user: str  # a user id, or an email
    role: Role


@dataclass(frozen=True, slots=True)
class ActiveChange:
    user: str  # a user id, or an email
    active: bool


@dataclass(frozen=True, slots=True)
class UserChanges:
    user: str  # a user id, or an email
    role: Role | None = None
    active: bool | None = None


AdminChangeError = Forbidden | InvalidInput | UserNotFound | LastAdmin


async def get_user(
    deps: AccountsServices, ctx: Context, user_id: str
) -> Result[User, UserNotFound | NotSignedIn]:
    """One user. Admins and operators see anyone; a user sees only themself, and anyone
    else's account is 'not found', so that its existence does not leak. Anonymous callers
    must sign in first."""

    if must_sign_in(ctx.actor):
        return Failure(NotSignedIn())

    async def work(uow: AccountsUnit) -> Result[User, UserNotFound | NotSignedIn]:
        try:
            wanted = uuid.UUID(user_id)
        except ValueError:
            return Failure(UserNotFound(user_id))
        visible = may_see_account(ctx.actor, str(wanted))
        user = await uow.users.get(wanted) if visible else None
        return Success(user) if user else Failure(UserNotFound(user_id))

    return await in_transaction(deps, ctx, work)


async def list_users(
    deps: AccountsServices, ctx: Context, query: UserQuery
) -> Result[Page[User], Forbidden | InvalidInput]:
    """A page of users in email order (keyset pagination); admins and operators only.

    Filters: role, active, and an email prefix.
    """
    if denied := user_admin_denied(ctx.actor, "list accounts"):
        return Failure(denied)
    fields = AccountFields()
    page = checked_page(fields, query, _BY_EMAIL)
    prefix = (query.email_prefix or "").strip().lower() or None
    if prefix is not None and len(prefix) > 254:
        fields.fail("email_prefix", "must be at most 254 characters")
    if invalid := fields.invalid():
        return invalid

    async def work(uow: AccountsUnit) -> Result[Page[User], Forbidden | InvalidInput]:
        found = await uow.users.list(
            after=page.after,
            limit=page.fetch_limit,
            role=query.role,
            active=query.active,
            email_prefix=prefix,
        )
        return Success(page.cut(found, lambda user: user.email))

    return await in_transaction(deps, ctx, work)


async def set_role(
    deps: AccountsServices, ctx: Context, change: RoleChange
) -> Result[User, AdminChangeError]:
    """Give a user another role; admins and operators only. The last active admin stays."""
    return await _admin_change(
        deps, ctx, change.user, "change roles", "user.set_role", role=change.role
    )


async def set_active(
    deps: AccountsServices, ctx: Context, change: ActiveChange
) -> Result[User, AdminChangeError]:
    """Deactivate (ending every session at once) or reactivate a user; admins and operators
    only. The last active admin cannot be deactivated."""
    action = "reactivate accounts" if change.active else "deactivate accounts"
    return await _admin_change(
        deps, ctx, change.user, action, "user.set_active", active=change.active
    )


async def update_user(
    deps: AccountsServices, ctx: Context, changes: UserChanges
) -> Result[User, AdminChangeError]:
    """Change a user's role and/or active flag in one step; admins and operators only.

    Deactivating ends every session of the user at once; the last active admin can be neither
    demoted nor deactivated.
    """
    if changes.role is None and changes.active is None:
        if denied := user_admin_denied(ctx.actor, "change accounts"):
            return Failure(denied)
        return Failure(InvalidInput.single("changes", "name at least one field to change"))
    return await _admin_change(
        deps,
        ctx,
        changes.user,
        "change accounts",
        "user.update",
        role=changes.role,
        active=changes.active,
    )


async def _locked_user(uow: AccountsUnit, ref: uuid.UUID | str) -> User | None:
    """The user named by id or by email, locked for this transaction."""
    ref_id: uuid.UUID | None = ref if isinstance(ref, uuid.UUID) else None
    if isinstance(ref, str) and (by_email := await uow.users.get_by_email(ref)):
        ref_id = by_email.id
    return await uow.users.get(ref_id, for_update=True) if ref_id else None


def _removes_last_admin(admins: tuple[uuid.UUID, ...], user: User, changed: User) -> bool:
    """Whether the change takes admin rights from the last user holding them."""
    still_admin = holds_admin_rights(changed.role, changed.active)
    return user.id in admins and not still_admin and len(admins) <= 1


async def _save_change(
    deps: AccountsServices,
    uow: AccountsUnit,
    ctx: Context,
    user: User,
    changed: User,
    *,
    operation: str,
) -> User:
    """Store an administrator's change; a deactivated user's sessions end with it."""
    now = deps.clock.now()
    changed = replace(changed, updated_at=now)
    if not changed.active and user.active:
        changed = end_access_tokens(changed, now)
    saved = await uow.users.save(changed)
    if not is_successful(saved):  # the email did not change: a uniqueness clash is a bug
        raise RuntimeError(f"saving user {user.id} failed: {saved.failure()}")
    if not changed.active:
        await uow.refresh_tokens.revoke_user(user.id, now)
    await record(
        deps,
        uow,
        ctx,
        operation,
        target=("user", str(changed.id)),
        before=user_view(user),
        after=user_view(changed),
    )
    return changed


async def _admin_change(
    deps: AccountsServices,
    ctx: Context,
    raw_id: str,
    action: str,
    operation: str,
    *,
    role: Role | None = None,
    active: bool | None = None,
) -> Result[User, AdminChangeError]:
    if denied := user_admin_denied(ctx.actor, action):
        return Failure(denied)
    fields = AccountFields()
    ref = fields.user_ref(raw_id)
    if invalid := fields.invalid():
        return invalid

    async def work(uow: AccountsUnit) -> Result[User, AdminChangeError]:
        # Admin rows first, then the user's: one lock order for every such change.
        admins = await uow.users.lock_active_admins()
        user = await _locked_user(uow, ref)
        if user is None:
            return Failure(UserNotFound(raw_id))
        changed = replace(
            user,
            role=user.role if role is None else role,
            active=user.active if active is None else active,
        )
        if changed == user:
            return Success(user)
        if _removes_last_admin(admins, user, changed):
            return Failure(LastAdmin())
        return Success(await _save_change(deps, uow, ctx, user, changed, operation=operation))

    return await in_transaction(deps, ctx, work)
