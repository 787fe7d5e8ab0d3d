"""A user's own profile and password. On the fakes and on PostgreSQL alike."""

from __future__ import annotations

from orderly_core.accounts.errors import (
    EmailTaken,
    InvalidCredentials,
    NotSignedIn,
    RefreshRejected,
    WrongPassword,
)
from orderly_core.accounts.profile import (
    PasswordChange,
    ProfileChanges,
    change_password,
    update_profile,
)
from orderly_core.accounts.sessions import (
    Credentials,
    log_in,
    refresh_session,
)
from orderly_core.shared.context import Actor
from orderly_core.unit_of_work import Dependencies
from tests.core.accounts.helpers import PASSWORD, as_user, registered
from tests.core.helpers import ctx, err, ok


async def test_profile_changes(deps: Dependencies) -> None:
    ann = await registered(deps)
    await registered(deps, "bob@example.com")

    renamed = ok(await update_profile(deps, as_user(ann), ProfileChanges(display_name="Annie")))
    clash = await update_profile(deps, as_user(ann), ProfileChanges(email="BOB@example.com"))

    assert renamed.display_name == "Annie"
    assert err(clash) == EmailTaken("bob@example.com")
    anonymous = await update_profile(deps, ctx(Actor.anonymous()), ProfileChanges("X"))
    assert err(anonymous) == NotSignedIn()


async def test_changing_the_password_needs_the_current_one_and_ends_sessions(
    deps: Dependencies,
) -> None:
    ann = await registered(deps)
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
