"""Signing in: sessions, refresh-token families, and what deactivation and role changes do
to them. On the fakes and on PostgreSQL alike."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from returns.result import Success

from orderly_core.accounts.administration import (
    ActiveChange,
    RoleChange,
    get_user,
    set_active,
    set_role,
)
from orderly_core.accounts.errors import (
    AccountDeactivated,
    InvalidCredentials,
    NotSignedIn,
    RefreshRejected,
    RefreshReused,
)
from orderly_core.accounts.sessions import (
    Credentials,
    current_user,
    log_in,
    log_out,
    refresh_session,
)
from orderly_core.shared.context import Role
from orderly_core.testing import FakePasswords
from orderly_core.unit_of_work import Dependencies
from orderly_db.passwords import Argon2Passwords
from tests.core.accounts.helpers import PASSWORD, as_user, registered
from tests.core.helpers import ctx, err, ok


async def test_login_opens_a_session_and_refresh_rotates_it(deps: Dependencies) -> None:
    user = await registered(deps)

    session = ok(await log_in(deps, ctx(), Credentials("ANN@example.com", PASSWORD)))
    rotated = ok(await refresh_session(deps, ctx(), session.refresh_token))

    assert session.user.id == user.id
    assert rotated.refresh_token != session.refresh_token
    assert rotated.user.id == user.id


async def test_unknown_email_and_wrong_password_answer_alike(deps: Dependencies) -> None:
    await registered(deps)

    unknown = await log_in(deps, ctx(), Credentials("nobody@example.com", PASSWORD))
    wrong = await log_in(deps, ctx(), Credentials("ann@example.com", "wrong password!"))

    assert err(unknown) == err(wrong) == InvalidCredentials()
    if isinstance(deps.passwords, FakePasswords):
        assert deps.passwords.dummy_checks == 1  # the unknown email still paid for a check


async def test_a_reused_refresh_token_revokes_its_whole_family(deps: Dependencies) -> None:
    await registered(deps)
    first = ok(await log_in(deps, ctx(), Credentials("ann@example.com", PASSWORD)))
    second = ok(await refresh_session(deps, ctx(), first.refresh_token))

    replayed = await refresh_session(deps, ctx(), first.refresh_token)

    assert err(replayed) == RefreshReused()
    assert err(await refresh_session(deps, ctx(), second.refresh_token)) == RefreshRejected()


async def test_two_logins_are_two_families(deps: Dependencies) -> None:
    await registered(deps)
    phone = ok(await log_in(deps, ctx(), Credentials("ann@example.com", PASSWORD)))
    laptop = ok(await log_in(deps, ctx(), Credentials("ann@example.com", PASSWORD)))

    ok(await log_out(deps, ctx(), phone.refresh_token))

    assert err(await refresh_session(deps, ctx(), phone.refresh_token)) == RefreshRejected()
    assert isinstance(await refresh_session(deps, ctx(), laptop.refresh_token), Success)


async def test_refresh_tokens_expire(deps: Dependencies) -> None:
    await registered(deps)
    short = replace(deps, refresh_token_ttl=timedelta(seconds=-1))
    session = ok(await log_in(short, ctx(), Credentials("ann@example.com", PASSWORD)))

    assert err(await refresh_session(deps, ctx(), session.refresh_token)) == RefreshRejected()
    assert err(await refresh_session(deps, ctx(), "made-up")) == RefreshRejected()


async def test_login_rehashes_a_password_hashed_with_old_parameters(deps: Dependencies) -> None:
    await registered(deps)
    stronger = replace(
        deps,
        passwords=FakePasswords("v2")
        if isinstance(deps.passwords, FakePasswords)
        else Argon2Passwords(time_cost=2, memory_cost_kib=8192),
    )

    session = ok(await log_in(stronger, ctx(), Credentials("ann@example.com", PASSWORD)))

    assert not stronger.passwords.needs_rehash(session.user.password_hash)
    stored = ok(await get_user(deps, ctx(), str(session.user.id)))
    assert stored.password_hash == session.user.password_hash
    again = ok(await log_in(stronger, ctx(), Credentials("ann@example.com", PASSWORD)))
    assert again.user.password_hash == session.user.password_hash


async def test_deactivation_stops_login_refresh_and_the_current_user(deps: Dependencies) -> None:
    user = await registered(deps)
    session = ok(await log_in(deps, ctx(), Credentials("ann@example.com", PASSWORD)))

    ok(await set_active(deps, ctx(), ActiveChange(str(user.id), active=False)))

    assert err(await current_user(deps, as_user(user))) == NotSignedIn()
    assert err(await refresh_session(deps, ctx(), session.refresh_token)) == RefreshRejected()
    login = await log_in(deps, ctx(), Credentials("ann@example.com", PASSWORD))
    assert err(login) == AccountDeactivated()
    ok(await set_active(deps, ctx(), ActiveChange("ann@example.com", active=True)))
    assert ok(await current_user(deps, as_user(user))).active


async def test_role_changes_apply_to_the_current_user_at_once(deps: Dependencies) -> None:
    user = await registered(deps)

    ok(await set_role(deps, ctx(), RoleChange("ann@example.com", Role.STAFF)))

    assert ok(await current_user(deps, as_user(user))).actor.role is Role.STAFF
