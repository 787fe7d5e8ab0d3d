"""Order use cases: placing (with stock reservation) and every step of the lifecycle.

Stock moves with the order, in the order's transaction: placing reserves each line
(``reserved += q``), cancelling or expiring releases it, shipping consumes it (``on_hand -= q``
and ``reserved -= q``). Product rows are locked in SKU order, so orders sharing products never
deadlock, and no more is ever reserved than is on hand. Each movement goes to the stock
ledger and each change to the audit trail.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace

from returns.result import Failure, Result, Success

from orderly_core.catalogue.ledger import MovementKind
from orderly_core.catalogue.model import Product, Stock, normalise_sku
from orderly_core.catalogue.stock import record_movement
from orderly_core.orders.errors import (
    CustomerNotFound,
    IllegalTransition,
    MixedCurrencies,
    OrderNotFound,
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
    OrderQuery,
    OrderStatus,
    Placement,
    may_move,
    order_view,
)
from orderly_core.orders.ports import OrdersServices, OrdersUnit
from orderly_core.platform.audit import record
from orderly_core.platform.idempotency import Idempotent, Operation
from orderly_core.platform.outbox import EventType, publish
from orderly_core.platform.transaction import in_idempotent_transaction, in_transaction
from orderly_core.shared.authorization import (
    customer_filter_for_listing,
    customer_for_placement,
    may_see_order,
    operations_denied,
    order_move_denied,
    own_account,
)
from orderly_core.shared.context import Context
from orderly_core.shared.errors import Forbidden, InvalidInput, VersionConflict, version_conflict
from orderly_core.shared.money import MAX_MINOR_UNITS, Money
from orderly_core.shared.paging import NEWEST_FIRST, Page, checked_page
from orderly_core.shared.validation import FieldErrors, parse_id, text_problem


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


@dataclass(frozen=True, slots=True)
class OrderStep:
    order_id: str
    expected_version: int | None = None


@dataclass(frozen=True, slots=True)
class ExpiryReport:
    expired: tuple[uuid.UUID, ...]
    applied: bool


PlaceOrderError = (
    Forbidden | InvalidInput | CustomerNotFound | ProductsUnavailable | MixedCurrencies | OutOfStock
)
StepError = Forbidden | OrderNotFound | IllegalTransition | VersionConflict

# The failures that are outcomes of a request, replayed to its retries like a success.
_PLACEMENT_OUTCOMES = (ProductsUnavailable, MixedCurrencies, OutOfStock)
_STEP_OUTCOMES = (OrderNotFound, IllegalTransition, VersionConflict)


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


async def _move_stock(
    deps: OrdersServices,
    uow: OrdersUnit,
    ctx: Context,
    order: Order,
    *,
    kind: MovementKind,
    products: dict[str, Product] | None = None,
) -> None:
    """Apply one stock effect to every line of ``order``, rows locked in SKU order."""
    if products is None:
        products = await uow.products.get_many([line.sku for line in order.lines], for_update=True)
    now = deps.clock.now()
    for line in sorted(order.lines, key=lambda line: line.sku):
        delta = {
            MovementKind.RESERVATION: Stock(0, line.quantity),
            MovementKind.RELEASE: Stock(0, -line.quantity),
            MovementKind.SHIPMENT: Stock(-line.quantity, -line.quantity),
        }[kind]
        product = products[line.sku]
        stock = Stock(
            product.stock.on_hand + delta.on_hand, product.stock.reserved + delta.reserved
        )
        moved = replace(product, stock=stock).bumped(now)
        await uow.products.save(moved)
        await record_movement(
            deps,
            uow,
            ctx,
            product=moved,
            kind=kind,
            delta=delta,
            note=f"order {kind.value}",
            reference=str(order.id),
        )


_EVENT_OF = {
    OrderStatus.PAID: EventType.ORDER_PAID,
    OrderStatus.SHIPPED: EventType.ORDER_SHIPPED,
    OrderStatus.DELIVERED: EventType.ORDER_DELIVERED,
    OrderStatus.CANCELLED: EventType.ORDER_CANCELLED,
}


async def _announce(
    deps: OrdersServices, uow: OrdersUnit, ctx: Context, event_type: EventType, order: Order
) -> None:
    """The order's event, with the order as it now is; its version orders its events."""
    await publish(
        deps,
        uow,
        ctx,
        event_type,
        subject=f"order:{order.id}",
        sequence=order.version,
        data=order_view(order),
    )


