"""Placing an order: its lines checked, priced and reserved, all or nothing, for the right
customer (see :func:`place_order`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from returns.result import Failure, Result, Success

from orderly_core.catalogue.ledger import MovementKind
from orderly_core.catalogue.model import Product, normalise_sku
from orderly_core.orders.address import Address, checked_address
from orderly_core.orders.effects import announce, move_stock
from orderly_core.orders.errors import (
    CustomerNotFound,
    EmailNotVerified,
    MaxPerOrderExceeded,
    MixedCurrencies,
    OutOfStock,
    OverLimitLine,
    ProductsUnavailable,
    ShippingMethodUnavailable,
    ShortLine,
    TooManyOpenOrders,
)
from orderly_core.orders.model import (
    EMAIL_MAX,
    MAX_LINES,
    MAX_QUANTITY,
    LineAvailability,
    Order,
    OrderLine,
    OrderStatus,
    Placement,
    ShippingOption,
    order_view,
)
from orderly_core.orders.ports import OrdersServices, OrdersUnit
from orderly_core.platform.audit import record
from orderly_core.platform.idempotency import Idempotent, Operation
from orderly_core.platform.outbox import EventType
from orderly_core.platform.transaction import in_idempotent_transaction
from orderly_core.shared.authorization import customer_for_placement, own_account
from orderly_core.shared.context import Context
from orderly_core.shared.errors import Forbidden, InvalidInput
from orderly_core.shared.money import MAX_MINOR_UNITS, Money
from orderly_core.shared.validation import FieldErrors
from orderly_core.shipping.model import RATE_CODE_RULE, ShippingRate, normalise_rate_code


@dataclass(frozen=True, slots=True)
class LineRequest:
    sku: str
    quantity: int


@dataclass(frozen=True, slots=True)
class NewOrder:
    lines: tuple[LineRequest, ...]
    customer_id: str | None = (
        None  # operators and jobs name the customer; users order for themselves
    )
    email: str | None = None  # None: the customer account's email
    shipping_address: Address | None = None
    shipping_method: str | None = None  # a shipping rate's code


PlaceOrderError = (
    Forbidden
    | InvalidInput
    | CustomerNotFound
    | EmailNotVerified
    | TooManyOpenOrders
    | ProductsUnavailable
    | MixedCurrencies
    | MaxPerOrderExceeded
    | OutOfStock
    | ShippingMethodUnavailable
)

# The refusals that are outcomes of a request, replayed to its retries like a success.
_PLACEMENT_OUTCOMES = (
    TooManyOpenOrders,
    ProductsUnavailable,
    MixedCurrencies,
    MaxPerOrderExceeded,
    OutOfStock,
    ShippingMethodUnavailable,
)
_NOT_AN_EMAIL = "is not an email address"


def checked_email(fields: FieldErrors, raw: str) -> str:
    """An order's contact email, trimmed, as far as its text goes (whether it is an address
    is the accounts' rule, asked through the customer directory)."""
    email = raw.strip()
    if fields.text("email", raw) and not 3 <= len(email) <= EMAIL_MAX:
        fields.fail("email", f"must be an email address of at most {EMAIL_MAX} characters")
    return email


def _checked_checkout(fields: FieldErrors, new: NewOrder) -> NewOrder:
    """``new``'s contact email, address and shipping method, normalised; each broken rule is
    added to ``fields``."""
    email = None if new.email is None else checked_email(fields, new.email)
    address = new.shipping_address
    if address is not None:
        address = checked_address(fields, address, "shipping_address")
    method = new.shipping_method
    if method is not None and fields.text("shipping_method", method):
        method = normalise_rate_code(method)
        if method is None:
            fields.fail("shipping_method", RATE_CODE_RULE)
            method = new.shipping_method
    return NewOrder(new.lines, new.customer_id, email, address, method)


