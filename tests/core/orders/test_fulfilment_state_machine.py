"""Random runs of what becomes of an order once placed: paid by hand in one or several parts,
shipped in parcels of random parts of what remains, delivered parcel by parcel, what remains
cancelled (some lines or all), delivered units returned, approved or rejected, received as
restock and write-off, and money given back (by staff, for cancelled units, for returns).

Hypothesis strings these steps together over a few products on a shop with one shipping
rate and the manual payment provider (its refunds succeed at once), and keeps a model of
what each step must do: every refusal the model predicts (more than remains to ship, a
return above what was delivered, a receipt above the return, a refund above what may be
refunded...) must be the typed error the use case answers, and every success must leave the
stored state the model expects. After every step, read from the stored state:

- per product: the levels equal the ledger's sums; ``reserved`` is the units still to ship of
  the placed, paid and partially shipped orders; ``on_hand + shipped - restocked = opening +
  adjustments``; the ledger's shipment, restock and write-off movements account for every
  unit that left or came back;
- per order line: ``shipped + cancelled + unshipped = ordered`` (none negative), ``delivered
  <= shipped``, ``returned <= delivered``, and the counts are those of the order's shipments
  and received returns; the order's status follows its lines;
- money: per order and per payment, what refunds gave back (pending and succeeded) is at
  most what was paid; every refund gives back a succeeded payment of its order; a refund
  made for a return names a received return of that order, and gives back at most what
  that return's units (and, once per order, the shipping) cost.

The machine runs on the in-memory fakes and on PostgreSQL (the real repositories), each walk
derandomized so CI is repeatable. Hypothesis drives the async use cases on an event loop of
the test's own.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)
from returns.pipeline import is_successful
from returns.result import Result

from orderly_core.catalogue.errors import StockBelowReserved
from orderly_core.catalogue.ledger import MovementKind, StockMovement
from orderly_core.catalogue.stock import verify_stock
from orderly_core.catalogue.use_cases import (
    NewProduct,
    StockAdjustment,
    adjust_stock,
    create_product,
)
from orderly_core.orders.address import Address
from orderly_core.orders.errors import IllegalTransition, OrderNotFound, OutOfStock, ShortLine
from orderly_core.orders.model import Order, OrderQuery, OrderStatus
from orderly_core.orders.placement import LineRequest, NewOrder, place_order
from orderly_core.orders.steps import OrderStep
from orderly_core.payments.errors import OrderNotPayable, PaymentExceedsDue, RefundExceedsRefundable
from orderly_core.payments.manual import ManualPayment, record_manual_payment
from orderly_core.payments.model import Payment, PaymentStatus, Refund, RefundStatus
from orderly_core.payments.refunds import OrderRefund, refund_order
from orderly_core.returns.errors import (
    IllegalReturnTransition,
    NothingDelivered,
    OverLine,
    ReceiptExceedsReturn,
    ReturnExceedsDelivered,
    ReturnWindowClosed,
)
from orderly_core.returns.model import Disposition, Return, ReturnStatus
from orderly_core.returns.requests import ReturnLineRequest, ReturnRequest, request_return
from orderly_core.returns.steps import (
    ReceivedLine,
    ReturnDecision,
    ReturnReceipt,
    approve_return,
    receive_return,
    reject_return,
)
from orderly_core.shared.context import Actor, Context, Mode, Role
from orderly_core.shipments.errors import (
    ExceedsRemaining,
    OrderNotFulfillable,
    RemainingLine,
    ShipmentAlreadyDelivered,
)
from orderly_core.shipments.model import Shipment, ShipmentLine, Tracking
from orderly_core.shipments.steps import RemainderCancellation, cancel_order, cancel_remainder
from orderly_core.shipments.use_cases import NewShipment, ShipmentStep, create_shipment
from orderly_core.shipments.use_cases import deliver_shipment as deliver_one
from orderly_core.shipping.use_cases import NewShippingRate, create_shipping_rate
from orderly_core.testing import FixedClock, SequentialIds, in_memory_dependencies
from orderly_core.unit_of_work import Dependencies
from orderly_db.engine import create_engine
from orderly_db.settings import InfraSettings
from orderly_db.unit_of_work import sql_dependencies
from orderly_payments.manual import ManualProvider
from tests.core.helpers import fresh
from tests.db_fixtures import FAST_PASSWORDS, truncate_all

PRICES = {"FM-A": 500, "FM-B": 1250, "FM-C": 799}
SKUS = tuple(PRICES)
SHIPPING = 450  # the shop's one shipping rate, in cents
RATE = "std"
ADDRESS = Address("Ann Example", "Hauptstr. 1", "Berlin", "DE", postal_code="10115")
CUSTOMERS = tuple(
    Actor.user(f"00000000-0000-0000-0000-00000000010{n}", Role.CUSTOMER) for n in (1, 2)
)
STAFF = Actor.user("00000000-0000-0000-0000-0000000001f1", Role.STAFF)
OPERATOR = Actor.operator("fulfilment-machine")
HOLDING = (OrderStatus.PLACED, OrderStatus.PAID, OrderStatus.PARTIALLY_SHIPPED)
FULFILLABLE = (OrderStatus.PAID, OrderStatus.PARTIALLY_SHIPPED)
RETURN_WINDOW = timedelta(days=30)
WRITTEN_OFF = re.compile(r"return write-off: (\d+) unit\(s\)")

MODES = st.sampled_from([Mode.EXECUTE, Mode.EXECUTE, Mode.EXECUTE, Mode.DRY_RUN])
# One pick per line of an order (in SKU order): how many of its units a step names, taken
# modulo what the step allows plus one; the highest pick asks for one unit too many.
TOO_MANY = 12
PICKS = st.lists(st.integers(0, TOO_MANY), min_size=2 * len(SKUS), max_size=2 * len(SKUS))
ORDER_LINES = st.dictionaries(
    st.sampled_from(SKUS), st.integers(1, 5), min_size=1, max_size=len(SKUS)
)
AMOUNT = st.sampled_from(["all", "part", "part", "over"])

FreshDependencies = Callable[[FixedClock], Coroutine[Any, Any, Dependencies]]


@dataclass
class ModelLine:
    sku: str
    quantity: int
    shipped: int = 0
    delivered: int = 0
    returned: int = 0
    cancelled: int = 0

    @property
    def unshipped(self) -> int:
        return self.quantity - self.shipped - self.cancelled


@dataclass
class ModelOrder:
    id: str
    customer: Actor
    lines: dict[str, ModelLine]  # in SKU order
    status: OrderStatus = OrderStatus.PLACED
    paid: int = 0
    refunded: int = 0
    delivered_at: datetime | None = None
    shipping_refunded: bool = False  # by a return (a cancellation's refund is in `refunded`)

    @property
    def total(self) -> int:
        return sum(PRICES[sku] * line.quantity for sku, line in self.lines.items()) + SHIPPING

    @property
    def refundable(self) -> int:
        return self.paid - self.refunded

    def following_status(self) -> OrderStatus:
        """The status a paid order has given what became of its units (the issue's rule)."""
        lines = self.lines.values()
        if any(line.unshipped for line in lines):
            shipped = any(line.shipped for line in lines)
            return OrderStatus.PARTIALLY_SHIPPED if shipped else OrderStatus.PAID
        if not any(line.shipped for line in lines):
            return OrderStatus.CANCELLED
        if all(line.delivered == line.shipped for line in lines):
            return OrderStatus.DELIVERED
        return OrderStatus.SHIPPED


@dataclass
class ModelShipment:
    id: str
    order_id: str
    units: dict[str, int]
    delivered: bool = False


@dataclass
class ModelReturn:
    id: str
    order_id: str
    lines: dict[str, int]
    status: ReturnStatus = ReturnStatus.REQUESTED


@dataclass
class ModelStock:
    opening: int
    on_hand: int
    reserved: int = 0
    adjusted: int = 0


@dataclass
class StepTally:
    """Steps taken across every example, so the test can prove how much it explored."""

    steps: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)


