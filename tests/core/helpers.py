"""Small builders shared by the core's tests."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from returns.pipeline import is_successful
from returns.result import Result

from orderly_core.catalogue.model import Product, Stock
from orderly_core.catalogue.use_cases import NewProduct, create_product
from orderly_core.orders.model import Order
from orderly_core.orders.placement import LineRequest, NewOrder
from orderly_core.orders.steps import OrderStep
from orderly_core.payments.manual import ManualPayment, PaymentRecorded, record_manual_payment
from orderly_core.platform.idempotency import Idempotent, Replayed
from orderly_core.shared.context import Actor, Context, Mode, Role
from orderly_core.shared.validation import parse_id
from orderly_core.unit_of_work import Dependencies

OPERATOR = Actor.operator("alice")


def ctx(actor: Actor = OPERATOR, mode: Mode = Mode.EXECUTE) -> Context:
    return Context(actor=actor, request_id="req-test", mode=mode)


CUSTOMER = Actor.user("u-1", Role.CUSTOMER)
STAFF = Actor.user("u-2", Role.STAFF)
ANN = Actor.user("00000000-0000-0000-0000-0000000000a1", Role.CUSTOMER)
BOB = Actor.user("00000000-0000-0000-0000-0000000000b2", Role.CUSTOMER)


def order(*lines: tuple[str, int]) -> NewOrder:
    """An order of these ``(sku, quantity)`` lines."""
    return NewOrder(tuple(LineRequest(sku, quantity) for sku, quantity in lines))


def ok[T](result: Result[T, Any]) -> T:
    assert is_successful(result), f"expected success, got {result}"
    return result.unwrap()


def fresh[T](result: Result[T | Replayed[T], Any]) -> T:
    """The value of a success that is not the replay of an earlier request."""
    value = ok(result)
    assert not isinstance(value, Replayed), f"expected a fresh outcome, got {value}"
    return value


def err[E](result: Result[Any, E]) -> E:
    assert not is_successful(result), f"expected failure, got {result}"
    return result.failure()


async def make_product(deps: Dependencies, sku: str = "MUG-1", **fields: Any) -> Product:
    spec: dict[str, Any] = {"name": "Mug", "unit_price": 1250, "currency": "EUR", "on_hand": 10}
    spec |= fields
    return fresh(await create_product(deps, ctx(), NewProduct(sku=sku, **spec)))


async def set_reserved(deps: Dependencies, sku: str, reserved: int) -> None:
    """Reservations come from orders; here they are written straight through the port."""
    async with deps.unit_of_work() as uow:
        product = await uow.products.get(sku, for_update=True)
        assert product is not None
        await uow.products.save(replace(product, stock=Stock(product.stock.on_hand, reserved)))
        await uow.commit()


async def stored(deps: Dependencies, sku: str) -> Product | None:
    async with deps.unit_of_work() as uow:
        return await uow.products.get(sku)


def _order_of(recorded: PaymentRecorded | Replayed[PaymentRecorded]) -> Order | Replayed[Order]:
    if isinstance(recorded, Replayed):
        return Replayed(recorded.original.order, recorded.request_id)
    return recorded.order


async def pay_order(
    deps: Dependencies, context: Context, step: OrderStep
) -> Idempotent[Order, Any]:
    """Pay an order in full as a shop on the manual provider does: staff (or an operator)
    in ``context`` record a payment of its total by hand. The order as the payment left it."""
    wanted = parse_id(step.order_id)
    async with deps.unit_of_work() as uow:
        found = await uow.orders.get(wanted) if wanted else None
    amount = found.total.amount if found else 1
    payment = ManualPayment(step.order_id, amount, "paid in a test")
    return (await record_manual_payment(deps, context, payment)).map(_order_of)