def _checked_lines(new: NewOrder) -> list[LineRequest] | InvalidInput:
    fields = FieldErrors()
    if not 1 <= len(new.lines) <= MAX_LINES:
        fields.fail("lines", f"must hold 1-{MAX_LINES} lines")
    lines: list[LineRequest] = []
    seen: set[str] = set()
    for index, line in enumerate(new.lines):
        sku = normalise_sku(line.sku)
        if sku is None:
            fields.fail(f"lines.{index}.sku", "is not a SKU")
            continue
        if sku in seen:
            fields.fail(f"lines.{index}.sku", "repeats a SKU of an earlier line")
        seen.add(sku)
        if not 1 <= line.quantity <= MAX_QUANTITY:
            fields.fail(f"lines.{index}.quantity", f"must be 1-{MAX_QUANTITY}")
        lines.append(LineRequest(sku, line.quantity))
    if new.customer_id is not None:
        fields.text("customer_id", new.customer_id)
    if fields.errors:
        return InvalidInput(tuple(fields.errors))
    return lines


def _checked_total(lines: Sequence[OrderLine]) -> Money | InvalidInput:
    """The subtotal of priced ``lines``: each line's subtotal and the total are amounts Orderly
    keeps (at most :data:`~orderly_core.shared.money.MAX_MINOR_UNITS` minor units)."""
    fields = FieldErrors()
    for index, line in enumerate(lines):
        if line.subtotal > MAX_MINOR_UNITS:
            fields.fail(f"lines.{index}", f"its subtotal exceeds {MAX_MINOR_UNITS} minor units")
    total = sum(line.subtotal for line in lines)
    if total > MAX_MINOR_UNITS:
        fields.fail("lines", f"the order's total exceeds {MAX_MINOR_UNITS} minor units")
    if fields.errors:
        return InvalidInput(tuple(fields.errors))
    return Money(total, lines[0].unit_price.currency)


def _priced(
    lines: Sequence[LineRequest], products: dict[str, Product]
) -> (
    tuple[OrderLine, ...] | ProductsUnavailable | MixedCurrencies | MaxPerOrderExceeded | OutOfStock
):
    missing = tuple(
        line.sku for line in lines if line.sku not in products or not products[line.sku].active
    )
    if missing:
        return ProductsUnavailable(missing)
    currencies = sorted({products[line.sku].price.currency for line in lines})
    if len(currencies) > 1:
        return MixedCurrencies(tuple(currencies))
    over = tuple(
        OverLimitLine(line.sku, line.quantity, limit)
        for line in lines
        if (limit := products[line.sku].max_per_order) is not None and line.quantity > limit
    )
    if over:
        return MaxPerOrderExceeded(over)
    short = tuple(
        ShortLine(line.sku, line.quantity, products[line.sku].stock.available)
        for line in lines
        if products[line.sku].stock.available < line.quantity
    )
    if short:
        return OutOfStock(short)
    return tuple(OrderLine(line.sku, line.quantity, products[line.sku].price) for line in lines)


async def _customer_account(uow: OrdersUnit, ctx: Context, customer: str) -> str | CustomerNotFound:
    """The id of the account an order is for: the caller's own, or the active customer account
    an operator or Orderly names by id or email."""
    if own_account(ctx.actor) is not None:
        return customer
    found = await uow.customers.active_customer(customer)
    return CustomerNotFound(customer) if found is None else found


@dataclass(frozen=True, slots=True)
class _Shipping:
    """How a placement ships: the method chosen (if any), its price, and the quote."""

    method: str | None
    price: int
    options: tuple[ShippingOption, ...]


def _missing_checkout(new: NewOrder) -> InvalidInput | None:
    """What a shop with shipping rates needs of a placement and did not get."""
    fields = FieldErrors()
    if new.shipping_address is None:
        fields.fail("shipping_address", "is required: this shop ships its orders")
    if new.shipping_method is None:
        fields.fail("shipping_method", "is required: one of the shop's shipping methods")
    return InvalidInput(tuple(fields.errors)) if fields.errors else None


