"""Sessions: signing in, refreshing, signing out, and who is signed in.

A sign-in with an unknown email costs the same time as one with a wrong password, and both
get the same answer. Refresh tokens rotate on every use; a token used twice revokes its
whole family (someone else has a copy). A deactivated user's session ends at once: the
signed-in user is read again on every request (:func:`current_user`).
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, replace
from datetime import datetime

from returns.result import Failure, Result, Success

from orderly_core.accounts.errors import (
    AccountDeactivated,
    InvalidCredentials,
    NotSignedIn,
    RefreshRejected,
    RefreshReused,
)
from orderly_core.accounts.model import (
    RefreshToken,
    Session,
    User,
    hash_refresh_token,
    normalise_email,
)
from orderly_core.accounts.ports import AccountsServices, AccountsUnit, UserRepository
from orderly_core.platform.transaction import in_transaction
from orderly_core.shared.authorization import own_account
from orderly_core.shared.context import Actor, Claims, Context
from orderly_core.shared.validation import text_problem


@dataclass(frozen=True, slots=True)
class Credentials:
    email: str
    password: str


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
    # An email that is not text names no account: the same answer as an unknown email.
    email = None if text_problem(credentials.email) else normalise_email(credentials.email)
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
    """End the session the refresh token belongs to (its whole family), and every access token
    of the account issued until now. Always succeeds.

    Access tokens do not name their session, so all of the account's end: its other sessions
    get new ones with their refresh tokens, which still work.
    """

    async def work(uow: AccountsUnit) -> Result[None, None]:
        record = await uow.refresh_tokens.get(hash_refresh_token(refresh_token), for_update=True)
        if record is None or record.revoked_at is not None:
            return Success(None)
        now = deps.clock.now()
        await uow.refresh_tokens.revoke_family(record.family_id, now)
        user = await uow.users.get(record.user_id, for_update=True)
        if user is not None:
            await uow.users.save(end_access_tokens(user, now))
        return Success(None)

    return await in_transaction(deps, ctx, work)


async def signed_in_user(uow: AccountsUnit, ctx: Context, *, lock: bool = False) -> User | None:
    """The actor's own account if it exists and is active (``lock``: locked for this
    transaction), else ``None``."""
    if (own := own_account(ctx.actor)) is None:
        return None
    try:
        user_id = uuid.UUID(own)
    except ValueError:
        return None
    user = await uow.users.get(user_id, for_update=lock)
    return user if user is not None and user.active else None


def end_access_tokens(user: User, at: datetime) -> User:
    """``user`` refusing every access token issued before ``at``."""
    return replace(user, tokens_valid_after=at)


async def claims_actor(users: UserRepository, claims: Claims) -> Actor | None:
    """The actor the account of ``claims`` makes now, with the account's role (not the
    token's), or ``None`` when the account is gone or deactivated, or refuses tokens issued
    when this one was: what every unit of work of a use case run with claims checks first
    (:func:`orderly_core.platform.transaction.checked_claims`)."""
    try:
        user_id = uuid.UUID(claims.user_id)
    except ValueError:
        return None
    user = await users.get(user_id)
    if user is None or not user.active or not user.accepts_token_issued(claims.issued_at):
        return None
    return user.actor


async def current_user(
    deps: AccountsServices, ctx: Context, *, token_issued_at: datetime | None = None
) -> Result[User, NotSignedIn]:
    """The signed-in user, if their account still exists and is active and, for a request
    made with an access token issued at ``token_issued_at``, still accepts that token.

    Adapters call this on every authenticated request, so a deactivated user's tokens stop
    working at once, a role change applies at once, and tokens issued before a deactivation,
    a password change or a sign-out stay dead after it (a reactivation included).
    """

    async def work(uow: AccountsUnit) -> Result[User, NotSignedIn]:
        user = await signed_in_user(uow, ctx)
        if user is None:
            return Failure(NotSignedIn())
        if token_issued_at is not None and not user.accepts_token_issued(token_issued_at):
            return Failure(NotSignedIn())
        return Success(user)

    return await in_transaction(deps, ctx, work)
