"""Administering accounts: roles, activation, the last admin, reading and listing users.
On the fakes and on PostgreSQL alike."""

from __future__ import annotations

import asyncio
import uuid

from returns.result import Success

from orderly_core.accounts.administration import (
    ActiveChange,
    RoleChange,
    get_user,
    list_users,
    set_active,
    set_role,
)
from orderly_core.accounts.errors import (
    LastAdmin,
    UserNotFound,
)
from orderly_core.accounts.model import UserQuery
from orderly_core.accounts.registration import NewUser, create_user
from orderly_core.shared.context import Role
from orderly_core.shared.errors import Forbidden
from orderly_core.unit_of_work import Dependencies
from tests.core.accounts.helpers import PASSWORD, admin, as_user, registered
from tests.core.helpers import ctx, err, ok


async def test_the_last_active_admin_cannot_be_demoted_or_deactivated(deps: Dependencies) -> None:
    root = await admin(deps)

    assert err(await set_role(deps, ctx(), RoleChange(str(root.id), Role.STAFF))) == LastAdmin()
    assert (
        err(await set_active(deps, ctx(), ActiveChange(str(root.id), active=False))) == LastAdmin()
    )
    second = await admin(deps, "second@example.com")
    ok(await set_role(deps, as_user(second), RoleChange(str(root.id), Role.STAFF)))
    assert err(await set_role(deps, ctx(), RoleChange(str(second.id), Role.CUSTOMER))) == (
        LastAdmin()
    )


async def test_two_admins_demoting_each_other_at_once_leave_one_admin(deps: Dependencies) -> None:
    first = await admin(deps, "first@example.com")
    second = await admin(deps, "second@example.com")

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
    customer = await registered(deps)
    staff = ok(
        await create_user(deps, ctx(), NewUser("staff@example.com", PASSWORD, "S", Role.STAFF))
    )

    for actor in (customer, staff):
        change = RoleChange(str(customer.id), Role.ADMIN)
        assert isinstance(err(await set_role(deps, as_user(actor), change)), Forbidden)
        assert isinstance(err(await list_users(deps, as_user(actor), UserQuery())), Forbidden)


async def test_a_user_sees_only_themself(deps: Dependencies) -> None:
    ann = await registered(deps)
    bob = await registered(deps, "bob@example.com")

    assert ok(await get_user(deps, as_user(ann), str(ann.id))).id == ann.id
    assert err(await get_user(deps, as_user(ann), str(bob.id))) == UserNotFound(str(bob.id))
    assert ok(await get_user(deps, ctx(), str(bob.id))).id == bob.id
    missing = str(uuid.uuid4())
    assert err(await get_user(deps, ctx(), missing)) == UserNotFound(missing)


async def test_list_users_pages_and_filters(deps: Dependencies) -> None:
    for name in ["carl", "ann", "dora", "bob"]:
        await registered(deps, f"{name}@example.com")
    await admin(deps, "admin@example.org")

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
