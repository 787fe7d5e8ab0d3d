"""Business rules of accounts, on the fakes and on PostgreSQL alike."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from datetime import timedelta

import pytest
from returns.result import Result, Success

from orderly_core.accounts.administration import (
    ActiveChange,
    RoleChange,
    get_user,
    list_users,
    set_active,
    set_role,
)
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
from orderly_core.accounts.model import User, UserQuery
from orderly_core.accounts.profile import (
    PasswordChange,
    ProfileChanges,
    change_password,
    update_profile,
)
from orderly_core.accounts.registration import NewUser, Registration, create_user, register
from orderly_core.accounts.sessions import (
    Credentials,
    current_user,
    log_in,
    log_out,
    refresh_session,
)
from orderly_core.shared.context import Actor, Context, Mode, Role
from orderly_core.shared.errors import Forbidden, InvalidInput
from orderly_core.testing import FakePasswords
from orderly_core.unit_of_work import Dependencies
from orderly_db.passwords import Argon2Passwords
from tests.core.helpers import CUSTOMER, ctx, err, ok

PASSWORD = "correct horse battery"


async def _register(deps: Dependencies, email: str = "Ann@Example.com") -> User:
    return ok(await register(deps, ctx(Actor.anonymous()), Registration(email, PASSWORD, "Ann")))


async def _admin(deps: Dependencies, email: str = "root@example.com") -> User:
    return ok(await create_user(deps, ctx(), NewUser(email, PASSWORD, "Root", Role.ADMIN)))


def as_user(user: User) -> Context:
    return ctx(user.actor)


async def test_registration_makes_a_customer_with_a_normalised_email(deps: Dependencies) -> None:
    user = await _register(deps)

    assert (user.email, user.role, user.active) == ("ann@example.com", Role.CUSTOMER, True)
    assert PASSWORD not in user.password_hash
    assert err(await _register_again(deps, "ANN@example.COM")) == EmailTaken("ann@example.com")


async def _register_again(
    deps: Dependencies, email: str
) -> Result[User, InvalidInput | EmailTaken]:
    return await register(deps, ctx(Actor.anonymous()), Registration(email, PASSWORD, "Twin"))


@pytest.mark.parametrize(
    ("email", "password", "name", "fields"),
    [
        ("not-an-email", PASSWORD, "Ann", {"email"}),
        ("ann@example.com", "short", "Ann", {"password"}),
        ("ann@example.com", "x" * 257, "Ann", {"password"}),
        ("ann@example.com", "ANN@example.com", "Ann", {"password"}),
        ("ann@example.com", PASSWORD, " ", {"display_name"}),
    ],
)
async def test_registration_rules(
    deps: Dependencies, email: str, password: str, name: str, fields: set[str]
) -> None:
    error = err(await register(deps, ctx(Actor.anonymous()), Registration(email, password, name)))

    assert isinstance(error, InvalidInput)
    assert {e.field for e in error.errors} == fields


async def test_only_admins_and_operators_create_accounts(deps: Dependencies) -> None:
    customer = await _register(deps)
    new = NewUser("boss@example.com", PASSWORD, "Boss", Role.ADMIN)

    assert isinstance(err(await create_user(deps, as_user(customer), new)), Forbidden)
    assert ok(await create_user(deps, ctx(), new)).role is Role.ADMIN


async def test_login_opens_a_session_and_refresh_rotates_it(deps: Dependencies) -> None:
    user = await _register(deps)

    session = ok(await log_in(deps, ctx(), Credentials("ANN@example.com", PASSWORD)))
    rotated = ok(await refresh_session(deps, ctx(), session.refresh_token))

    assert session.user.id == user.id
    assert rotated.refresh_token != session.refresh_token
    assert rotated.user.id == user.id


async def test_unknown_email_and_wrong_password_answer_alike(deps: Dependencies) -> None:
    await _register(deps)

    unknown = await log_in(deps, ctx(), Credentials("nobody@example.com", PASSWORD))
    wrong = await log_in(deps, ctx(), Credentials("ann@example.com", "wrong password!"))

    assert err(unknown) == err(wrong) == InvalidCredentials()
    if isinstance(deps.passwords, FakePasswords):
        assert deps.passwords.dummy_checks == 1  # the unknown email still paid for a check


async def test_a_reused_refresh_token_revokes_its_whole_family(deps: Dependencies) -> None:
    await _register(deps)
    first = ok(await log_in(deps, ctx(), Credentials("ann@example.com", PASSWORD)))
    second = ok(await refresh_session(deps, ctx(), first.refresh_token))

    replayed = await refresh_session(deps, ctx(), first.refresh_token)

    assert err(replayed) == RefreshReused()
    assert err(await refresh_session(deps, ctx(), second.refresh_token)) == RefreshRejected()


async def test_two_logins_are_two_families(deps: Dependencies) -> None:
    await _register(deps)
    phone = ok(await log_in(deps, ctx(), Credentials("ann@example.com", PASSWORD)))
    laptop = ok(await log_in(deps, ctx(), Credentials("ann@example.com", PASSWORD)))

    ok(await log_out(deps, ctx(), phone.refresh_token))

    assert err(await refresh_session(deps, ctx(), phone.refresh_token)) == RefreshRejected()
    assert isinstance(await refresh_session(deps, ctx(), laptop.refresh_token), Success)


async def test_refresh_tokens_expire(deps: Dependencies) -> None:
    await _register(deps)
    short = replace(deps, refresh_token_ttl=timedelta(seconds=-1))
    session = ok(await log_in(short, ctx(), Credentials("ann@example.com", PASSWORD)))

    assert err(await refresh_session(deps, ctx(), session.refresh_token)) == RefreshRejected()
    assert err(await refresh_session(deps, ctx(), "made-up")) == RefreshRejected()


async def test_login_rehashes_a_password_hashed_with_old_parameters(deps: Dependencies) -> None:
    await _register(deps)
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
    user = await _register(deps)
    session = ok(await log_in(deps, ctx(), Credentials("ann@example.com", PASSWORD)))

    ok(await set_active(deps, ctx(), ActiveChange(str(user.id), active=False)))

    assert err(await current_user(deps, as_user(user))) == NotSignedIn()
    assert err(await refresh_session(deps, ctx(), session.refresh_token)) == RefreshRejected()
    login = await log_in(deps, ctx(), Credentials("ann@example.com", PASSWORD))
    assert err(login) == AccountDeactivated()
    ok(await set_active(deps, ctx(), ActiveChange("ann@example.com", active=True)))
    assert ok(await current_user(deps, as_user(user))).active


async def test_role_changes_apply_to_the_current_user_at_once(deps: Dependencies) -> None:
    user = await _register(deps)

    ok(await set_role(deps, ctx(), RoleChange("ann@example.com", Role.STAFF)))

    assert ok(await current_user(deps, as_user(user))).actor.role is Role.STAFF


async def test_the_last_active_admin_cannot_be_demoted_or_deactivated(deps: Dependencies) -> None:
    root = await _admin(deps)

    assert err(await set_role(deps, ctx(), RoleChange(str(root.id), Role.STAFF))) == LastAdmin()
    assert (
        err(await set_active(deps, ctx(), ActiveChange(str(root.id), active=False))) == LastAdmin()
    )
    second = await _admin(deps, "second@example.com")
    ok(await set_role(deps, as_user(second), RoleChange(str(root.id), Role.STAFF)))
    assert err(await set_role(deps, ctx(), RoleChange(str(second.id), Role.CUSTOMER))) == (
        LastAdmin()
    )


async def test_two_admins_demoting_each_other_at_once_leave_one_admin(deps: Dependencies) -> None:
    first = await _admin(deps, "first@example.com")
    second = await _admin(deps, "second@example.com")

    results = await asyncio.gather(
        set_role(deps, as_user(first), RoleChange(str(second.id), Role.STAFF)),
        set_role(deps, as_user(second), RoleChange(str(first.id), Role.STAFF)),
    )

    admins = ok(await list_users(deps, ctx(), UserQuery(role=Role.ADMIN)))
    assert len(admins.items) == 1
    assert sorted(type(r.failure()).__name__ for r in results if not isinstance(r, Success)) in (
        ["LastAdmin"],
        ["Forbidden"],  # the loser was demoted first, so it is no admin any more
    )


async def test_only_admins_and_operators_manage_users(deps: Dependencies) -> None:
    customer = await _register(deps)
    staff = ok(
        await create_user(deps, ctx(), NewUser("staff@example.com", PASSWORD, "S", Role.STAFF))
    )

    for actor in (customer, staff):
        change = RoleChange(str(customer.id), Role.ADMIN)
        assert isinstance(err(await set_role(deps, as_user(actor), change)), Forbidden)
        assert isinstance(err(await list_users(deps, as_user(actor), UserQuery())), Forbidden)


async def test_a_user_sees_only_themself(deps: Dependencies) -> None:
    ann = await _register(deps)
    bob = await _register(deps, "bob@example.com")

    assert ok(await get_user(deps, as_user(ann), str(ann.id))).id == ann.id
    assert err(await get_user(deps, as_user(ann), str(bob.id))) == UserNotFound(str(bob.id))
    assert ok(await get_user(deps, ctx(), str(bob.id))).id == bob.id
    missing = str(uuid.uuid4())
    assert err(await get_user(deps, ctx(), missing)) == UserNotFound(missing)


async def test_list_users_pages_and_filters(deps: Dependencies) -> None:
    for name in ["carl", "ann", "dora", "bob"]:
        await _register(deps, f"{name}@example.com")
    await _admin(deps, "admin@example.org")

    first = ok(await list_users(deps, ctx(), UserQuery(limit=2, role=Role.CUSTOMER)))
    rest = ok(
        await list_users(
            deps, ctx(), UserQuery(limit=5, role=Role.CUSTOMER, cursor=first.next_cursor)
        )
    )
    by_prefix = ok(await list_users(deps, ctx(), UserQuery(email_prefix="AD")))

    assert [u.email.split("@")[0] for u in first.items + rest.items] == [
        "ann",
        "bob",
        "carl",
        "dora",
    ]
    assert rest.next_cursor is None
    assert [u.email for u in by_prefix.items] == ["admin@example.org"]


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


async def test_dry_run_registration_stores_nothing(deps: Dependencies) -> None:
    dry = Context(Actor.anonymous(), "req", mode=Mode.DRY_RUN)
    ok(await register(deps, dry, Registration("ann@example.com", PASSWORD, "Ann")))

    assert ok(await list_users(deps, ctx(), UserQuery())).items == ()
    assert CUSTOMER.role is Role.CUSTOMER
