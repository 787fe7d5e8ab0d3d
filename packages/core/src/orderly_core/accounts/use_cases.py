"""Account use cases: signing up and in, sessions, profiles, and user administration.

Passwords: 10-256 characters and not the account's email. A sign-in with an unknown email
costs the same time as one with a wrong password, and both get the same answer. Refresh
tokens rotate on every use; a token used twice revokes its whole family (someone else has a
copy). Deactivating a user or changing their password ends all of their sessions.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, replace

from returns.pipeline import is_successful
from returns.result import Failure, Result, Success

from orderly_core.accounts.errors import (
    AccountDeactivated,
    EmailTaken,
    InvalidCredentials,
    LastAdmin,
    NotSignedIn,
    RefreshRejected,
    RefreshReused,
    UserNotFound,
    WrongPassword,
)
from orderly_core.accounts.model import (
    DISPLAY_NAME_MAX,
    PASSWORD_MAX,
    PASSWORD_MIN,
    RefreshToken,
    Session,
    User,
    UserQuery,
    hash_refresh_token,
    normalise_email,
    user_view,
)
from orderly_core.accounts.ports import AccountsServices, AccountsUnit
from orderly_core.platform.audit import record
from orderly_core.platform.transaction import in_transaction
from orderly_core.shared.authorization import (
    holds_admin_rights,
    may_see_account,
    must_sign_in,
    own_account,
    user_admin_denied,
)
from orderly_core.shared.context import Context, Role
from orderly_core.shared.errors import Forbidden, InvalidInput
from orderly_core.shared.paging import Page, by_key, checked_page
from orderly_core.shared.validation import FieldErrors

_BY_EMAIL = by_key(normalise_email)


@dataclass(frozen=True, slots=True)
class Registration:
    email: str
    password: str
    display_name: str


@dataclass(frozen=True, slots=True)
class NewUser:
    email: str
    password: str
    display_name: str
    role: Role


@dataclass(frozen=True, slots=True)
class Credentials:
    email: str
    password: str


@dataclass(frozen=True, slots=True)
class ProfileChanges:
    display_name: str | None = None
    email: str | None = None


@dataclass(frozen=True, slots=True)
class PasswordChange:
    current_password: str
    new_password: str


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


class _AccountFields(FieldErrors):
    def email(self, raw: str) -> str:
        email = normalise_email(raw)
        if email is None:
            self.fail("email", "must be an email address of at most 254 characters")
            return raw
        return email

    def display_name(self, raw: str) -> str:
        name = raw.strip()
        if not 1 <= len(name) <= DISPLAY_NAME_MAX:
            self.fail("display_name", f"must be 1-{DISPLAY_NAME_MAX} characters")
        return name

    def password(self, password: str, email: str, field: str = "password") -> str:
        if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
            self.fail(field, f"must be {PASSWORD_MIN}-{PASSWORD_MAX} characters")
        elif password.strip().lower() == email.strip().lower():
            self.fail(field, "must not be the email address")
        return password

    def user_ref(self, raw: str) -> uuid.UUID | str:
        """A user named by id, or by email (operators at the CLI know emails, not ids)."""
        try:
            return uuid.UUID(raw)
        except ValueError:
            pass
        email = normalise_email(raw)
        if email is None:
            self.fail("user", "must be a user id or an email address")
            return raw
        return email


async def _audit(
    deps: AccountsServices,
    uow: AccountsUnit,
    ctx: Context,
    operation: str,
    *,
    before: User | None,
    after: User,
) -> None:
    await record(
        deps,
        uow,
        ctx,
        operation,
        target=("user", str(after.id)),
        before=user_view(before) if before else None,
        after=user_view(after),
    )


async def register(
    deps: AccountsServices, ctx: Context, registration: Registration
) -> Result[User, InvalidInput | EmailTaken]:
    """Sign up: anyone may, and always as a customer. The email is unique, ignoring case."""
    new = NewUser(
        registration.email, registration.password, registration.display_name, Role.CUSTOMER
    )
    return await _create_user(deps, ctx, new, "user.register")


async def create_user(
    deps: AccountsServices, ctx: Context, new: NewUser
) -> Result[User, Forbidden | InvalidInput | EmailTaken]:
    """Create an account with any role (an admin, say). Only admins and operators may."""
    if denied := user_admin_denied(ctx.actor, "create accounts"):
        return Failure(denied)
    return await _create_user(deps, ctx, new, "user.create")


async def _create_user(
    deps: AccountsServices, ctx: Context, new: NewUser, operation: str
) -> Result[User, InvalidInput | EmailTaken]:
    fields = _AccountFields()
    email = fields.email(new.email)
    display_name = fields.display_name(new.display_name)
    fields.password(new.password, new.email)
    if invalid := fields.invalid():
        return invalid
    now = deps.clock.now()
    user = User(
        id=deps.ids.new_id(),
        email=email,
        display_name=display_name,
        password_hash=await deps.passwords.hash(new.password),
        role=new.role,
        active=True,
        created_at=now,
        updated_at=now,
    )

    async def work(uow: AccountsUnit) -> Result[User, InvalidInput | EmailTaken]:
        added = await uow.users.add(user)
        if not is_successful(added):
            return Failure(added.failure())
        await _audit(deps, uow, ctx, operation, before=None, after=user)
        return Success(user)

    return await in_transaction(deps, ctx, work)


async def _open_session(
    deps: AccountsServices, uow: AccountsUnit, user: User, family_id: uuid.UUID
) -> Session:
    token = secrets.token_urlsafe(32)
    now = deps.clock.now()
    expires_at = now + deps.refresh_token_ttl
    await uow.refresh_tokens.add(
        RefreshToken(hash_refresh_token(token), family_id, user.id, now, expires_at)
    )
    return Session(user, token, expires_at)


async def log_in(
    deps: AccountsServices, ctx: Context, credentials: Credentials
) -> Result[Session, InvalidCredentials | AccountDeactivated]:
    """Check an email and password and open a session (a new refresh-token family).

    A hash made with older parameters is replaced by one made with today's.
    """
    email = normalise_email(credentials.email)
    password = credentials.password

    async def work(uow: AccountsUnit) -> Result[Session, InvalidCredentials | AccountDeactivated]:
        user = await uow.users.get_by_email(email) if email else None
        if user is None:
            await deps.passwords.verify_dummy(password)
            return Failure(InvalidCredentials())
        if not await deps.passwords.verify(user.password_hash, password):
            return Failure(InvalidCredentials())
        if not user.active:
            return Failure(AccountDeactivated())
        if deps.passwords.needs_rehash(user.password_hash):
            user = replace(user, password_hash=await deps.passwords.hash(password))
            await uow.users.save(user)
        return Success(await _open_session(deps, uow, user, deps.ids.new_id()))

    return await in_transaction(deps, ctx, work)


async def refresh_session(
    deps: AccountsServices, ctx: Context, refresh_token: str
) -> Result[Session, RefreshRejected | RefreshReused]:
    """Trade a refresh token for the next one of its family (rotation).

    A token that was already rotated is a stolen copy or a replay: the whole family is
    revoked, and that revocation is kept although the call fails.
    """

    async def work(uow: AccountsUnit) -> Result[Session, RefreshRejected | RefreshReused]:
        now = deps.clock.now()
        record = await uow.refresh_tokens.get(hash_refresh_token(refresh_token), for_update=True)
        if record is None or record.revoked_at is not None or record.expires_at <= now:
            return Failure(RefreshRejected())
        if record.rotated_at is not None:
            await uow.refresh_tokens.revoke_family(record.family_id, now)
            return Failure(RefreshReused())
        user = await uow.users.get(record.user_id)
        if user is None or not user.active:
            return Failure(RefreshRejected())
        await uow.refresh_tokens.mark_rotated(record.token_hash, now)
        return Success(await _open_session(deps, uow, user, record.family_id))

    return await in_transaction(deps, ctx, work, keep_on_failure=(RefreshReused,))


async def log_out(deps: AccountsServices, ctx: Context, refresh_token: str) -> Result[None, None]:
    """End the session the refresh token belongs to (its whole family). Always succeeds."""

    async def work(uow: AccountsUnit) -> Result[None, None]:
        record = await uow.refresh_tokens.get(hash_refresh_token(refresh_token), for_update=True)
        if record is not None:
            await uow.refresh_tokens.revoke_family(record.family_id, deps.clock.now())
        return Success(None)

    return await in_transaction(deps, ctx, work)


async def _signed_in_user(uow: AccountsUnit, ctx: Context, *, lock: bool = False) -> User | None:
    if (own := own_account(ctx.actor)) is None:
        return None
    try:
        user_id = uuid.UUID(own)
    except ValueError:
        return None
    user = await uow.users.get(user_id, for_update=lock)
    return user if user is not None and user.active else None


async def current_user(deps: AccountsServices, ctx: Context) -> Result[User, NotSignedIn]:
    """The signed-in user, if their account still exists and is active.

    Adapters call this on every authenticated request, so a deactivated user's tokens stop
    working at once and a role change applies at once.
    """

    async def work(uow: AccountsUnit) -> Result[User, NotSignedIn]:
        user = await _signed_in_user(uow, ctx)
        return Success(user) if user else Failure(NotSignedIn())

    return await in_transaction(deps, ctx, work)


async def update_profile(
    deps: AccountsServices, ctx: Context, changes: ProfileChanges
) -> Result[User, NotSignedIn | InvalidInput | EmailTaken]:
    """Change one's own display name or email (unique, ignoring case)."""
    fields = _AccountFields()
    name = None if changes.display_name is None else fields.display_name(changes.display_name)
    email = None if changes.email is None else fields.email(changes.email)
    if name is None and email is None:
        fields.fail("changes", "name at least one field to change")
    if invalid := fields.invalid():
        return invalid

    async def work(uow: AccountsUnit) -> Result[User, NotSignedIn | InvalidInput | EmailTaken]:
        user = await _signed_in_user(uow, ctx, lock=True)
        if user is None:
            return Failure(NotSignedIn())
        updated = replace(
            user,
            display_name=user.display_name if name is None else name,
            email=user.email if email is None else email,
        )
        if updated == user:
            return Success(user)
        updated = replace(updated, updated_at=deps.clock.now())
        saved = await uow.users.save(updated)
        if not is_successful(saved):
            return Failure(saved.failure())
        await _audit(deps, uow, ctx, "user.update_profile", before=user, after=updated)
        return Success(updated)

    return await in_transaction(deps, ctx, work)


