"""Links mailed to an account's owner: password reset and email verification.

A link carries a single-use token (32 random bytes); only its hash is stored, with its
purpose, the address it was mailed to and its expiry (``MailPolicy.password_reset_ttl``,
30 minutes, and ``verification_ttl``). The raw token is in the email only: the message is
made in the transaction that stores the token, and keeps it until the worker has sent it
(:mod:`orderly_core.mail.sending`). It is never in a log line, an audit entry, an event or
an idempotency record.

- Asking for a password reset answers the same whether the email names an account or not
  (no account enumeration); only an active account gets a link. Following it sets the new
  password, ends every session and every access token, uses the link up with every other
  reset link of the account, and, since the owner read mail at that address, verifies it.
- Registration mails a verification link; the owner may ask for another. A change of email
  unverifies the account, mails a link to the new address and tells the old one.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from returns.result import Failure, Result, Success

from orderly_core.accounts.errors import (
    AccountDeactivated,
    NotSignedIn,
    TokenRejected,
    UserNotFound,
)
from orderly_core.accounts.model import (
    AccountToken,
    TokenPurpose,
    User,
    hash_account_token,
    normalise_email,
)
from orderly_core.accounts.ports import AccountsServices, AccountsUnit
from orderly_core.accounts.sessions import end_access_tokens, signed_in_user
from orderly_core.accounts.validation import AccountFields
from orderly_core.mail.composing import new_message
from orderly_core.mail.model import MailTemplate
from orderly_core.platform.audit import record
from orderly_core.platform.idempotency import Idempotent, Operation
from orderly_core.platform.transaction import in_idempotent_transaction, in_transaction
from orderly_core.shared.authorization import password_reset_for_others_denied
from orderly_core.shared.context import Context
from orderly_core.shared.errors import Forbidden, InvalidInput
from orderly_core.shared.validation import text_problem

TOKEN_MAX = 128  # a token Orderly issues has 43 characters


@dataclass(frozen=True, slots=True)
class PasswordReset:
    token: str
    password: str


@dataclass(frozen=True, slots=True)
class ResetSent:
    """A reset link on its way: the message's id, never the token."""

    user_id: uuid.UUID
    email: str
    message_id: uuid.UUID
    expires_at: datetime