def _shipping(
    new: NewOrder, rates: Sequence[ShippingRate], subtotal: Money, *, quote: bool
) -> _Shipping | InvalidInput | ShippingMethodUnavailable:
    """The shipping of an order of ``subtotal`` placed as ``new`` asks, among the shop's
    active ``rates``. A shop without rates charges nothing and takes no method; a shop with
    rates needs an address and one of the methods serving it. A ``quote`` (a dry run) may
    leave both out, to be told the methods."""
    address = new.shipping_address
    country = None if address is None else address.country
    currency = subtotal.currency
    if not rates:
        if new.shipping_method is not None:
            return ShippingMethodUnavailable(new.shipping_method, country, currency)
        return _Shipping(None, 0, ())
    if not quote and (missing := _missing_checkout(new)):
        return missing
    options = tuple(
        ShippingOption(rate.code, rate.name, rate.price_for(subtotal.amount))
        for rate in rates
        if rate.serves(country, currency)
    )
    chosen = next((o for o in options if o.code == new.shipping_method), None)
    if new.shipping_method is not None and chosen is None:
        return ShippingMethodUnavailable(new.shipping_method, country, currency)
    price = 0 if chosen is None else chosen.price.amount
    if subtotal.amount + price > MAX_MINOR_UNITS:
        return InvalidInput.single(
            "shipping_method", f"the order's total exceeds {MAX_MINOR_UNITS} minor units"
        )
    return _Shipping(None if chosen is None else chosen.code, price, options)


def _new_order(
    deps: OrdersServices,
    *,
    customer_id: str,
    lines: tuple[OrderLine, ...],
    new: NewOrder,
    email: str | None,
    shipping: _Shipping,
) -> Order:
    """A placed order holding its stock until it is paid or expires."""
    now = deps.clock.now()
    return Order(
        id=deps.ids.new_id(),
        customer_id=customer_id,
        status=OrderStatus.PLACED,
        lines=lines,
        placed_at=now,
        updated_at=now,
        expires_at=now + deps.order_ttl,
        version=1,
        email=email,
        shipping_address=new.shipping_address,
        shipping_method=shipping.method,
        shipping_price=shipping.price,
    )


async def _contact_email(
    uow: OrdersUnit, new: NewOrder, customer_id: str
) -> str | InvalidInput | None:
    """The email given with the order, as accounts write it, or the customer's own."""
    if new.email is None:
        return await uow.customers.email_of(customer_id)
    email = uow.customers.normalised_email(new.email)
    return InvalidInput.single("email", _NOT_AN_EMAIL) if email is None else email


async def _unverified_refused(
    deps: OrdersServices, uow: OrdersUnit, ctx: Context, customer_id: str
) -> bool:
    """Whether a customer ordering for themselves is refused for an unverified email (only
    when the shop says so; staff, operators and Orderly order for anyone)."""
    if deps.mail.unverified_may_order or own_account(ctx.actor) is None:
        return False
    return not await uow.customers.email_verified(customer_id)


async def _checked_customer(
    deps: OrdersServices, uow: OrdersUnit, ctx: Context, customer: str, new: NewOrder
) -> (
    tuple[str, str | None] | CustomerNotFound | EmailNotVerified | TooManyOpenOrders | InvalidInput
):
    """The account the order is for, if it may hold one more unpaid order, and the order's
    contact email."""
    customer_id = await _customer_account(uow, ctx, customer)
    if isinstance(customer_id, CustomerNotFound):
        return customer_id
    if await _unverified_refused(deps, uow, ctx, customer_id):
        return EmailNotVerified()
    if refused := await _holds_refused(deps, uow, customer_id):
        return refused
    email = await _contact_email(uow, new, customer_id)
    return email if isinstance(email, InvalidInput) else (customer_id, email)


async def _priced_shipping(
    uow: OrdersUnit, new: NewOrder, lines: tuple[OrderLine, ...], *, quote: bool
) -> _Shipping | InvalidInput | ShippingMethodUnavailable:
    """The shipping of the priced ``lines``, whose subtotal must be an amount Orderly keeps."""
    subtotal = _checked_total(lines)
    if isinstance(subtotal, InvalidInput):
        return subtotal
    return _shipping(new, await uow.shipping_rates.active_rates(), subtotal, quote=quote)


