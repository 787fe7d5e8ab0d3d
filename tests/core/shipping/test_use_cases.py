"""Shipping rates: who may write and read them, their field rules, versions and retiring, on
the fakes and on PostgreSQL."""

from __future__ import annotations

from orderly_core.shared.context import Actor, Mode, Role
from orderly_core.shared.errors import Forbidden, InvalidInput, VersionConflict
from orderly_core.shipping.errors import DuplicateShippingRate, ShippingRateNotFound
from orderly_core.shipping.model import ShippingRateQuery
from orderly_core.shipping.use_cases import (
    NewShippingRate,
    RetireRequest,
    ShippingRateChanges,
    create_shipping_rate,
    get_shipping_rate,
    list_shipping_rates,
    retire_shipping_rate,
    update_shipping_rate,
)
from orderly_core.unit_of_work import Dependencies
from tests.core.helpers import CUSTOMER, STAFF, ctx, err, fresh, ok

ADMIN = Actor.user("u-admin", Role.ADMIN)
STANDARD = NewShippingRate("Std-EUR", " Standard ", 490, "eur", ("fr", "DE"), free_above=5000)


async def test_an_admin_creates_a_rate_normalised_and_audited(deps: Dependencies) -> None:
    rate = fresh(await create_shipping_rate(deps, ctx(ADMIN), STANDARD))

    assert (rate.code, rate.name, rate.countries) == ("std-eur", "Standard", ("DE", "FR"))
    assert (rate.price.amount, rate.price.currency, rate.free_above) == (490, "EUR", 5000)
    assert (rate.active, rate.version) == (True, 1)
    assert ok(await get_shipping_rate(deps, ctx(CUSTOMER), "STD-eur")) == rate
    again = err(await create_shipping_rate(deps, ctx(ADMIN), STANDARD))
    assert again == DuplicateShippingRate("std-eur")


async def test_only_admins_and_operators_write_rates(deps: Dependencies) -> None:
    for actor in (CUSTOMER, STAFF, Actor.anonymous()):
        assert isinstance(err(await create_shipping_rate(deps, ctx(actor), STANDARD)), Forbidden)
    fresh(await create_shipping_rate(deps, ctx(), STANDARD))  # the operator
    change = ShippingRateChanges("std-eur", price=1)
    assert isinstance(err(await update_shipping_rate(deps, ctx(STAFF), change)), Forbidden)
    retire = RetireRequest("std-eur")
    assert isinstance(err(await retire_shipping_rate(deps, ctx(CUSTOMER), retire)), Forbidden)


async def test_every_broken_field_is_named(deps: Dependencies) -> None:
    bad = NewShippingRate(
        code="-std\x00",
        name=" ",
        price=-1,
        currency="EURO",
        countries=("DE", "de", "XX", "D\u0415"),  # a Cyrillic E
        free_above=10**16,
    )

    refused = err(await create_shipping_rate(deps, ctx(ADMIN), bad))

    assert isinstance(refused, InvalidInput)
    assert sorted(e.field for e in refused.errors) == [
        "code",
        "countries.1",
        "countries.2",
        "countries.3",
        "currency",
        "free_above",
        "name",
        "price",
    ]


async def test_customers_see_active_rates_staff_see_retired_ones_too(deps: Dependencies) -> None:
    fresh(await create_shipping_rate(deps, ctx(ADMIN), STANDARD))
    fresh(
        await create_shipping_rate(deps, ctx(ADMIN), NewShippingRate("exp", "Express", 990, "EUR"))
    )
    retired = fresh(await retire_shipping_rate(deps, ctx(ADMIN), RetireRequest("exp")))

    customer_view = ok(await list_shipping_rates(deps, ctx(CUSTOMER), ShippingRateQuery()))
    staff_view = ok(await list_shipping_rates(deps, ctx(STAFF), ShippingRateQuery()))
    only_retired = ok(
        await list_shipping_rates(deps, ctx(CUSTOMER), ShippingRateQuery(active=False))
    )

    assert (retired.active, retired.version) == (False, 2)
    assert [rate.code for rate in customer_view.items] == ["std-eur"]
    assert [rate.code for rate in staff_view.items] == ["exp", "std-eur"]
    assert only_retired.items == ()
    assert err(await get_shipping_rate(deps, ctx(CUSTOMER), "exp")) == ShippingRateNotFound("exp")
    assert ok(await get_shipping_rate(deps, ctx(STAFF), "exp")) == retired
    anonymous = err(await list_shipping_rates(deps, ctx(Actor.anonymous()), ShippingRateQuery()))
    assert isinstance(anonymous, Forbidden)


async def test_changes_apply_to_the_version_named_and_dry_runs_keep_nothing(
    deps: Dependencies,
) -> None:
    fresh(await create_shipping_rate(deps, ctx(ADMIN), STANDARD))

    preview = fresh(
        await update_shipping_rate(
            deps, ctx(ADMIN, Mode.DRY_RUN), ShippingRateChanges("std-eur", price=590)
        )
    )
    stale = err(
        await update_shipping_rate(
            deps, ctx(ADMIN), ShippingRateChanges("std-eur", expected_version=2, price=590)
        )
    )
    changed = fresh(
        await update_shipping_rate(
            deps,
            ctx(ADMIN),
            ShippingRateChanges("std-eur", expected_version=1, countries=(), clear_free_above=True),
        )
    )
    same = fresh(
        await update_shipping_rate(deps, ctx(ADMIN), ShippingRateChanges("std-eur", countries=()))
    )
    needs_price = err(
        await update_shipping_rate(deps, ctx(ADMIN), ShippingRateChanges("std-eur", currency="USD"))
    )

    assert preview.price.amount == 590
    assert isinstance(stale, VersionConflict)
    assert (changed.version, changed.countries, changed.free_above) == (2, (), None)
    assert changed.price.amount == 490  # the dry run kept nothing
    assert same == changed
    assert isinstance(needs_price, InvalidInput)


async def test_free_above_prices_a_rate_at_zero_from_that_subtotal(deps: Dependencies) -> None:
    rate = fresh(await create_shipping_rate(deps, ctx(ADMIN), STANDARD))

    assert rate.price_for(4999).amount == 490
    assert rate.price_for(5000).amount == 0
    assert rate.serves("DE", "EUR")
    assert not rate.serves("US", "EUR")
    assert not rate.serves("DE", "USD")
