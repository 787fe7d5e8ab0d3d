"""Checkout details at placement: the contact email, the shipping address and method, the
shipping price captured and the quote of a dry run, on the fakes and on PostgreSQL."""

from __future__ import annotations

from dataclasses import replace

from orderly_core.orders.address import Address
from orderly_core.orders.errors import ShippingMethodUnavailable
from orderly_core.orders.model import OrderQuery, ShippingOption
from orderly_core.orders.placement import NewOrder, place_order
from orderly_core.platform.idempotency import KeyReused, Replayed
from orderly_core.shared.context import Context, Mode
from orderly_core.shared.errors import InvalidInput
from orderly_core.shared.money import MAX_MINOR_UNITS, Money
from orderly_core.shipping.use_cases import (
    NewShippingRate,
    RetireRequest,
    create_shipping_rate,
    retire_shipping_rate,
)
from orderly_core.unit_of_work import Dependencies
from tests.core.helpers import ANN, ctx, err, fresh, make_product, ok, order
from tests.core.orders.accounts import add_account

BERLIN = Address("Ann Example", "Hauptstr. 1", "Berlin", "de", postal_code="10115")
BOSTON = Address("Ann Example", "1 Main St", "Boston", "US", region="MA")


def mugs(quantity: int = 2, **checkout: object) -> NewOrder:
    return replace(order(("MUG-1", quantity)), **checkout)  # type: ignore[arg-type]


async def rates(deps: Dependencies) -> None:
    """Standard to Germany and France (free from 50 EUR), express anywhere, a dollar rate."""
    for new in (
        NewShippingRate("std-eur", "Standard", 490, "EUR", ("DE", "FR"), free_above=5000),
        NewShippingRate("express", "Express", 1500, "EUR"),
        NewShippingRate("std-usd", "Standard", 700, "USD"),
    ):
        fresh(await create_shipping_rate(deps, ctx(), new))


async def test_a_shop_without_rates_needs_no_address_and_charges_no_shipping(
    deps: Dependencies,
) -> None:
    await make_product(deps, "MUG-1", unit_price=1250)
    await add_account(deps, ANN.id, "ann@example.com")

    placed = fresh(await place_order(deps, ctx(ANN), mugs())).order
    addressed = fresh(await place_order(deps, ctx(ANN), mugs(shipping_address=BERLIN))).order
    method = err(await place_order(deps, ctx(ANN), mugs(shipping_method="std-eur")))

    assert (placed.subtotal.amount, placed.shipping.amount, placed.total.amount) == (2500, 0, 2500)
    assert (placed.email, placed.shipping_method, placed.shipping_address) == (
        "ann@example.com",
        None,
        None,
    )
    assert addressed.shipping_address == replace(BERLIN, country="DE")
    assert method == ShippingMethodUnavailable("std-eur", None, "EUR")


async def test_a_shop_with_rates_captures_the_price_of_the_method_chosen(
    deps: Dependencies,
) -> None:
    await make_product(deps, "MUG-1", unit_price=1250, on_hand=100)
    await rates(deps)

    standard = fresh(
        await place_order(deps, ctx(ANN), mugs(shipping_address=BERLIN, shipping_method="STD-EUR"))
    ).order
    free = fresh(
        await place_order(
            deps, ctx(ANN), mugs(4, shipping_address=BERLIN, shipping_method="std-eur")
        )
    ).order
    express = fresh(
        await place_order(deps, ctx(ANN), mugs(shipping_address=BOSTON, shipping_method="express"))
    ).order

    assert (standard.shipping_method, standard.shipping.amount, standard.total.amount) == (
        "std-eur",
        490,
        2990,
    )
    assert (free.subtotal.amount, free.shipping.amount, free.total.amount) == (5000, 0, 5000)
    assert (express.shipping.amount, express.total.amount) == (1500, 4000)
    async with deps.unit_of_work() as uow:
        assert await uow.orders.get(standard.id) == standard


