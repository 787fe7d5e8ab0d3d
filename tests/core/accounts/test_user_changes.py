"""update_user (role and active flag in one change) and get_user for anonymous callers, on the
in-memory fakes and on PostgreSQL."""

from __future__ import annotations

from orderly_core.accounts.administration import UserChanges, get_user, update_user
from orderly_core.accounts.errors import LastAdmin, NotSignedIn, UserNotFound
from orderly_core.accounts.registration import NewUser, create_user
from orderly_core.accounts.sessions import current_user
from orderly_core.shared.context import Actor, Role
from orderly_core.shared.errors import Forbidden, InvalidInput
from orderly_core.unit_of_work import Dependencies
from tests.core.helpers import ctx, err, ok

PASSWORD = "correct horse battery"


async def _user(deps: Dependencies, email: str, role: Role = Role.CUSTOMER) -> str:
    user = ok(await create_user(deps, ctx(), NewUser(email, PASSWORD, "Someone", role)))
    return str(user.id)


async def test_role_and_active_change_together(deps: Dependencies) -> None:
    ann = await _user(deps, "ann@example.com")

    changed = ok(await update_user(deps, ctx(), UserChanges(ann, role=Role.STAFF, active=False)))

    assert (changed.role, changed.active) == (Role.STAFF, False)
    stored = ok(await get_user(deps, ctx(), ann))
    assert (stored.role, stored.active) == (Role.STAFF, False)
    assert err(await current_user(deps, ctx(changed.actor))) == NotSignedIn()


async def test_an_empty_change_is_invalid_and_only_admins_may_change(deps: Dependencies) -> None:
    ann = await _user(deps, "ann@example.com")
    staff = Actor.user(await _user(deps, "staff@example.com", Role.STAFF), Role.STAFF)

    empty = err(await update_user(deps, ctx(), UserChanges(ann)))
    refused = err(await update_user(deps, ctx(staff), UserChanges(ann, role=Role.ADMIN)))
    refused_empty = err(await update_user(deps, ctx(staff), UserChanges(ann)))

    assert isinstance(empty, InvalidInput)
    assert [e.field for e in empty.errors] == ["changes"]
    assert isinstance(refused, Forbidden)
    assert isinstance(refused_empty, Forbidden)
    assert ok(await get_user(deps, ctx(), ann)).role is Role.CUSTOMER


async def test_the_last_admin_survives_a_combined_change(deps: Dependencies) -> None:
    root = await _user(deps, "root@example.com", Role.ADMIN)

    refused = err(await update_user(deps, ctx(), UserChanges(root, role=Role.ADMIN, active=False)))

    assert refused == LastAdmin()
    assert ok(await get_user(deps, ctx(), root)).active


async def test_anonymous_callers_must_sign_in_to_read_a_user(deps: Dependencies) -> None:
    ann = await _user(deps, "ann@example.com")

    assert err(await get_user(deps, ctx(Actor.anonymous()), ann)) == NotSignedIn()
    assert err(await update_user(deps, ctx(), UserChanges("nobody@example.com", active=True))) == (
        UserNotFound("nobody@example.com")
    )
