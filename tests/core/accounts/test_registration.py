"""Registering customers and creating accounts. On the fakes and on PostgreSQL alike."""

from __future__ import annotations

import pytest
from returns.result import Result

from orderly_core.accounts.administration import (
    list_users,
)
from orderly_core.accounts.errors import (
    EmailTaken,
)
from orderly_core.accounts.model import User, UserQuery
from orderly_core.accounts.registration import NewUser, Registration, create_user, register
from orderly_core.shared.context import Actor, Context, Mode, Role
from orderly_core.shared.errors import Forbidden, InvalidInput
from orderly_core.unit_of_work import Dependencies
from tests.core.accounts.helpers import PASSWORD, as_user, registered
from tests.core.helpers import CUSTOMER, ctx, err, ok


async def test_registration_makes_a_customer_with_a_normalised_email(deps: Dependencies) -> None:
    user = await registered(deps)

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
    customer = await registered(deps)
    new = NewUser("boss@example.com", PASSWORD, "Boss", Role.ADMIN)

    assert isinstance(err(await create_user(deps, as_user(customer), new)), Forbidden)
    assert ok(await create_user(deps, ctx(), new)).role is Role.ADMIN


async def test_dry_run_registration_stores_nothing(deps: Dependencies) -> None:
    dry = Context(Actor.anonymous(), "req", mode=Mode.DRY_RUN)
    ok(await register(deps, dry, Registration("ann@example.com", PASSWORD, "Ann")))

    assert ok(await list_users(deps, ctx(), UserQuery())).items == ()
    assert CUSTOMER.role is Role.CUSTOMER