async def _holds_refused(
    deps: OrdersServices, uow: OrdersUnit, customer_id: str
) -> TooManyOpenOrders | None:
    """The refusal when the customer already holds the most unpaid orders allowed. The
    customer's lock is held from here to the end of the placement, so two placements
    racing for the last slot are one order and one refusal."""
    await uow.orders.lock_customer(customer_id)
    limit = deps.max_open_unpaid_orders
    if await uow.orders.open_unpaid(customer_id, deps.clock.now()) >= limit:
        return TooManyOpenOrders(customer_id, limit)
    return None


async def _record_placement(
    deps: OrdersServices, uow: OrdersUnit, ctx: Context, order: Order, products: dict[str, Product]
) -> None:
    """The placement's effects: the order kept, its stock reserved, audited and announced."""
    await uow.orders.add(order)
    await move_stock(deps, uow, ctx, order, kind=MovementKind.RESERVATION, products=products)
    await record(
        deps,
        uow,
        ctx,
        "order.place",
        target=("order", str(order.id)),
        before=None,
        after=order_view(order),
    )
    await announce(deps, uow, ctx, EventType.ORDER_PLACED, order)


async def place_order(
    deps: OrdersServices, ctx: Context, new: NewOrder
) -> Idempotent[Placement, PlaceOrderError]:
    """Place an order and reserve its stock, all or nothing.

    Rules: 1-100 lines, 1-1000 of each (and at most a product's own `max_per_order`), no
    SKU twice, only active products, one currency. A customer holds at most
    `MAX_OPEN_UNPAID_ORDERS` unpaid orders (3 by default; expired ones do not count): one
    more is refused with `too_many_open_orders`. Customers order for themselves; an operator
    or Orderly names the customer, by account id or email, and the order is placed for that
    account only when it is an active customer's (:class:`CustomerNotFound` otherwise, in a
    dry run too). The contact `email` defaults to the customer account's. When the shop
    has active shipping rates, a `shipping_address` and a `shipping_method` are required:
    the code of an active rate in the order's currency serving the address's country, whose
    price is captured (0 once the subtotal reaches the rate's `free_above`); a shop without
    rates charges no shipping and takes no method. `total = subtotal + shipping`. When any
    line cannot be reserved, nothing is and every short line is named with the quantity
    asked and available. Prices are captured now; an unpaid order is cancelled once it
    expires (30 minutes by default). A dry run is the quote: the priced order and the
    shipping methods available for its address (it may leave the address and method out).
    With an idempotency key, a retry gets the first outcome again, an order or a refusal
    (see :mod:`orderly_core.platform.idempotency`).
    """
    customer = customer_for_placement(ctx.actor, new.customer_id)
    if isinstance(customer, Forbidden):
        return Failure(customer)
    lines = _checked_lines(new)
    if isinstance(lines, InvalidInput):
        return Failure(lines)
    fields = FieldErrors()
    checkout = _checked_checkout(fields, new)
    if invalid := fields.invalid():
        return invalid

    async def work(uow: OrdersUnit) -> Result[Placement, PlaceOrderError]:
        found = await _checked_customer(deps, uow, ctx, customer, checkout)
        if not isinstance(found, tuple):
            return Failure(found)
        customer_id, email = found
        products = await uow.products.get_many([line.sku for line in lines], for_update=True)
        priced = _priced(lines, products)
        if not isinstance(priced, tuple):
            return Failure(priced)
        shipping = await _priced_shipping(uow, checkout, priced, quote=not ctx.applies_changes)
        if not isinstance(shipping, _Shipping):
            return Failure(shipping)
        order = _new_order(
            deps,
            customer_id=customer_id,
            lines=priced,
            new=checkout,
            email=email,
            shipping=shipping,
        )
        await _record_placement(deps, uow, ctx, order, products)
        availability = tuple(
            LineAvailability(line.sku, line.quantity, products[line.sku].stock.available)
            for line in lines
        )
        return Success(Placement(order, availability, shipping.options))

    request = NewOrder(
        tuple(lines),
        customer_id=customer,
        email=checkout.email,
        shipping_address=checkout.shipping_address,
        shipping_method=checkout.shipping_method,
    )
    operation = Operation("order.place", request, Placement, _PLACEMENT_OUTCOMES)
    return await in_idempotent_transaction(deps, ctx, operation, work)