async def change_password(
    deps: AccountsServices, ctx: Context, change: PasswordChange
) -> Result[None, NotSignedIn | InvalidInput | WrongPassword]:
    """Change one's own password, proving the current one. Every session is ended."""

    async def work(uow: AccountsUnit) -> Result[None, NotSignedIn | InvalidInput | WrongPassword]:
        user = await _signed_in_user(uow, ctx, lock=True)
        if user is None:
            return Failure(NotSignedIn())
        fields = _AccountFields()
        fields.password(change.new_password, user.email, field="new_password")
        if invalid := fields.invalid():
            return invalid
        if not await deps.passwords.verify(user.password_hash, change.current_password):
            return Failure(WrongPassword())
        now = deps.clock.now()
        new_hash = await deps.passwords.hash(change.new_password)
        await uow.users.save(replace(user, password_hash=new_hash, updated_at=now))
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
    fields = _AccountFields()
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


AdminChangeError = Forbidden | InvalidInput | UserNotFound | LastAdmin


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
    fields = _AccountFields()
    ref = fields.user_ref(raw_id)
    if invalid := fields.invalid():
        return invalid

    async def work(uow: AccountsUnit) -> Result[User, AdminChangeError]:
        # Admin rows first, then the user's: one lock order for every such change.
        admins = await uow.users.lock_active_admins()
        ref_id: uuid.UUID | None = ref if isinstance(ref, uuid.UUID) else None
        if isinstance(ref, str) and (by_email := await uow.users.get_by_email(ref)):
            ref_id = by_email.id
        user = await uow.users.get(ref_id, for_update=True) if ref_id else None
        if user is None:
            return Failure(UserNotFound(raw_id))
        changed = replace(
            user,
            role=user.role if role is None else role,
            active=user.active if active is None else active,
        )
        if changed == user:
            return Success(user)
        still_admin = holds_admin_rights(changed.role, changed.active)
        if user.id in admins and not still_admin and len(admins) <= 1:
            return Failure(LastAdmin())
        now = deps.clock.now()
        changed = replace(changed, updated_at=now)
        saved = await uow.users.save(changed)
        if not is_successful(saved):  # the email did not change: a uniqueness clash is a bug
            raise RuntimeError(f"saving user {user.id} failed: {saved.failure()}")
        if not changed.active:
            await uow.refresh_tokens.revoke_user(user.id, now)
        await _audit(deps, uow, ctx, operation, before=user, after=changed)
        return Success(changed)

    return await in_transaction(deps, ctx, work)
