"""Access tokens issued before a deactivation, a password change or a sign-out stay dead,
a reactivation included; tokens issued after them hold, to the microsecond. On the fakes and
on PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from returns.pipeline import is_successful

from orderly_core.accounts.administration import ActiveChange, set_active
from orderly_core.accounts.errors import NotSignedIn
from orderly_core.accounts.model import User
from orderly_core.accounts.profile import PasswordChange, change_password
from orderly_core.accounts.registration import NewUser, create_user
from orderly_core.accounts.sessions import Credentials, current_user, log_in, log_out
from orderly_core.shared.context import Actor, Role
from orderly_core.testing import FixedClock
from orderly_core.unit_of_work import Dependencies
from tests.core.helpers import ctx, err, ok

pytestmark = pytest.mark.postgres

PASSWORD = "a long passphrase"
NEW_PASSWORD = "another passphrase"
STEP = timedelta(milliseconds=300)  # well within one second
MICROSECOND = timedelta(microseconds=1)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime.fromisoformat("2030-01-01T10:00:00.250000+00:00"))


@pytest.fixture
def moving(deps: Dependencies, clock: FixedClock) -> Dependencies:
    return replace(deps, clock=clock)


async def _ann(deps: Dependencies) -> User:
    return ok(
        await create_user(deps, ctx(), NewUser("ann@example.com", PASSWORD, "Ann", Role.CUSTOMER))
    )


async def _token_holds(deps: Dependencies, user: User, issued_at: datetime) -> bool:
    result = await current_user(deps, ctx(user.actor), token_issued_at=issued_at)
    return is_successful(result)


async def test_a_token_from_before_a_deactivation_stays_dead_after_reactivation(
    moving: Dependencies, clock: FixedClock
) -> None:
    ann = await _ann(moving)
    before = clock.now()
    clock.advance(STEP)
    ok(await set_active(moving, ctx(), ActiveChange(str(ann.id), active=False)))
    clock.advance(STEP)
    ok(await set_active(moving, ctx(), ActiveChange(str(ann.id), active=True)))
    clock.advance(STEP)
    after = clock.now()

    assert not await _token_holds(moving, ann, before)
    assert err(await current_user(moving, ctx(ann.actor), token_issued_at=before)) == NotSignedIn()
    assert await _token_holds(moving, ann, after)


async def test_a_password_change_ends_the_tokens_issued_before_it(
    moving: Dependencies, clock: FixedClock
) -> None:
    ann = await _ann(moving)
    before = clock.now()
    clock.advance(STEP)
    changed_at = clock.now()
    ok(await change_password(moving, ctx(ann.actor), PasswordChange(PASSWORD, NEW_PASSWORD)))
    clock.advance(STEP)
    ok(await log_in(moving, ctx(Actor.anonymous()), Credentials("ann@example.com", NEW_PASSWORD)))

    assert not await _token_holds(moving, ann, before)
    assert not await _token_holds(moving, ann, changed_at - MICROSECOND)
    assert await _token_holds(moving, ann, changed_at)  # issued at that instant: not before it
    assert await _token_holds(moving, ann, clock.now())


async def test_a_sign_out_ends_the_tokens_issued_before_it_in_the_same_second(
    moving: Dependencies, clock: FixedClock
) -> None:
    ann = await _ann(moving)
    session = ok(
        await log_in(moving, ctx(Actor.anonymous()), Credentials("ann@example.com", PASSWORD))
    )
    issued = clock.now()
    clock.advance(STEP)
    ok(await log_out(moving, ctx(Actor.anonymous()), session.refresh_token))
    clock.advance(STEP)  # the same second still
    again = clock.now()

    assert issued.replace(microsecond=0) == again.replace(microsecond=0)
    assert not await _token_holds(moving, ann, issued)
    assert await _token_holds(moving, ann, again)


async def test_signing_out_with_a_used_up_token_ends_nothing_more(
    moving: Dependencies, clock: FixedClock
) -> None:
    ann = await _ann(moving)
    session = ok(
        await log_in(moving, ctx(Actor.anonymous()), Credentials("ann@example.com", PASSWORD))
    )
    ok(await log_out(moving, ctx(Actor.anonymous()), session.refresh_token))
    clock.advance(STEP)
    issued = clock.now()
    clock.advance(STEP)

    ok(await log_out(moving, ctx(Actor.anonymous()), session.refresh_token))

    assert await _token_holds(moving, ann, issued)


async def test_an_account_never_signed_out_accepts_its_tokens(moving: Dependencies) -> None:
    ann = await _ann(moving)

    assert ann.tokens_valid_after is None
    assert await _token_holds(moving, ann, datetime.fromisoformat("2029-01-01T00:00:00+00:00"))