def _context(actor: Actor, mode: Mode = Mode.EXECUTE) -> Context:
    return Context(actor=actor, request_id="req-fulfilment-machine", mode=mode)


def _amount(kind: str, n: int, room: int) -> int:
    """An amount of money against ``room``: all of it, a part, or more than it."""
    if kind == "all" and room > 0:
        return room
    if kind == "part" and room > 0:
        return 1 + n % room
    return room + 1 + n % 700


class FulfilmentMachine(RuleBasedStateMachine):
    orders = Bundle("orders")

    def __init__(self, runner: asyncio.Runner, fresh: FreshDependencies, tally: StepTally) -> None:
        super().__init__()
        self.clock = FixedClock()
        self._runner = runner
        self.deps = self.run(fresh(self.clock))
        self.tally = tally
        self.stock: dict[str, ModelStock] = {}
        self.orders_: dict[str, ModelOrder] = {}
        self.shipments_: dict[str, ModelShipment] = {}
        self.returns_: dict[str, ModelReturn] = {}

    def run[T](self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self._runner.run(coroutine)

    def _refusal[E](self, step: str, result: Result[Any, E]) -> E | None:
        """The typed error of a refused step, ``None`` for a success; tallied either way."""
        if is_successful(result):
            self.tally.outcomes[f"{step}: done"] += 1
            return None
        error = result.failure()
        self.tally.outcomes[f"{step}: {type(error).__name__}"] += 1
        assert isinstance(error.code, str), error  # type: ignore[attr-defined]
        return error

    # --- the model's bookkeeping --------------------------------------------------------------

    def _refund(self, order: ModelOrder, amount: int, why: str) -> None:
        """Money given back: at most what the order may still refund."""
        given = min(amount, order.refundable)
        if given > 0:
            order.refunded += given
            self.tally.outcomes[f"refunded: {why}"] += 1
        if 0 < given < amount:
            self.tally.outcomes[f"refunded: {why}, capped"] += 1

    def _cancel_units(self, order: ModelOrder, units: dict[str, int]) -> None:
        for sku, q in units.items():
            order.lines[sku].cancelled += q
            self.stock[sku].reserved -= q
        order.status = order.following_status()
        amount = sum(PRICES[sku] * q for sku, q in units.items())
        if order.status is OrderStatus.CANCELLED:
            amount += SHIPPING  # nothing shipped: the shipping is given back too
        self._refund(order, amount, "cancellation")

    def _lines(
        self, order: ModelOrder, picks: list[int], room: Callable[[ModelLine], int]
    ) -> dict[str, int]:
        """Units per SKU, each at most one more than ``room`` allows; at least one line."""
        units = {
            sku: room(line) + 1 if pick == TOO_MANY else pick % (room(line) + 1)
            for (sku, line), pick in zip(order.lines.items(), picks, strict=False)
        }
        units = {sku: q for sku, q in units.items() if q}
        return units or {next(iter(order.lines)): 1}

    # --- setting up ---------------------------------------------------------------------------

    @initialize(
        target=orders,
        opening=st.lists(st.integers(0, 30), min_size=len(SKUS), max_size=len(SKUS)),
        first=st.lists(ORDER_LINES, min_size=1, max_size=3),
    )
    def open_shop(self, opening: list[int], first: list[dict[str, int]]) -> Any:
        """The shop's rate and products, and the orders a walk starts from (it need not wait
        for its own placements to find one)."""
        operator = _context(OPERATOR)
        rate = NewShippingRate(RATE, "Standard", SHIPPING, "EUR")
        assert is_successful(self.run(create_shipping_rate(self.deps, operator, rate)))
        for sku, on_hand in zip(SKUS, opening, strict=True):
            new = NewProduct(
                sku=sku, name=sku, unit_price=PRICES[sku], currency="EUR", on_hand=on_hand
            )
            assert is_successful(self.run(create_product(self.deps, operator, new)))
            self.stock[sku] = ModelStock(opening=on_hand, on_hand=on_hand)
        placed = (self.place(CUSTOMERS[i % len(CUSTOMERS)], lines) for i, lines in enumerate(first))
        return multiple(*(order for order in placed if isinstance(order, str)))

    @rule(target=orders, customer=st.sampled_from(CUSTOMERS), lines=ORDER_LINES)
    def place(self, customer: Actor, lines: dict[str, int]) -> Any:
        new = NewOrder(
            tuple(LineRequest(sku, q) for sku, q in lines.items()),
            shipping_address=ADDRESS,
            shipping_method=RATE,
        )
        result = self.run(place_order(self.deps, _context(customer), new))
        stock = self.stock
        short = tuple(
            ShortLine(sku, q, stock[sku].on_hand - stock[sku].reserved)
            for sku, q in lines.items()
            if stock[sku].on_hand - stock[sku].reserved < q
        )
        if short:
            assert self._refusal("place", result) == OutOfStock(short)
            return multiple()
        assert self._refusal("place", result) is None
        placed = fresh(result).order
        assert placed.total.amount == sum(PRICES[s] * q for s, q in lines.items()) + SHIPPING
        for sku, q in lines.items():
            stock[sku].reserved += q
        order_lines = {sku: ModelLine(sku, lines[sku]) for sku in sorted(lines)}
        order = ModelOrder(str(placed.id), customer, order_lines)
        self.orders_[order.id] = order
        return order.id

    # --- money in and out ---------------------------------------------------------------------

    @rule(order=orders, kind=AMOUNT, n=st.integers(0, 10_000))
    def pay(self, order: str, kind: str, n: int) -> None:
        """Staff record money that arrived by hand: all that is due, a part, or too much."""
        self._pay(order, kind, n)

    def _pay(self, order: str, kind: str, n: int) -> None:
        model = self.orders_[order]
        due = model.total - model.paid
        amount = _amount(kind, n, due)
        payment = ManualPayment(order, amount, f"transfer {n}")
        result = self.run(record_manual_payment(self.deps, _context(STAFF), payment))
        refusal = self._refusal("pay", result)
        if model.status is not OrderStatus.PLACED:
            assert refusal == OrderNotPayable(order, model.status.value)
        elif amount > due:
            assert refusal == PaymentExceedsDue(order, amount, due, "EUR")
        else:
            assert refusal is None
            model.paid += amount
            if model.paid == model.total:
                model.status = OrderStatus.PAID
                self.tally.outcomes["pay: paid in full"] += 1

    @rule(order=orders, kind=AMOUNT, n=st.integers(0, 10_000), mode=MODES)
    def refund(self, order: str, kind: str, n: int, mode: Mode) -> None:
        """Staff give back money of any order: what remains, a part, or too much."""
        model = self.orders_[order]
        amount = _amount(kind, n, model.refundable)
        request = OrderRefund(order, amount, "goodwill")
        result = self.run(refund_order(self.deps, _context(STAFF, mode), request))
        refusal = self._refusal("refund", result)
        if amount > model.refundable:
            assert refusal == RefundExceedsRefundable(order, amount, model.refundable, "EUR")
        else:
            assert refusal is None
            if mode is Mode.EXECUTE:
                self._refund(model, amount, "staff")

    # --- shipping -----------------------------------------------------------------------------

    def _remaining_refusal(self, model: ModelOrder, units: dict[str, int]) -> object:
        if model.status not in FULFILLABLE:
            return OrderNotFulfillable(model.id, model.status.value)
        over = tuple(
            RemainingLine(sku, q, model.lines[sku].unshipped)
            for sku, q in units.items()
            if q > model.lines[sku].unshipped
        )
        return ExceedsRemaining(model.id, over) if over else None

    @rule(order=orders, picks=PICKS, mode=MODES)
    def ship(self, order: str, picks: list[int], mode: Mode) -> None:
        """Staff ship a random part of what remains (now and then one unit too many)."""
        model = self.orders_[order]
        units = self._lines(model, picks, lambda line: line.unshipped)
        lines = tuple(ShipmentLine(sku, q) for sku, q in units.items())
        new = NewShipment(order, lines, Tracking("DHL", f"TRK-{len(self.shipments_)}"))
        result = self.run(create_shipment(self.deps, _context(STAFF, mode), new))
        expected = self._remaining_refusal(model, units)
        assert self._refusal("ship", result) == expected
        if expected is not None or mode is Mode.DRY_RUN:
            return
        shipment: Shipment = fresh(result)
        assert shipment.units == units
        for sku, q in units.items():
            model.lines[sku].shipped += q
            self.stock[sku].on_hand -= q
            self.stock[sku].reserved -= q
        model.status = model.following_status()
        self.tally.outcomes[f"ship: order {model.status.value}"] += 1
        self.shipments_[str(shipment.id)] = ModelShipment(str(shipment.id), order, units)

    @rule(order=orders, pick=st.integers(0, 20))
    def deliver(self, order: str, pick: int) -> None:
        """One of the order's shipments delivered (or, delivered already, refused)."""
        parcels = [s for s in self.shipments_.values() if s.order_id == order]
        if parcels:
            self._deliver(parcels[pick % len(parcels)].id)

    def _deliver(self, shipment: str) -> None:
        model = self.shipments_[shipment]
        result = self.run(deliver_one(self.deps, _context(STAFF), ShipmentStep(shipment)))
        refusal = self._refusal("deliver", result)
        if model.delivered:
            assert refusal == ShipmentAlreadyDelivered(shipment)
            return
        assert refusal is None
        model.delivered = True
        order = self.orders_[model.order_id]
        for sku, q in model.units.items():
            order.lines[sku].delivered += q
        order.delivered_at = self.clock.now()
        order.status = order.following_status()

    @rule(order=orders, everything=st.booleans(), picks=PICKS, mode=MODES)
    def cancel_remainder(self, order: str, everything: bool, picks: list[int], mode: Mode) -> None:
        """Staff cancel what remains of a paid order, or some of it: refunded at once."""
        model = self.orders_[order]
        units = self._lines(model, picks, lambda line: line.unshipped)
        lines = None if everything else tuple(ShipmentLine(s, q) for s, q in units.items())
        if everything:
            units = {s: line.unshipped for s, line in model.lines.items() if line.unshipped}
        request = RemainderCancellation(order, lines, "out of stock")
        result = self.run(cancel_remainder(self.deps, _context(STAFF, mode), request))
        expected = self._remaining_refusal(model, units)
        assert self._refusal("cancel_remainder", result) == expected
        if expected is None and mode is Mode.EXECUTE:
            self._cancel_units(model, units)

    @rule(order=orders, by_owner=st.booleans())
    def cancel(self, order: str, by_owner: bool) -> None:
        """The whole of a placed or paid order cancelled (by its owner or staff): whatever
        its payments took is refunded, shipping included."""
        model = self.orders_[order]
        actor = model.customer if by_owner else STAFF
        result = self.run(cancel_order(self.deps, _context(actor), OrderStep(order)))
        refusal = self._refusal("cancel", result)
        if model.status not in (OrderStatus.PLACED, OrderStatus.PAID):
            assert refusal == IllegalTransition(order, model.status.value, "cancelled")
            return
        assert refusal is None
        self._cancel_units(model, {s: line.unshipped for s, line in model.lines.items()})

    # --- returns ------------------------------------------------------------------------------

    def _claimed(self, order: str, sku: str) -> int:
        """Units of ``sku`` that open returns of ``order`` ask for."""
        return sum(
            r.lines.get(sku, 0)
            for r in self.returns_.values()
            if r.order_id == order and r.status in (ReturnStatus.REQUESTED, ReturnStatus.APPROVED)
        )

    def _returnable(self, order: ModelOrder, line: ModelLine) -> int:
        return line.delivered - line.returned - self._claimed(order.id, line.sku)

    @rule(
        order=orders,
        picks=PICKS,
        who=st.sampled_from(["owner", "staff", "stranger"]),
    )
    def request(self, order: str, picks: list[int], who: str) -> None:
        """A return of delivered units (now and then one more than may be returned)."""
        model = self.orders_[order]
        units = self._lines(model, picks, lambda line: self._returnable(model, line))
        actor = {
            "owner": model.customer,
            "staff": STAFF,
            "stranger": next(c for c in CUSTOMERS if c != model.customer),
        }[who]
        lines = tuple(ReturnLineRequest(sku, q, "does not fit") for sku, q in units.items())
        result = self.run(request_return(self.deps, _context(actor), ReturnRequest(order, lines)))
        refusal = self._refusal("request", result)
        over = tuple(
            OverLine(sku, q, max(self._returnable(model, model.lines[sku]), 0))
            for sku, q in units.items()
            if q > self._returnable(model, model.lines[sku])
        )
        if who == "stranger":
            assert refusal == OrderNotFound(order)
        elif model.delivered_at is None:
            assert refusal == NothingDelivered(order)
        elif self.clock.now() > model.delivered_at + RETURN_WINDOW:
            assert refusal == ReturnWindowClosed(order, model.delivered_at + RETURN_WINDOW)
        elif over:
            assert refusal == ReturnExceedsDelivered(over)
        else:
            assert refusal is None
            ret: Return = fresh(result)
            self.returns_[str(ret.id)] = ModelReturn(str(ret.id), order, units)

    def _return_of(self, order: str, pick: int) -> str | None:
        """One of the order's returns, if it has any."""
        found = [r.id for r in self.returns_.values() if r.order_id == order]
        return found[pick % len(found)] if found else None

    @rule(order=orders, pick=st.integers(0, 20), approve=st.sampled_from([True, True, False]))
    def decide(self, order: str, pick: int, approve: bool) -> None:
        """Staff approve or reject one of the order's returns."""
        if ret := self._return_of(order, pick):
            self._decide(ret, approve)

    def _decide(self, ret: str, approve: bool) -> None:
        model = self.returns_[ret]
        decision = ReturnDecision(ret, note="checked")
        step = approve_return if approve else reject_return
        target = ReturnStatus.APPROVED if approve else ReturnStatus.REJECTED
        result = self.run(step(self.deps, _context(STAFF), decision))
        refusal = self._refusal(target.value, result)
        if model.status is not ReturnStatus.REQUESTED:
            assert refusal == IllegalReturnTransition(ret, model.status.value, target.value)
        else:
            assert refusal is None
            model.status = target

    @rule(
        order=orders,
        pick=st.integers(0, 20),
        picks=PICKS,
        refund_shipping=st.booleans(),
        mode=MODES,
    )
    def receive(
        self, order: str, pick: int, picks: list[int], refund_shipping: bool, mode: Mode
    ) -> None:
        """What came back of one of the order's returns, split at random between restock
        and write-off (now and then one unit more than the return names); refunded at the
        prices the order captured."""
        if ret := self._return_of(order, pick):
            self._receive(ret, picks, refund_shipping, mode)

    def _receive(self, ret: str, picks: list[int], refund_shipping: bool, mode: Mode) -> None:
        model = self.returns_[ret]
        restock: dict[str, int] = {}
        write_off: dict[str, int] = {}
        for index, (sku, q) in enumerate(model.lines.items()):
            restock[sku] = picks[2 * index] % (q + 1)
            write_off[sku] = picks[2 * index + 1] % (q - restock[sku] + 2)
        lines = tuple(
            ReceivedLine(sku, q, disposition)
            for sku in model.lines
            for q, disposition in (
                (restock[sku], Disposition.RESTOCK),
                (write_off[sku], Disposition.WRITE_OFF),
            )
            if q
        ) or (ReceivedLine(next(iter(model.lines)), 1, Disposition.RESTOCK),)
        received: Counter[str] = Counter()
        for line in lines:
            received[line.sku] += line.quantity
        receipt = ReturnReceipt(ret, lines, refund_shipping=refund_shipping)
        result = self.run(receive_return(self.deps, _context(STAFF, mode), receipt))
        refusal = self._refusal("receive", result)
        over = tuple(
            OverLine(sku, q, model.lines[sku])
            for sku, q in received.items()
            if q > model.lines[sku]
        )
        if model.status is not ReturnStatus.APPROVED:
            wanted = ReturnStatus.RECEIVED.value
            assert refusal == IllegalReturnTransition(ret, model.status.value, wanted)
        elif over:
            assert refusal == ReceiptExceedsReturn(over)
        else:
            assert refusal is None
            if mode is Mode.EXECUTE:
                self._received(model, lines, refund_shipping=refund_shipping)

    def _received(
        self, ret: ModelReturn, lines: tuple[ReceivedLine, ...], *, refund_shipping: bool
    ) -> None:
        order = self.orders_[ret.order_id]
        amount = 0
        for line in lines:
            order.lines[line.sku].returned += line.quantity
            amount += PRICES[line.sku] * line.quantity
            if line.disposition is Disposition.RESTOCK:
                self.stock[line.sku].on_hand += line.quantity
        if refund_shipping and not order.shipping_refunded:
            order.shipping_refunded = True
            amount += SHIPPING
        ret.status = ReturnStatus.RECEIVED
        self._refund(order, amount, "return")

    # --- an order along its way ---------------------------------------------------------------

    @rule(order=orders, picks=PICKS, n=st.integers(0, 10_000), times=st.integers(1, 6))
    def advance(self, order: str, picks: list[int], n: int, times: int) -> None:
        """The order's next natural steps (random steps rarely string a lifecycle together),
        the invariants checked after each: paid in full, a random part of what remains
        shipped, a parcel delivered, a return asked for, approved and received, or, once it
        is over, some money given back."""
        for step in range(times):
            if step:
                self.conserved()
            self._next_step(order, picks[step:] + picks[:step], n + step)

    def _next_step(self, order: str, picks: list[int], n: int) -> None:
        model = self.orders_[order]
        pending = [
            s.id for s in self.shipments_.values() if s.order_id == order and not s.delivered
        ]
        returns = [r for r in self.returns_.values() if r.order_id == order]
        open_return = next(
            (r for r in returns if r.status in (ReturnStatus.REQUESTED, ReturnStatus.APPROVED)),
            None,
        )
        if model.status is OrderStatus.PLACED:
            self._pay(order, "part" if n % 3 == 0 else "all", n)
        elif pending and (n % 2 or model.status not in FULFILLABLE):
            self._deliver(pending[0])
        elif model.status in FULFILLABLE:
            self.ship(order, picks, Mode.EXECUTE)
        elif open_return is not None and open_return.status is ReturnStatus.REQUESTED:
            self._decide(open_return.id, approve=n % 3 != 0)
        elif open_return is not None:
            self._receive(open_return.id, picks, refund_shipping=n % 3 == 0, mode=Mode.EXECUTE)
        elif model.status is OrderStatus.DELIVERED and n % 4:
            self.request(order, picks, "owner")
        else:
            self.refund(order, "part", n, Mode.EXECUTE)

    # --- time and stock -----------------------------------------------------------------------

    @rule(days=st.integers(1, 20))
    def wait(self, days: int) -> None:
        self.clock.advance(timedelta(days=days))

    @rule(sku=st.sampled_from(SKUS), delta=st.integers(-6, 8).filter(bool))
    def adjust(self, sku: str, delta: int) -> None:
        adjustment = StockAdjustment(sku, delta, "counted")
        result = self.run(adjust_stock(self.deps, _context(OPERATOR), adjustment))
        stock = self.stock[sku]
        wanted = stock.on_hand + delta
        if wanted < stock.reserved:
            refusal = StockBelowReserved(sku, stock.on_hand, stock.reserved, wanted)
            assert self._refusal("adjust", result) == refusal
        else:
            assert self._refusal("adjust", result) is None
            stock.on_hand = wanted
            stock.adjusted += delta

    # --- the invariants, read from the stored state --------------------------------------------

    @invariant()
    def conserved(self) -> None:
        self.tally.steps += 1
        self.run(self._check_stored_state())

    async def _check_stored_state(self) -> None:
        async with self.deps.unit_of_work() as uow:
            products = await uow.products.get_many(SKUS)
            stored = await uow.orders.list(after=None, limit=10_000, query=OrderQuery())
            shipments = {o.id: await uow.shipments.of_order(o.id) for o in stored}
            returns = {o.id: await uow.returns.of_order(o.id) for o in stored}
            payments = {o.id: await uow.payments.of_order(o.id) for o in stored}
            refunds = {o.id: await uow.refunds.of_order(o.id) for o in stored}
            ledger = {
                sku: await uow.stock_ledger.history(sku, after=None, limit=100_000) for sku in SKUS
            }
        assert {str(o.id) for o in stored} == set(self.orders_)
        for order in stored:
            _check_lines(order, shipments[order.id], returns[order.id])
            _check_money(order, payments[order.id], refunds[order.id], returns[order.id])
            self._check_against_model(order, payments[order.id], refunds[order.id])
        every_return = [r for rs in returns.values() for r in rs]
        for sku in SKUS:
            self._check_stock(sku, products[sku].stock, stored, every_return, ledger[sku])
        assert (await verify_stock(self.deps, _context(OPERATOR))).unwrap().drifts == ()

    def _check_against_model(
        self, order: Order, payments: list[Payment], refunds: list[Refund]
    ) -> None:
        model = self.orders_[str(order.id)]
        assert order.status is model.status, (order.id, order.status, model.status)
        counts = {
            line.sku: (line.shipped, line.delivered, line.returned, line.cancelled)
            for line in order.lines
        }
        assert counts == {
            sku: (line.shipped, line.delivered, line.returned, line.cancelled)
            for sku, line in model.lines.items()
        }, order.id
        assert _succeeded(payments) == model.paid, order.id
        assert _holding(refunds) == model.refunded, order.id

    def _check_stock(
        self,
        sku: str,
        level: Any,
        orders: list[Order],
        returns: list[Return],
        movements: list[StockMovement],
    ) -> None:
        model = self.stock[sku]
        lines = [line for o in orders for line in o.lines if line.sku == sku]
        held = sum(
            line.unshipped
            for o in orders
            if o.status in HOLDING
            for line in o.lines
            if line.sku == sku
        )
        shipped = sum(line.shipped for line in lines)
        came_back = [line for r in returns for line in r.lines if line.sku == sku]
        restocked = sum(line.restocked for line in came_back)
        written_off = sum(line.written_off for line in came_back)
        assert 0 <= level.reserved <= level.on_hand, (sku, level)
        assert level.reserved == held, (sku, level, held)
        assert level.on_hand + shipped - restocked == model.opening + model.adjusted, (sku, level)
        assert (level.on_hand, level.reserved) == (model.on_hand, model.reserved), sku
        # The ledger explains every unit: what opened, was adjusted, left and came back.
        by_kind: Counter[MovementKind] = Counter()
        for movement in movements:
            by_kind[movement.kind] += movement.on_hand_delta
        assert by_kind[MovementKind.OPENING] == model.opening, sku
        assert by_kind[MovementKind.ADJUSTMENT] == model.adjusted, sku
        assert -by_kind[MovementKind.SHIPMENT] == shipped, sku
        assert by_kind[MovementKind.RESTOCK] == restocked, sku
        noted = [
            WRITTEN_OFF.fullmatch(m.note) for m in movements if m.kind is MovementKind.WRITE_OFF
        ]
        assert sum(int(m.group(1)) for m in noted if m) == written_off, sku
        assert by_kind[MovementKind.WRITE_OFF] == 0, sku


def _succeeded(payments: list[Payment]) -> int:
    return sum(p.amount.amount for p in payments if p.status is PaymentStatus.SUCCEEDED)


def _holding(refunds: list[Refund]) -> int:
    return sum(
        r.amount.amount
        for r in refunds
        if r.status in (RefundStatus.PENDING, RefundStatus.SUCCEEDED)
    )


def _check_lines(order: Order, shipments: list[Shipment], returns: list[Return]) -> None:
    """Each line's units are conserved and are those of its shipments and returns; the
    order's status follows its lines."""
    sent: Counter[str] = Counter()
    arrived: Counter[str] = Counter()
    for shipment in shipments:
        assert shipment.order_id == order.id
        sent.update(shipment.units)
        if shipment.delivered_at is not None:
            arrived.update(shipment.units)
    back: Counter[str] = Counter()
    for ret in returns:
        assert ret.order_id == order.id
        for asked in ret.lines:
            assert asked.received <= asked.quantity, (ret.id, asked)
            if ret.status is ReturnStatus.RECEIVED:
                back[asked.sku] += asked.received
            else:
                assert asked.received == 0, (ret.id, asked)
    for line in order.lines:
        assert min(line.unshipped, line.shipped, line.cancelled) >= 0, line
        assert line.shipped + line.cancelled + line.unshipped == line.quantity, line
        assert line.returned <= line.delivered <= line.shipped, line
        assert (line.shipped, line.delivered, line.returned) == (
            sent[line.sku],
            arrived[line.sku],
            back[line.sku],
        ), (order.id, line)
    lines = order.lines
    if order.status is OrderStatus.PLACED:
        assert not any(line.shipped or line.cancelled for line in lines), order.id
    elif order.status is OrderStatus.CANCELLED:
        assert all(line.cancelled == line.quantity for line in lines), order.id
    elif any(line.unshipped for line in lines):
        shipped = any(line.shipped for line in lines)
        wanted = OrderStatus.PARTIALLY_SHIPPED if shipped else OrderStatus.PAID
        assert order.status is wanted, order.id
    else:
        delivered = all(line.delivered == line.shipped for line in lines)
        wanted = OrderStatus.DELIVERED if delivered else OrderStatus.SHIPPED
        assert order.status is wanted, order.id


def _check_money(
    order: Order, payments: list[Payment], refunds: list[Refund], returns: list[Return]
) -> None:
    """Refunds give back no more than was paid, per order and per payment, each from a
    succeeded payment of its order; a return's refunds give back at most what it is worth."""
    paid = _succeeded(payments)
    assert 0 <= paid <= order.total.amount, order.id
    assert 0 <= _holding(refunds) <= paid, order.id
    succeeded = {p.id: p for p in payments if p.status is PaymentStatus.SUCCEEDED}
    for refund in refunds:
        assert refund.order_id == order.id, refund
        assert refund.payment_id in succeeded, refund
        assert refund.status is RefundStatus.SUCCEEDED, refund  # the manual provider's way
    for payment in succeeded.values():
        given = _holding([r for r in refunds if r.payment_id == payment.id])
        assert given <= payment.amount.amount, payment
    received = {r.id: r for r in returns if r.status is ReturnStatus.RECEIVED}
    prices = {line.sku: line.unit_price.amount for line in order.lines}
    for return_id in {r.return_id for r in refunds if r.return_id is not None}:
        assert return_id in received, (order.id, return_id)
        ret = received[return_id]
        worth = sum(prices[line.sku] * line.received for line in ret.lines)
        worth += order.shipping_price if ret.refund_shipping else 0
        assert _holding([r for r in refunds if r.return_id == return_id]) <= worth, return_id
    assert sum(r.refund_shipping for r in returns) <= 1, order.id


@contextmanager
def _runner() -> Iterator[asyncio.Runner]:
    """A private event loop; ``loop_factory`` keeps it from becoming the thread's current
    loop, so the session loop of pytest-asyncio is left exactly as it was."""
    with asyncio.Runner(loop_factory=asyncio.new_event_loop) as runner:
        yield runner


def _explore(
    fresh: FreshDependencies,
    runner: asyncio.Runner,
    *,
    examples: int,
    steps: int,
    phases: tuple[Phase, ...] = tuple(Phase),
) -> StepTally:
    tally = StepTally()
    run_state_machine_as_test(
        # Any factory of machines will do (its docstring says so; its annotation is narrower).
        lambda: FulfilmentMachine(runner, fresh, tally),  # type: ignore[arg-type]
        settings=settings(
            max_examples=examples,
            stateful_step_count=steps,
            deadline=None,
            # The same walk on every run: CI must not pass or fail by the luck of the draw.
            derandomize=True,
            database=None,
            phases=phases,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
    return tally


# What a run must have reached for its invariants to mean something: each step taken and
# each refusal the model predicts seen, on the fakes.
MUST_REACH = frozenset(
    {
        "place: done",
        "pay: done",
        "pay: paid in full",
        "pay: PaymentExceedsDue",
        "pay: OrderNotPayable",
        "ship: done",
        "ship: order partially_shipped",
        "ship: order shipped",
        "ship: ExceedsRemaining",
        "ship: OrderNotFulfillable",
        "deliver: done",
        "deliver: ShipmentAlreadyDelivered",
        "cancel_remainder: done",
        "cancel_remainder: ExceedsRemaining",
        "cancel: done",
        "cancel: IllegalTransition",
        "request: done",
        "request: NothingDelivered",
        "request: ReturnExceedsDelivered",
        "request: ReturnWindowClosed",
        "request: OrderNotFound",
        "approved: done",
        "rejected: done",
        "approved: IllegalReturnTransition",
        "receive: done",
        "receive: ReceiptExceedsReturn",
        "receive: IllegalReturnTransition",
        "refund: done",
        "refund: RefundExceedsRefundable",
        "refunded: staff",
        "refunded: cancellation",
        "refunded: return",
        "refunded: return, capped",
    }
)
# Also met in most sessions, but too rare in the walks to require: a cancellation's refund
# capped by an earlier refund. tests/core/shipments/test_cancellation.py makes it happen on
# purpose (test_a_refund_made_before_is_not_made_twice).


def test_fulfilment_invariants_hold_on_the_in_memory_fakes() -> None:
    async def fresh(clock: FixedClock) -> Dependencies:
        deps = in_memory_dependencies(clock=clock)
        return replace(deps, max_open_unpaid_orders=1000, payment_provider=ManualProvider("-"))

    # 200 walks: every outcome required is reached with room to spare whatever else the test
    # session has loaded.
    with _runner() as runner:
        tally = _explore(fresh, runner, examples=200, steps=50)
    assert tally.steps >= 500, f"only {tally.steps} steps were explored"
    assert tally.outcomes.keys() >= MUST_REACH, MUST_REACH - tally.outcomes.keys()


@pytest.mark.postgres
@pytest.mark.usefixtures("engine")  # the database, migrated
def test_fulfilment_invariants_hold_on_postgres(infra_settings: InfraSettings) -> None:
    """The same machine on the real unit of work, every example over truncated tables."""
    with _runner() as runner:
        engine = create_engine(infra_settings, application_name="orderly-tests-fulfilment")

        async def fresh(clock: FixedClock) -> Dependencies:
            await truncate_all(engine)
            deps = sql_dependencies(engine, passwords=FAST_PASSWORDS)
            return replace(
                deps,
                clock=clock,
                ids=SequentialIds(),
                max_open_unpaid_orders=1000,
                payment_provider=ManualProvider("-"),
            )

        try:
            # No shrinking here: replaying a failure hundreds of times on a database outlasts
            # the test's timeout. The fakes' run shrinks what both runs find.
            no_shrink = (Phase.explicit, Phase.reuse, Phase.generate)
            tally = _explore(fresh, runner, examples=12, steps=50, phases=no_shrink)
        finally:
            runner.run(engine.dispose())
    assert tally.steps >= 500, f"only {tally.steps} steps were explored"
    # Every step done on the real repositories (the refusals are the fakes' run to reach).
    done = {outcome for outcome in MUST_REACH if outcome.endswith(": done")}
    done |= {"ship: order partially_shipped", "ship: order shipped", "pay: paid in full"}
    done |= {"refunded: staff", "refunded: cancellation", "refunded: return"}
    assert tally.outcomes.keys() >= done, done - tally.outcomes.keys()
