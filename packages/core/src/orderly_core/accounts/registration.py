"""Making accounts: signing up as a customer, and creating an account of any role.

The email is unique, ignoring case; the password follows the rules of
:class:`~orderly_core.accounts.validation.AccountFields`.
"""

from __future__ import annotations

from dataclasses import dataclass

from returns.pipeline import is_successful
from returns.result import Failure, Result, Success

from orderly_core.accounts.errors import EmailTaken
from orderly_core.accounts.mailed_links import mail_verification
from orderly_core.accounts.model import User, user_view
from orderly_core.accounts.ports import AccountsServices, AccountsUnit
from orderly_core.accounts.validation import AccountFields
from orderly_core.platform.audit import record
from orderly_core.platform.transaction import in_transaction
from orderly_core.shared.authorization import user_admin_denied
from orderly_core.shared.context import Context, Role
from orderly_core.shared.errors import Forbidden, InvalidInput


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


async def register(
    deps: AccountsServices, ctx: Context, registration: Registration
) -> Result[User, InvalidInput | EmailTaken]:
    """Sign up: anyone may, and always as a customer. The email is unique, ignoring case.
    A link that verifies the email is mailed to it."""
    new = NewUser(
        registration.email, registration.password, registration.display_name, Role.CUSTOMER
    )
    return await _create_user(deps, ctx, new, "user.register", verify=True)


async def create_user(
    deps: AccountsServices, ctx: Context, new: NewUser
) -> Result[User, Forbidden | InvalidInput | EmailTaken]:
    """Create an account with any role (an admin, say). Only admins and operators may."""
    if denied := user_admin_denied(ctx.actor, "create accounts"):
        return Failure(denied)
    return await _create_user(deps, ctx, new, "user.create")


async def _create_user(
    deps: AccountsServices, ctx: Context, new: NewUser, operation: str, *, verify: bool = False
) -> Result[User, InvalidInput | EmailTaken]:
    fields = AccountFields()
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
        if verify:
            await mail_verification(deps, uow, user)
        await record(
            deps,
            uow,
            ctx,
            operation,
            target=("user", str(user.id)),
            before=None,
            after=user_view(user),
        )
        return Success(user)

    return await in_transaction(deps, ctx, work)
