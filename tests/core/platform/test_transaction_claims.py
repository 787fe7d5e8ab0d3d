"""A context carrying an access token's claims: every unit of work of its use case reads the
account first, in the same transaction, and nothing is done for an account that is gone,
deactivated, refuses the token or acts with another role now. On the fakes and on
PostgreSQL."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta

import pytest
from returns.result import Result, Success

from orderly_core.accounts.administration import ActiveChange, set_active
from orderly_core.accounts.model import User
from orderly_core.orders.model import OrderQuery
from orderly_core.orders.placement import LineRequest, NewOrder, place_order
from orderly_core.orders.reading import list_orders
from orderly_core.platform.transaction import AccountChanged, AccountRefused, in_transaction
from orderly_core.shared.context import Actor, Claims, Context, Role
from orderly_core.unit_of_work import Dependencies, UnitOfWork
from tests.core.accounts.helpers import registered
from tests.core.helpers import ctx, fresh, make_product, ok

pytestmark = pytest.mark.postgres


def _claimed(user: User, role: Role | None = None) -> Context:
    claims = Claims(str(user.id), role or user.role, user.created_at + timedelta(seconds=1))
    return replace(ctx(claims.actor), claims=claims)


async def _touch(deps: Dependencies, context: Context) -> Result[str, str]:
    async def work(_uow: UnitOfWork) -> Result[str, str]:
        return Success("done")

    return await in_transaction(deps, context, work)


async def test_claims_of_an_active_account_with_its_role_pass(deps: Dependencies) -> None:
    ann = await registered(deps)

    assert ok(await _touch(deps, _claimed(ann))) == "done"
    page = ok(await list_orders(deps, _claimed(ann), OrderQuery()))
    assert page.items == ()


async def test_claims_of_a_deactivated_gone_or_malformed_account_are_refused(
    deps: Dependencies,
) -> None:
    ann = await registered(deps)
    ok(await set_active(deps, ctx(), ActiveChange(str(ann.id), active=False)))
    gone = replace(ann, id=uuid.uuid4())
    malformed = Claims("not-a-uuid", Role.CUSTOMER, ann.created_at)

    for context in (
        _claimed(ann),
        _claimed(gone),
        replace(ctx(malformed.actor), claims=malformed),
    ):
        with pytest.raises(AccountRefused):
            await _touch(deps, context)


async def test_claims_issued_before_the_accounts_tokens_valid_after_are_refused(
    deps: Dependencies,
) -> None:
    ann = await registered(deps)
    ok(await set_active(deps, ctx(), ActiveChange(str(ann.id), active=False)))
    ok(await set_active(deps, ctx(), ActiveChange(str(ann.id), active=True)))
    stale = Claims(str(ann.id), Role.CUSTOMER, ann.created_at - timedelta(seconds=1))

    with pytest.raises(AccountRefused):
        await _touch(deps, replace(ctx(stale.actor), claims=stale))


async def test_claims_with_a_role_the_account_no_longer_has_name_the_accounts_actor(
    deps: Dependencies,
) -> None:
    ann = await registered(deps)

    with pytest.raises(AccountChanged) as changed:
        await _touch(deps, _claimed(ann, Role.STAFF))

    assert changed.value.actor == Actor.user(str(ann.id), Role.CUSTOMER)


async def test_an_order_placed_with_claims_takes_the_accounts_email_as_it_is_now(
    deps: Dependencies,
) -> None:
    # The account check reads the account first; the order's contact email is the one that
    # read found (the unit of work does not read it again), so it is always the current one.
    ann = await registered(deps)
    await make_product(deps, "MUG-1", on_hand=10)
    first = fresh(await place_order(deps, _claimed(ann), NewOrder((LineRequest("MUG-1", 1),))))
    async with deps.unit_of_work() as uow:
        found = await uow.users.get(ann.id)
        assert found is not None
        assert (await uow.users.save(replace(found, email="ann@new.example"))).unwrap() is None
        await uow.commit()

    second = fresh(await place_order(deps, _claimed(ann), NewOrder((LineRequest("MUG-1", 1),))))

    assert first.order.email == "ann@example.com"
    assert second.order.email == "ann@new.example"
    async with deps.unit_of_work() as uow:  # a save in the same unit of work is seen too
        found = await uow.users.get(ann.id)
        assert found is not None
        await uow.users.save(replace(found, email="ann@third.example"))
        assert await uow.customers.email_of(str(ann.id)) == "ann@third.example"
        await uow.rollback()
