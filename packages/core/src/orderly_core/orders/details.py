"""Changing an order's checkout details: its contact email and shipping address, until it
ships (see :func:`change_order_details`)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from returns.result import Failure, Result, Success

from orderly_core.orders.address import Address, checked_address
from orderly_core.orders.effects import announce
from orderly_core.orders.errors import (
    OrderNotChangeable,
    OrderNotFound,
    ShippingMethodUnavailable,
)
from orderly_core.orders.model import Order, OrderStatus, order_view
from orderly_core.orders.placement import checked_email
from orderly_core.orders.ports import OrdersServices, OrdersUnit
from orderly_core.platform.audit import record
from orderly_core.platform.idempotency import Idempotent, Operation
from orderly_core.platform.outbox import EventType
from orderly_core.platform.transaction import in_idempotent_transaction
from orderly_core.shared.authorization import may_see_order, order_details_change_denied
from orderly_core.shared.context import Context
from orderly_core.shared.errors import Forbidden, InvalidInput, VersionConflict, version_conflict
from orderly_core.shared.validation import FieldErrors, parse_id

# An order's details may change until it leaves the warehouse.
_CHANGEABLE = frozenset({OrderStatus.PLACED, OrderStatus.PAID})


@dataclass(frozen=True, slots=True)
class OrderDetailsChange:
    """A partial change: ``None`` leaves a detail as it is."""

    order_id: str
    expected_version: int | None = None
    email: str | None = None
    shipping_address: Address | None = None


ChangeDetailsError = (
    Forbidden
    | InvalidInput
    | OrderNotFound
    | VersionConflict
    | OrderNotChangeable
    | ShippingMethodUnavailable
)

# The refusals that are outcomes of a request, replayed to its retries like a success.
_OUTCOMES = (OrderNotFound, VersionConflict, OrderNotChangeable, ShippingMethodUnavailable)


def _checked(change: OrderDetailsChange) -> OrderDetailsChange | InvalidInput:
    fields = FieldErrors()
    email = None if change.email is None else checked_email(fields, change.email)
    address = change.shipping_address
    if address is not None:
        address = checked_address(fields, address, "shipping_address")
    if email is None and address is None and not fields.errors:
        fields.fail("changes", "name at least one detail to change: email, shipping_address")
    if fields.errors:
        return InvalidInput(tuple(fields.errors))
    return replace(change, email=email, shipping_address=address)


async def _serving_refusal(
    uow: OrdersUnit, order: Order, address: Address | None
) -> ShippingMethodUnavailable | None:
    """An order placed with a shipping rate ships only where that rate serves (retired or
    not: the order keeps the price it was placed with)."""
    if address is None or order.shipping_method is None:
        return None
    rate = await uow.shipping_rates.get(order.shipping_method)
    if rate is None or not rate.countries or address.country in rate.countries:
        return None
    return ShippingMethodUnavailable(order.shipping_method, address.country, order.currency)


async def _changed(
    uow: OrdersUnit, change: OrderDetailsChange, order: Order
) -> Order | InvalidInput | VersionConflict | OrderNotChangeable | ShippingMethodUnavailable:
    """``order`` with the change applied (the same order when nothing changes)."""
    subject = ("order", str(order.id))
    if conflict := version_conflict(subject, change.expected_version, order.version):
        return conflict
    if order.status not in _CHANGEABLE:
        return OrderNotChangeable(str(order.id), order.status.value)
    email = order.email
    if change.email is not None:
        email = uow.customers.normalised_email(change.email)
        if email is None:
            return InvalidInput.single("email", "is not an email address")
    if refused := await _serving_refusal(uow, order, change.shipping_address):
        return refused
    address = change.shipping_address or order.shipping_address
    return replace(order, email=email, shipping_address=address)


async def change_order_details(
    deps: OrdersServices, ctx: Context, change: OrderDetailsChange
) -> Idempotent[Order, ChangeDetailsError]:
    """Change the contact email or the shipping address of an order not yet shipped
    (placed or paid).

    The order's customer and staff may (another customer's order is not found). The address
    follows the rules of a placement's; an order placed with a shipping method keeps it and
    its price, so the new address must be in a country its rate serves
    (`shipping_method_unavailable` otherwise). With `expected_version` the change applies
    only to that version. A change that leaves both as they were creates no new version;
    otherwise the order's version goes up, the change is audited (`order.update`) and
    `order.updated` is sent with the order.
    """
    if denied := order_details_change_denied(ctx.actor):
        return Failure(denied)
    checked = _checked(change)
    if isinstance(checked, InvalidInput):
        return Failure(checked)

    async def visible(uow: OrdersUnit, *, for_update: bool) -> Order | OrderNotFound:
        wanted = parse_id(change.order_id)
        order = await uow.orders.get(wanted, for_update=for_update) if wanted else None
        if order is None or not may_see_order(ctx.actor, order.customer_id):
            return OrderNotFound(change.order_id)
        return order

    async def work(uow: OrdersUnit) -> Result[Order, ChangeDetailsError]:
        order = await visible(uow, for_update=True)
        if isinstance(order, OrderNotFound):
            return Failure(order)
        changed = await _changed(uow, checked, order)
        if not isinstance(changed, Order):
            return Failure(changed)
        if changed == order:
            return Success(order)
        changed = replace(changed, version=order.version + 1, updated_at=deps.clock.now())
        await uow.orders.save(changed)
        subject = ("order", str(order.id))
        before, after = order_view(order), order_view(changed)
        await record(deps, uow, ctx, "order.update", target=subject, before=before, after=after)
        await announce(deps, uow, ctx, EventType.ORDER_UPDATED, changed)
        return Success(changed)

    async def replay_refusal(uow: OrdersUnit) -> ChangeDetailsError | None:
        """Today's answer to an actor who may no longer see the order."""
        order = await visible(uow, for_update=False)
        return order if isinstance(order, OrderNotFound) else None

    operation = Operation("order.update", checked, Order, _OUTCOMES)
    return await in_idempotent_transaction(
        deps, ctx, operation, work, replay_refusal=replay_refusal
    )
