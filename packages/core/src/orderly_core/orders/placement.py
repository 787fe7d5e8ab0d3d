"""Placing an order: its lines checked, priced and reserved, all or nothing, for the right
customer (see :func:`place_order`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from returns.result import Failure, Result, Success

from orderly_core.catalogue.ledger import MovementKind
from orderly_core.catalogue.model import Product, normalise_sku
from orderly_core.orders.effects import announce, move_stock
from orderly_core.orders.errors import (
    CustomerNotFound,
    MixedCurrencies,
    OutOfStock,
    ProductsUnavailable,
    ShortLine,
)
from orderly_core.orders.model import (
    MAX_LINES,
    MAX_QUANTITY,
    LineAvailability,
    Order,
    OrderLine,
    OrderStatus,
    Placement,
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


PlaceOrderError = (
    Forbidden | InvalidInput | CustomerNotFound | ProductsUnavailable | MixedCurrencies | OutOfStock
)

# The refusals that are outcomes of a request, replayed to its retries like a success.
_PLACEMENT_OUTCOMES = (ProductsUnavailable, MixedCurrencies, OutOfStock)


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
    """The total of priced ``lines``: each line's subtotal and the total are amounts Orderly
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
) -> tuple[OrderLine, ...] | ProductsUnavailable | MixedCurrencies | OutOfStock:
    missing = tuple(
        line.sku for line in lines if line.sku not in products or not products[line.sku].active
    )
    if missing:
        return ProductsUnavailable(missing)
    currencies = sorted({products[line.sku].price.currency for line in lines})
    if len(currencies) > 1:
        return MixedCurrencies(tuple(currencies))
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


def _new_order(
    deps: OrdersServices, customer_id: str, lines: tuple[OrderLine, ...], total: Money
) -> Order:
    """A placed order holding its stock until it is paid or expires."""
    now = deps.clock.now()
    return Order(
        id=deps.ids.new_id(),
        customer_id=customer_id,
        status=OrderStatus.PLACED,
        lines=lines,
        total=total,
        placed_at=now,
        updated_at=now,
        expires_at=now + deps.order_ttl,
        version=1,
    )


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

    Rules: 1-100 lines, 1-1000 of each, no SKU twice, only active products, one currency.
    Customers order for themselves; an operator or Orderly names the customer, by account id
    or email, and the order is placed for that account only when it is an active customer's
    (:class:`CustomerNotFound` otherwise, in a dry run too). When any line cannot be
    reserved, nothing is and every short line is named with the quantity asked and
    available. Prices are captured now; an unpaid order is cancelled once it expires (30
    minutes by default). With an idempotency key, a retry gets the first outcome again, an
    order or a refusal (see :mod:`orderly_core.platform.idempotency`).
    """
    customer = customer_for_placement(ctx.actor, new.customer_id)
    if isinstance(customer, Forbidden):
        return Failure(customer)
    lines = _checked_lines(new)
    if isinstance(lines, InvalidInput):
        return Failure(lines)

    async def work(uow: OrdersUnit) -> Result[Placement, PlaceOrderError]:
        customer_id = await _customer_account(uow, ctx, customer)
        if isinstance(customer_id, CustomerNotFound):
            return Failure(customer_id)
        products = await uow.products.get_many([line.sku for line in lines], for_update=True)
        priced = _priced(lines, products)
        if not isinstance(priced, tuple):
            return Failure(priced)
        total = _checked_total(priced)
        if isinstance(total, InvalidInput):
            return Failure(total)
        order = _new_order(deps, customer_id, priced, total)
        await _record_placement(deps, uow, ctx, order, products)
        availability = tuple(
            LineAvailability(line.sku, line.quantity, products[line.sku].stock.available)
            for line in lines
        )
        return Success(Placement(order, availability))

    request = NewOrder(tuple(lines), customer_id=customer)
    operation = Operation("order.place", request, Placement, _PLACEMENT_OUTCOMES)
    return await in_idempotent_transaction(deps, ctx, operation, work)