async def _customer_account(uow: OrdersUnit, ctx: Context, customer: str) -> str | CustomerNotFound:
    """The id of the account an order is for: the caller's own, or the active customer account
    an operator or Orderly names by id or email."""
    if own_account(ctx.actor) is not None:
        return customer
    found = await uow.customers.active_customer(customer)
    return CustomerNotFound(customer) if found is None else found


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
        now = deps.clock.now()
        order = Order(
            id=deps.ids.new_id(),
            customer_id=customer_id,
            status=OrderStatus.PLACED,
            lines=priced,
            total=total,
            placed_at=now,
            updated_at=now,
            expires_at=now + deps.order_ttl,
            version=1,
        )
        await uow.orders.add(order)
        await _move_stock(deps, uow, ctx, order, kind=MovementKind.RESERVATION, products=products)
        await record(
            deps,
            uow,
            ctx,
            "order.place",
            target=("order", str(order.id)),
            before=None,
            after=order_view(order),
        )
        await _announce(deps, uow, ctx, EventType.ORDER_PLACED, order)
        availability = tuple(
            LineAvailability(line.sku, line.quantity, products[line.sku].stock.available)
            for line in lines
        )
        return Success(Placement(order, availability))

    request = NewOrder(tuple(lines), customer_id=customer)
    operation = Operation("order.place", request, Placement, _PLACEMENT_OUTCOMES)
    return await in_idempotent_transaction(deps, ctx, operation, work)


async def get_order(
    deps: OrdersServices, ctx: Context, order_id: str
) -> Result[Order, OrderNotFound]:
    """One order. Customers see only their own: anyone else's is 'not found'."""

    async def work(uow: OrdersUnit) -> Result[Order, OrderNotFound]:
        wanted = parse_id(order_id)
        order = await uow.orders.get(wanted) if wanted else None
        if order is None or not may_see_order(ctx.actor, order.customer_id):
            return Failure(OrderNotFound(order_id))
        return Success(order)

    return await in_transaction(deps, ctx, work)


async def list_orders(
    deps: OrdersServices, ctx: Context, query: OrderQuery
) -> Result[Page[Order], Forbidden | InvalidInput]:
    """Orders newest first (keyset pagination). Customers see their own; staff see all and
    may filter by status, customer and a time range [since, until)."""
    customer = customer_filter_for_listing(ctx.actor, query.customer_id)
    if isinstance(customer, Forbidden):
        return Failure(customer)
    fields = FieldErrors()
    if query.customer_id not in (None, customer):
        # A customer's listing is their own whatever they named, but what they sent is text.
        fields.text("customer_id", query.customer_id)
    query = replace(query, customer_id=customer)
    page = checked_page(fields, query, NEWEST_FIRST)
    if query.since and query.until and query.since >= query.until:
        fields.fail("until", "must be after since")
    if invalid := fields.invalid():
        return invalid

    async def work(uow: OrdersUnit) -> Result[Page[Order], Forbidden | InvalidInput]:
        found = await uow.orders.list(after=page.after, limit=page.fetch_limit, query=query)
        return Success(page.cut(found, lambda o: (o.placed_at, o.id)))

    return await in_transaction(deps, ctx, work)


_STOCK_EFFECT = {
    OrderStatus.SHIPPED: MovementKind.SHIPMENT,
    OrderStatus.CANCELLED: MovementKind.RELEASE,
}


