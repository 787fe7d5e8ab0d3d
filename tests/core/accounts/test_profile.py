"""A user's own profile and password. On the fakes and on PostgreSQL alike."""

from __future__ import annotations

from orderly_core.accounts.errors import (
    EmailTaken,
    InvalidCredentials,
    NotSignedIn,
    RefreshRejected,
    WrongPassword,
)
from orderly_core.accounts.model import User
from orderly_core.accounts.profile import (
    PasswordChange,
    ProfileChanges,
    change_password,
    update_profile,
)
from orderly_core.accounts.registration import Registration, register
from orderly_core.accounts.sessions import (
    Credentials,
    log_in,
    refresh_session,
)
from orderly_core.shared.context import Actor, Context
from orderly_core.unit_of_work import Dependencies
from tests.core.helpers import ctx, err, ok

PASSWORD = "correct horse battery"


async def _register(deps: Dependencies, email: str = "Ann@Example.com") -> User:
    return ok(await register(deps, ctx(Actor.anonymous()), Registration(email, PASSWORD, "Ann")))


def as_user(user: User) -> Context:
    return ctx(user.actor)


async def test_profile_changes(deps: Dependencies) -> None:
    ann = await _register(deps)
    await _register(deps, "bob@example.com")

    renamed = ok(await update_profile(deps, as_user(ann), ProfileChanges(display_name="Annie")))
    clash = await update_profile(deps, as_user(ann), ProfileChanges(email="BOB@example.com"))

    assert renamed.display_name == "Annie"
    assert err(clash) == EmailTaken("bob@example.com")
    anonymous = await update_profile(deps, ctx(Actor.anonymous()), ProfileChanges("X"))
    assert err(anonymous) == NotSignedIn()


async def test_changing_the_password_needs_the_current_one_and_ends_sessions(
    deps: Dependencies,
) -> None:
    ann = await _register(deps)
    session = ok(await log_in(deps, ctx(), Credentials("ann@example.com", PASSWORD)))
    new_password = "a much longer secret"

    wrong = await change_password(deps, as_user(ann), PasswordChange("not it at all", new_password))
    ok(await change_password(deps, as_user(ann), PasswordChange(PASSWORD, new_password)))

    assert err(wrong) == WrongPassword()
    assert err(await refresh_session(deps, ctx(), session.refresh_token)) == RefreshRejected()
    assert err(await log_in(deps, ctx(), Credentials("ann@example.com", PASSWORD))) == (
        InvalidCredentials()
    )
    signed_in = ok(await log_in(deps, ctx(), Credentials("ann@example.com", new_password)))
    assert signed_in.user.id == ann.id