async def _mail_link(
    deps: AccountsServices,
    uow: AccountsUnit,
    user: User,
    purpose: TokenPurpose,
) -> tuple[uuid.UUID, datetime]:
    """A new token of ``purpose`` for ``user`` (older unused ones of that purpose used up),
    and the message that carries it; the message's id and the token's expiry."""
    now = deps.clock.now()
    ttl: timedelta
    if purpose is TokenPurpose.PASSWORD_RESET:
        ttl, template = deps.mail.password_reset_ttl, MailTemplate.PASSWORD_RESET
    else:
        ttl, template = deps.mail.verification_ttl, MailTemplate.VERIFY_EMAIL
    token = secrets.token_urlsafe(32)
    await uow.account_tokens.void(user.id, purpose, now)
    await uow.account_tokens.add(
        AccountToken(hash_account_token(token), user.id, purpose, user.email, now, now + ttl)
    )
    data = {
        "display_name": user.display_name,
        "email": user.email,
        "expires_minutes": int(ttl.total_seconds() // 60),
        "expires_at": now + ttl,
    }
    message = new_message(deps, user.email, template, data, secret=token)
    await uow.mail.add(message)
    return message.id, now + ttl


async def mail_verification(deps: AccountsServices, uow: AccountsUnit, user: User) -> None:
    """Mail ``user`` a link that verifies their current email, in the caller's transaction."""
    await _mail_link(deps, uow, user, TokenPurpose.EMAIL_VERIFICATION)


async def tell_old_address(
    deps: AccountsServices, uow: AccountsUnit, before: User, after: User
) -> None:
    """Tell the address an account had that its email changed, in the caller's
    transaction; and mail the new address its verification link."""
    data = {"display_name": after.display_name, "old_email": before.email, "new_email": after.email}
    await uow.mail.add(new_message(deps, before.email, MailTemplate.EMAIL_CHANGED, data))
    await mail_verification(deps, uow, after)


async def request_password_reset(
    deps: AccountsServices, ctx: Context, email: str
) -> Result[None, InvalidInput]:
    """Mail a password reset link to the account with this email, if there is an active
    one. The answer is the same either way, so that nobody learns which emails have
    accounts."""
    address = None if text_problem(email) else normalise_email(email)

    async def work(uow: AccountsUnit) -> Result[None, InvalidInput]:
        user = await uow.users.get_by_email(address) if address else None
        if user is None or not user.active:
            return Success(None)
        await _mail_link(deps, uow, user, TokenPurpose.PASSWORD_RESET)
        await _record_link(deps, uow, ctx, user, "user.request_password_reset")
        return Success(None)

    return await in_transaction(deps, ctx, work)


SendResetError = Forbidden | InvalidInput | UserNotFound | AccountDeactivated


async def send_password_reset(
    deps: AccountsServices, ctx: Context, user_ref: str
) -> Idempotent[ResetSent, SendResetError]:
    """Mail a password reset link to a user named by id or email, for support staff: admins
    and operators only. The account must be active. Audited; the answer names the message,
    never the token."""
    if denied := password_reset_for_others_denied(ctx.actor):
        return Failure(denied)
    fields = AccountFields()
    ref = fields.user_ref(user_ref)
    if invalid := fields.invalid():
        return invalid

    async def work(uow: AccountsUnit) -> Result[ResetSent, SendResetError]:
        user_id = ref if isinstance(ref, uuid.UUID) else None
        if isinstance(ref, str) and (by_email := await uow.users.get_by_email(ref)):
            user_id = by_email.id
        user = await uow.users.get(user_id) if user_id else None
        if user is None:
            return Failure(UserNotFound(user_ref))
        if not user.active:
            return Failure(AccountDeactivated())
        message_id, expires_at = await _mail_link(deps, uow, user, TokenPurpose.PASSWORD_RESET)
        await _record_link(deps, uow, ctx, user, "user.send_password_reset")
        return Success(ResetSent(user.id, user.email, message_id, expires_at))

    operation = Operation(
        "user.send_password_reset",
        {"user": user_ref},
        ResetSent,
        (UserNotFound, AccountDeactivated),
    )
    return await in_idempotent_transaction(deps, ctx, operation, work)


async def _record_link(
    deps: AccountsServices, uow: AccountsUnit, ctx: Context, user: User, operation: str
) -> None:
    """The audit entry of a link mailed: to whom, never the token."""
    await record(
        deps,
        uow,
        ctx,
        operation,
        target=("user", str(user.id)),
        before=None,
        after={"mailed_to": user.email},
    )


async def _usable_token(
    deps: AccountsServices, uow: AccountsUnit, raw: str, purpose: TokenPurpose
) -> tuple[AccountToken, User] | None:
    """The unused, unexpired token of ``purpose`` that ``raw`` is, locked, with its active
    user (locked), if the user still has the address it was mailed to."""
    if text_problem(raw) or not raw or len(raw) > TOKEN_MAX:
        return None
    token = await uow.account_tokens.get(hash_account_token(raw), for_update=True)
    if token is None or not token.usable(purpose, deps.clock.now()):
        return None
    user = await uow.users.get(token.user_id, for_update=True)
    if user is None or not user.active or user.email != token.email:
        return None
    return token, user


async def reset_password(
    deps: AccountsServices, ctx: Context, reset: PasswordReset
) -> Result[None, TokenRejected | InvalidInput]:
    """Set a new password with a reset link's token. The token must be unused, unexpired
    and mailed to the account's current address, and the account active; the password
    follows the usual rules (a refused password leaves the link usable). Every session and
    every access token of the account ends; every reset link of it is used up; the email
    counts as verified."""

    async def work(uow: AccountsUnit) -> Result[None, TokenRejected | InvalidInput]:
        found = await _usable_token(deps, uow, reset.token, TokenPurpose.PASSWORD_RESET)
        if found is None:
            return Failure(TokenRejected())
        _, user = found
        fields = AccountFields()
        fields.password(reset.password, user.email)
        if invalid := fields.invalid():
            return invalid
        now = deps.clock.now()
        changed = replace(
            user,
            password_hash=await deps.passwords.hash(reset.password),
            updated_at=now,
            email_verified_at=user.email_verified_at or now,
        )
        await uow.users.save(end_access_tokens(changed, now))
        await uow.refresh_tokens.revoke_user(user.id, now)
        await uow.account_tokens.void(user.id, TokenPurpose.PASSWORD_RESET, now)
        await record(
            deps,
            uow,
            ctx,
            "user.reset_password",
            target=("user", str(user.id)),
            before={"password": "(previous)"},
            after={"password": "(reset by emailed link)"},
        )
        return Success(None)

    return await in_transaction(deps, ctx, work)


async def verify_email(
    deps: AccountsServices, ctx: Context, token: str
) -> Result[None, TokenRejected]:
    """Mark an account's email verified with a verification link's token: unused,
    unexpired, and mailed to the account's current address. Needs no sign-in (the link is
    opened from the mailbox)."""

    async def work(uow: AccountsUnit) -> Result[None, TokenRejected]:
        found = await _usable_token(deps, uow, token, TokenPurpose.EMAIL_VERIFICATION)
        if found is None:
            return Failure(TokenRejected())
        _, user = found
        now = deps.clock.now()
        await uow.account_tokens.void(user.id, TokenPurpose.EMAIL_VERIFICATION, now)
        if user.email_verified_at is not None:
            return Success(None)
        await uow.users.save(replace(user, email_verified_at=now, updated_at=now))
        await record(
            deps,
            uow,
            ctx,
            "user.verify_email",
            target=("user", str(user.id)),
            before={"email_verified": False},
            after={"email_verified": True},
        )
        return Success(None)

    return await in_transaction(deps, ctx, work)


async def resend_verification(deps: AccountsServices, ctx: Context) -> Result[bool, NotSignedIn]:
    """Mail the signed-in user a new verification link (earlier ones stop working);
    ``False`` when the email is verified already and nothing is sent."""

    async def work(uow: AccountsUnit) -> Result[bool, NotSignedIn]:
        user = await signed_in_user(uow, ctx, lock=True)
        if user is None:
            return Failure(NotSignedIn())
        if user.email_verified_at is not None:
            return Success(False)  # noqa: FBT003 - nothing sent
        await mail_verification(deps, uow, user)
        await _record_link(deps, uow, ctx, user, "user.send_verification")
        return Success(True)  # noqa: FBT003 - a link sent

    return await in_transaction(deps, ctx, work)