async def _step(
    deps: OrdersServices,
    ctx: Context,
    step: OrderStep,
    target: OrderStatus,
    *,
    reason: str | None = None,
    expiring: bool = False,
) -> Idempotent[Order, StepError]:
    async def work(uow: OrdersUnit) -> Result[Order, StepError]:
        wanted = parse_id(step.order_id)
        order = await uow.orders.get(wanted, for_update=True) if wanted else None
        if order is None or not may_see_order(ctx.actor, order.customer_id):
            return Failure(OrderNotFound(step.order_id))
        if denied := order_move_denied(ctx.actor, target):
            return Failure(denied)
        subject = ("order", str(order.id))
        if conflict := version_conflict(subject, step.expected_version, order.version):
            return Failure(conflict)
        if not may_move(order.status, target):
            return Failure(IllegalTransition(str(order.id), order.status.value, target.value))
        moved = replace(
            order,
            status=target,
            cancel_reason=reason if target is OrderStatus.CANCELLED else order.cancel_reason,
            version=order.version + 1,
            updated_at=deps.clock.now(),
        )
        await uow.orders.save(moved)
        if (kind := _STOCK_EFFECT.get(target)) is not None:
            await _move_stock(deps, uow, ctx, order, kind=kind)
        operation = "order.expire" if expiring else f"order.{target.value}"
        await record(
            deps,
            uow,
            ctx,
            operation,
            target=subject,
            before=order_view(order),
            after=order_view(moved),
        )
        await _announce(deps, uow, ctx, _EVENT_OF[target], moved)
        return Success(moved)

    async def replay_refusal(uow: OrdersUnit) -> StepError | None:
        """Today's answer to an actor who may no longer see the order or make the step."""
        wanted = parse_id(step.order_id)
        order = await uow.orders.get(wanted) if wanted else None
        if order is None or not may_see_order(ctx.actor, order.customer_id):
            return OrderNotFound(step.order_id)
        return order_move_denied(ctx.actor, target)

    if expiring:  # one sweep expires many orders: its key names the sweep, not a step
        return await in_transaction(deps, ctx, work)
    request = {"step": step, "reason": reason}
    operation = Operation(f"order.{target.value}", request, Order, _STEP_OUTCOMES)
    return await in_idempotent_transaction(
        deps, ctx, operation, work, replay_refusal=replay_refusal
    )


async def pay_order(
    deps: OrdersServices, ctx: Context, step: OrderStep
) -> Idempotent[Order, StepError]:
    """Mark a placed order paid (its owner, or staff)."""
    return await _step(deps, ctx, step, OrderStatus.PAID)


async def ship_order(
    deps: OrdersServices, ctx: Context, step: OrderStep
) -> Idempotent[Order, StepError]:
    """Mark a paid order shipped (staff): its reserved stock leaves the warehouse."""
    return await _step(deps, ctx, step, OrderStatus.SHIPPED)


async def deliver_order(
    deps: OrdersServices, ctx: Context, step: OrderStep
) -> Idempotent[Order, StepError]:
    """Mark a shipped order delivered (staff)."""
    return await _step(deps, ctx, step, OrderStatus.DELIVERED)


REASON_MAX = 255


async def cancel_order(
    deps: OrdersServices, ctx: Context, step: OrderStep, reason: str = "cancelled"
) -> Idempotent[Order, StepError | InvalidInput]:
    """Cancel a placed or paid order (its owner, or staff), releasing its stock, with a reason
    of at most 255 characters. Shipped orders cannot be cancelled."""
    if problem := text_problem(reason, multiline=True):
        return Failure(InvalidInput.single("reason", problem))
    reason = reason.strip() or "cancelled"
    if len(reason) > REASON_MAX:
        return Failure(InvalidInput.single("reason", f"must be at most {REASON_MAX} characters"))
    return await _step(deps, ctx, step, OrderStatus.CANCELLED, reason=reason)


async def expire_orders(
    deps: OrdersServices, ctx: Context, *, limit: int = 500
) -> Result[ExpiryReport, Forbidden]:
    """Cancel unpaid orders past their expiry with reason ``expired``, releasing their stock.
    Operators and Orderly's scheduled job run it; each order is expired in its own step."""
    if denied := operations_denied(ctx.actor, "expire orders"):
        return Failure(denied)

    async def work(uow: OrdersUnit) -> Result[ExpiryReport, Forbidden]:
        due = await uow.orders.due_for_expiry(deps.clock.now(), limit)
        return Success(ExpiryReport(tuple(due), applied=False))

    found = await in_transaction(deps, ctx, work)
    if not isinstance(found, Success):
        return found
    expired: list[uuid.UUID] = []
    for order_id in found.unwrap().expired:
        result = await _step(
            deps,
            ctx,
            OrderStep(str(order_id)),
            OrderStatus.CANCELLED,
            reason="expired",
            expiring=True,
        )
        if isinstance(result, Success):
            expired.append(order_id)
    return Success(ExpiryReport(tuple(expired), applied=ctx.applies_changes))