async def test_the_method_must_serve_the_country_in_the_orders_currency(
    deps: Dependencies,
) -> None:
    await make_product(deps, "MUG-1", unit_price=1250, on_hand=100)
    await rates(deps)
    fresh(await retire_shipping_rate(deps, ctx(), RetireRequest("express")))

    missing = err(await place_order(deps, ctx(ANN), mugs()))
    abroad = err(
        await place_order(deps, ctx(ANN), mugs(shipping_address=BOSTON, shipping_method="std-eur"))
    )
    dollars = err(
        await place_order(deps, ctx(ANN), mugs(shipping_address=BOSTON, shipping_method="std-usd"))
    )
    retired = err(
        await place_order(deps, ctx(ANN), mugs(shipping_address=BERLIN, shipping_method="express"))
    )

    assert isinstance(missing, InvalidInput)
    assert [e.field for e in missing.errors] == ["shipping_address", "shipping_method"]
    assert abroad == ShippingMethodUnavailable("std-eur", "US", "EUR")
    assert dollars == ShippingMethodUnavailable("std-usd", "US", "EUR")
    assert retired == ShippingMethodUnavailable("express", "DE", "EUR")


async def test_a_dry_run_is_the_quote_of_the_methods_for_the_address(deps: Dependencies) -> None:
    await make_product(deps, "MUG-1", unit_price=1250, on_hand=100)
    await rates(deps)

    berlin = fresh(
        await place_order(deps, ctx(ANN, Mode.DRY_RUN), mugs(4, shipping_address=BERLIN))
    )
    boston = fresh(await place_order(deps, ctx(ANN, Mode.DRY_RUN), mugs(shipping_address=BOSTON)))
    chosen = fresh(
        await place_order(
            deps,
            ctx(ANN, Mode.DRY_RUN),
            mugs(shipping_address=BERLIN, shipping_method="express"),
        )
    )

    assert berlin.shipping_methods == (
        ShippingOption("express", "Express", Money(1500, "EUR")),
        ShippingOption("std-eur", "Standard", Money(0, "EUR")),  # free from 50 EUR
    )
    assert berlin.order.shipping_method is None
    assert boston.shipping_methods == (ShippingOption("express", "Express", Money(1500, "EUR")),)
    assert (chosen.order.shipping.amount, chosen.order.total.amount) == (1500, 4000)
    async with deps.unit_of_work() as uow:
        assert await uow.orders.list(after=None, limit=10, query=OrderQuery()) == []


async def test_the_address_and_email_are_checked_in_the_core(deps: Dependencies) -> None:
    await make_product(deps, "MUG-1")
    bad = Address(
        name=" ",
        line1="Hauptstr.\x00 1",
        city="B" * 101,
        country="D\u0415",  # a Cyrillic E
        postal_code="1" * 17,
        phone="+()",
    )

    refused = err(await place_order(deps, ctx(ANN), mugs(shipping_address=bad, email="ann")))
    not_an_email = err(await place_order(deps, ctx(ANN), mugs(email="ann@@example.com")))
    given = fresh(await place_order(deps, ctx(ANN), mugs(email=" Ann@Example.COM "))).order

    assert isinstance(refused, InvalidInput)
    assert sorted(e.field for e in refused.errors) == [
        "shipping_address.city",
        "shipping_address.country",
        "shipping_address.line1",
        "shipping_address.name",
        "shipping_address.phone",
        "shipping_address.postal_code",
    ]
    assert not_an_email == InvalidInput.single("email", "is not an email address")
    assert given.email == "ann@example.com"


async def test_shipping_keeps_the_total_within_what_orderly_keeps(deps: Dependencies) -> None:
    await make_product(deps, "MUG-1", unit_price=MAX_MINOR_UNITS)
    await rates(deps)

    refused = err(
        await place_order(
            deps, ctx(ANN), mugs(1, shipping_address=BOSTON, shipping_method="express")
        )
    )

    assert isinstance(refused, InvalidInput)
    assert [e.field for e in refused.errors] == ["shipping_method"]
    assert fresh(await place_order(deps, ctx(ANN, Mode.DRY_RUN), mugs(1))).order.total.amount == (
        MAX_MINOR_UNITS
    )


async def test_a_retry_with_the_key_gets_the_same_order_back_whole(deps: Dependencies) -> None:
    await make_product(deps, "MUG-1", unit_price=1250, on_hand=100)
    await rates(deps)
    keyed = Context(ANN, "req-1", idempotency_key="checkout-1")
    new = mugs(shipping_address=BERLIN, shipping_method="std-eur", email="ann@example.com")

    first = fresh(await place_order(deps, keyed, new))
    again = ok(await place_order(deps, replace(keyed, request_id="req-2"), new))
    other = err(await place_order(deps, keyed, replace(new, shipping_method="express")))

    assert isinstance(again, Replayed)
    assert again.original == first
    assert isinstance(other, KeyReused)
