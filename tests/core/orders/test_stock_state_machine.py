"""Random runs of the order lifecycle and stock adjustments, with the stock invariants checked
after every step.

Hypothesis strings together placements, payments, shipments, deliveries, cancellations,
expiries and stock adjustments by customers, staff and operators over a few products, and
keeps a model of what each step must do. After every step the stored state must satisfy:

- ``0 <= reserved <= on_hand`` for every product;
- stock is conserved: ``on_hand`` plus the units shipped equals the opening stock plus the
  adjustments, and ``reserved`` equals the units of the placed and paid orders;
- the levels equal the sum of the stock ledger (``verify_stock`` finds no drift);
- every refusal is the typed error the rules call for, never an exception.

The machine runs on the in-memory fakes (many steps, fast) and, smaller, on PostgreSQL.
Hypothesis drives the async use cases on an event loop of the test's own, never on the loop
pytest-asyncio keeps for the session.
"""

from __future__ import annotations

import asyncio
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
from orderly_core.catalogue.stock import verify_stock
from orderly_core.catalogue.use_cases import (
    NewProduct,
    StockAdjustment,
    adjust_stock,
    create_product,
)
from orderly_core.orders.errors import (
    IllegalTransition,
    OrderNotFound,
    OutOfStock,
    ProductsUnavailable,
    ShortLine,
)
from orderly_core.orders.model import Order, OrderQuery, OrderStatus, may_move
from orderly_core.orders.placement import LineRequest, NewOrder, place_order
from orderly_core.orders.steps import OrderStep, StepError, expire_orders
from orderly_core.payments.errors import OrderNotPayable
from orderly_core.platform.idempotency import Idempotent
from orderly_core.shared.context import Actor, Context, Mode, Role
from orderly_core.shared.errors import Forbidden, InvalidInput, VersionConflict
from orderly_core.shipments.steps import cancel_order, deliver_order, ship_order
from orderly_core.testing import FixedClock, SequentialIds, in_memory_dependencies
from orderly_core.unit_of_work import Dependencies
from orderly_db.engine import create_engine
from orderly_db.settings import InfraSettings
from orderly_db.unit_of_work import sql_dependencies
from tests.core.helpers import fresh, pay_order
from tests.db_fixtures import FAST_PASSWORDS, truncate_all

SKUS = ("SM-A", "SM-B", "SM-C")
UNKNOWN_SKU = "SM-NONE"  # never created: ordering it is refused as unavailable
CUSTOMERS = tuple(
    Actor.user(f"00000000-0000-0000-0000-00000000000{n}", Role.CUSTOMER) for n in (1, 2, 3)
)
STAFF = Actor.user("00000000-0000-0000-0000-0000000000f1", Role.STAFF)
OPERATOR = Actor.operator("stock-machine")
SCHEDULER = Actor.system("expiry")
ACTIVE = (OrderStatus.PLACED, OrderStatus.PAID)  # the statuses that hold a reservation
GONE = (OrderStatus.SHIPPED, OrderStatus.DELIVERED)  # their stock left the warehouse
STAFF_ONLY = (OrderStatus.SHIPPED, OrderStatus.DELIVERED)  # steps customers may not take
NEXT = {
    OrderStatus.PLACED: OrderStatus.PAID,
    OrderStatus.PAID: OrderStatus.SHIPPED,
    OrderStatus.SHIPPED: OrderStatus.DELIVERED,
}
Step = Callable[
    [Dependencies, Context, OrderStep],
    Coroutine[Any, Any, Idempotent[Order, StepError | InvalidInput]],
]
STEPS: dict[OrderStatus, Step] = {
    OrderStatus.PAID: pay_order,
    OrderStatus.SHIPPED: ship_order,
    OrderStatus.DELIVERED: deliver_order,
    OrderStatus.CANCELLED: cancel_order,
}

# Who asks for a step, relative to the order: its owner, a member of staff, another customer.
WHO = st.sampled_from(["owner", "staff", "staff", "stranger"])
# Which version the caller claims to have: none, the current one, or a stale one.
VERSION = st.sampled_from(["none", "none", "current", "stale"])
MODES = st.sampled_from([Mode.EXECUTE, Mode.EXECUTE, Mode.DRY_RUN])
LINES = st.dictionaries(
    st.sampled_from((*SKUS, *SKUS, *SKUS, UNKNOWN_SKU)), st.integers(1, 6), min_size=1, max_size=3
)

FreshDependencies = Callable[[FixedClock], Coroutine[Any, Any, Dependencies]]


@dataclass
class ModelOrder:
    id: str
    customer: Actor
    lines: dict[str, int]
    expires_at: datetime
    status: OrderStatus = OrderStatus.PLACED
    version: int = 1


@dataclass
class StepTally:
    """Steps taken across every example, so the test can prove how much it explored."""

    steps: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)


@dataclass
class ModelStock:
    opening: int
    on_hand: int
    reserved: int = 0
    adjusted: int = 0  # the sum of the applied adjustments

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


@dataclass
class Model:
    stock: dict[str, ModelStock] = field(default_factory=dict)
    orders: dict[str, ModelOrder] = field(default_factory=dict)


def _context(actor: Actor, mode: Mode = Mode.EXECUTE) -> Context:
    return Context(actor=actor, request_id="req-state-machine", mode=mode)


class StockMachine(RuleBasedStateMachine):
    orders = Bundle("orders")

    def __init__(self, runner: asyncio.Runner, fresh: FreshDependencies, tally: StepTally) -> None:
        super().__init__()
        self.clock = FixedClock()
        self._runner = runner
        self.deps = self.run(fresh(self.clock))
        self.tally = tally
        self.model = Model()

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
        assert isinstance(error.detail, str), error  # type: ignore[attr-defined]
        return error

    @initialize(opening=st.lists(st.integers(0, 30), min_size=len(SKUS), max_size=len(SKUS)))
    def create_products(self, opening: list[int]) -> None:
        for sku, on_hand in zip(SKUS, opening, strict=True):
            new = NewProduct(sku=sku, name=sku, unit_price=500, currency="EUR", on_hand=on_hand)
            assert is_successful(self.run(create_product(self.deps, _context(OPERATOR), new)))
            self.model.stock[sku] = ModelStock(opening=on_hand, on_hand=on_hand)

    @rule(target=orders, customer=st.sampled_from(CUSTOMERS), lines=LINES, mode=MODES)
    def place(self, customer: Actor, lines: dict[str, int], mode: Mode) -> Any:
        new = NewOrder(tuple(LineRequest(sku, q) for sku, q in lines.items()))
        result = self.run(place_order(self.deps, _context(customer, mode), new))
        stock = self.model.stock
        if missing := tuple(sku for sku in lines if sku not in stock):
            assert self._refusal("place", result) == ProductsUnavailable(missing)
            return multiple()
        short = tuple(
            ShortLine(sku, q, stock[sku].available)
            for sku, q in lines.items()
            if stock[sku].available < q
        )
        if short:
            assert self._refusal("place", result) == OutOfStock(short)
            return multiple()
        assert self._refusal("place", result) is None
        if mode is Mode.DRY_RUN:
            return multiple()
        placed = fresh(result).order
        for sku, q in lines.items():
            stock[sku].reserved += q
        order = ModelOrder(str(placed.id), customer, lines, placed.expires_at)
        self.model.orders[order.id] = order
        return order.id

    def _step(self, order_id: str, target: OrderStatus, who: str, version: str) -> None:
        order = self.model.orders[order_id]
        actor = {
            "owner": order.customer,
            "staff": STAFF,
            "stranger": next(c for c in CUSTOMERS if c != order.customer),
        }[who]
        expected_version = {"none": None, "current": order.version, "stale": order.version - 1}
        claimed = expected_version[version]
        result = self.run(STEPS[target](self.deps, _context(actor), OrderStep(order_id, claimed)))
        refusal = self._refusal(target.value, result)
        if target is OrderStatus.PAID:  # staff record the payment of its total by hand
            self._paid(order, who, refusal)
            return
        # The rules, in the order the use case checks them.
        if who == "stranger":
            assert refusal == OrderNotFound(order_id)
        elif target in STAFF_ONLY and who == "owner":
            assert isinstance(refusal, Forbidden)
        elif claimed is not None and claimed != order.version:
            assert refusal == VersionConflict("order", order_id, claimed, order.version)
        elif not may_move(order.status, target):
            assert refusal == IllegalTransition(order_id, order.status.value, target.value)
        else:
            assert refusal is None
            self._moved(order, target)

    def _paid(self, order: ModelOrder, who: str, refusal: object) -> None:
        """Recording a payment names no version: only staff may, and only while the order
        is placed (its total then covered, it is paid)."""
        if who != "staff":
            assert isinstance(refusal, Forbidden)
        elif order.status is not OrderStatus.PLACED:
            assert refusal == OrderNotPayable(order.id, order.status.value)
        else:
            assert refusal is None
            self._moved(order, OrderStatus.PAID)

    def _moved(self, order: ModelOrder, target: OrderStatus) -> None:
        for sku, q in order.lines.items():
            stock = self.model.stock[sku]
            if target is OrderStatus.SHIPPED:
                stock.on_hand -= q
                stock.reserved -= q
            elif target is OrderStatus.CANCELLED:
                stock.reserved -= q
        order.status = target
        order.version += 1

    @rule(order=orders, who=WHO, version=VERSION)
    def pay(self, order: str, who: str, version: str) -> None:
        self._step(order, OrderStatus.PAID, who, version)

    @rule(order=orders, who=WHO, version=VERSION)
    def ship(self, order: str, who: str, version: str) -> None:
        self._step(order, OrderStatus.SHIPPED, who, version)

    @rule(order=orders, who=WHO, version=VERSION)
    def deliver(self, order: str, who: str, version: str) -> None:
        self._step(order, OrderStatus.DELIVERED, who, version)

    @rule(order=orders, who=WHO, version=VERSION)
    def cancel(self, order: str, who: str, version: str) -> None:
        self._step(order, OrderStatus.CANCELLED, who, version)

    @rule(order=orders, give_up=st.sampled_from([False, False, False, True]))
    def advance(self, order: str, give_up: bool) -> None:
        """Staff take an order one step along its way, or cancel it (random steps rarely
        would); for a finished order, the step asked is a cancellation, which is refused."""
        status = self.model.orders[order].status
        target = OrderStatus.CANCELLED if give_up else NEXT.get(status, OrderStatus.CANCELLED)
        self._step(order, target, "staff", "current")

    @rule(minutes=st.integers(1, 40))
    def wait(self, minutes: int) -> None:
        self.clock.advance(timedelta(minutes=minutes))

    @rule(minutes=st.integers(0, 45), to_deadline=st.booleans(), mode=MODES)
    def expire(self, minutes: int, to_deadline: bool, mode: Mode) -> None:
        """Time passes, sometimes exactly to the next unpaid order's deadline, then the
        scheduled job cancels the unpaid orders whose expiry has come."""
        now = self.clock.now()
        deadlines = [
            o.expires_at
            for o in self.model.orders.values()
            if o.status is OrderStatus.PLACED and o.expires_at > now
        ]
        if to_deadline and deadlines:
            self.clock.advance(min(deadlines) - now)
            self.tally.outcomes["expire: at a deadline"] += 1
        else:
            self.clock.advance(timedelta(minutes=minutes))
        report = self.run(expire_orders(self.deps, _context(SCHEDULER, mode))).unwrap()
        due = {
            o.id
            for o in self.model.orders.values()
            if o.status is OrderStatus.PLACED and o.expires_at <= self.clock.now()
        }
        assert {str(order_id) for order_id in report.expired} == due
        assert report.applied is (mode is Mode.EXECUTE)
        if mode is Mode.EXECUTE:
            self.tally.outcomes["expire: expired"] += len(due)
            for order_id in due:
                self._moved(self.model.orders[order_id], OrderStatus.CANCELLED)

    @rule(sku=st.sampled_from(SKUS), delta=st.integers(-12, 12).filter(bool), mode=MODES)
    def adjust(self, sku: str, delta: int, mode: Mode) -> None:
        adjustment = StockAdjustment(sku, delta, "counted")
        result = self.run(adjust_stock(self.deps, _context(OPERATOR, mode), adjustment))
        stock = self.model.stock[sku]
        wanted = stock.on_hand + delta
        if wanted < stock.reserved:
            assert self._refusal("adjust", result) == StockBelowReserved(
                sku, stock.on_hand, stock.reserved, wanted
            )
        else:
            assert self._refusal("adjust", result) is None
            if mode is Mode.EXECUTE:
                stock.on_hand = wanted
                stock.adjusted += delta

    @invariant()
    def stock_is_consistent(self) -> None:
        self.tally.steps += 1
        self.run(self._check_stored_state())

    async def _check_stored_state(self) -> None:
        async with self.deps.unit_of_work() as uow:
            products = await uow.products.get_many(SKUS)
            stored = await uow.orders.list(after=None, limit=10_000, query=OrderQuery())
        assert {str(o.id): o.status for o in stored} == {
            o.id: o.status for o in self.model.orders.values()
        }
        for sku in SKUS:
            level, model = products[sku].stock, self.model.stock[sku]
            assert 0 <= level.reserved <= level.on_hand, (sku, level)
            shipped = sum(q for o in stored if o.status in GONE for s, q in _lines(o) if s == sku)
            held = sum(q for o in stored if o.status in ACTIVE for s, q in _lines(o) if s == sku)
            assert level.on_hand + shipped == model.opening + model.adjusted, (sku, level)
            assert level.reserved == held, (sku, level)
            assert (level.on_hand, level.reserved) == (model.on_hand, model.reserved), sku
        report = (await verify_stock(self.deps, _context(OPERATOR))).unwrap()
        assert report.drifts == ()


def _lines(order: Any) -> Iterator[tuple[str, int]]:
    return ((line.sku, line.quantity) for line in order.lines)


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
        lambda: StockMachine(runner, fresh, tally),  # type: ignore[arg-type]
        settings=settings(
            max_examples=examples,
            stateful_step_count=steps,
            deadline=None,
            # The same walk on every run: CI must not pass or fail by the luck of the draw
            # (a random walk could miss a transition that MUST_REACH requires).
            derandomize=True,
            database=None,
            phases=phases,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
    return tally


# What a run must have reached for its invariants to mean something: every transition taken,
# orders expired, and every kind of refusal seen.
MUST_REACH = frozenset(
    {
        "place: done",
        "place: OutOfStock",
        "place: ProductsUnavailable",
        "paid: done",
        "shipped: done",
        "delivered: done",
        "cancelled: done",
        "expire: expired",
        "expire: at a deadline",
        "adjust: done",
        "adjust: StockBelowReserved",
        "paid: OrderNotPayable",
        "cancelled: IllegalTransition",
        "shipped: Forbidden",
        "paid: Forbidden",
        "shipped: OrderNotFound",
        "shipped: VersionConflict",
    }
)


def test_stock_invariants_hold_on_the_in_memory_fakes() -> None:
    async def fresh(clock: FixedClock) -> Dependencies:
        return replace(in_memory_dependencies(clock=clock), max_open_unpaid_orders=1000)

    with _runner() as runner:
        tally = _explore(fresh, runner, examples=100, steps=50)
    assert tally.steps >= 500, f"only {tally.steps} steps were explored"
    assert tally.outcomes.keys() >= MUST_REACH, MUST_REACH - tally.outcomes.keys()


@pytest.mark.postgres
@pytest.mark.usefixtures("engine")  # the database, migrated
def test_stock_invariants_hold_on_postgres(infra_settings: InfraSettings) -> None:
    """The same machine on the real unit of work, every example over truncated tables."""
    with _runner() as runner:
        engine = create_engine(infra_settings, application_name="orderly-tests-state-machine")

        async def fresh(clock: FixedClock) -> Dependencies:
            await truncate_all(engine)
            deps = sql_dependencies(engine, passwords=FAST_PASSWORDS)
            return replace(deps, clock=clock, ids=SequentialIds(), max_open_unpaid_orders=1000)

        try:
            # No shrinking here: replaying a failure hundreds of times on a database outlasts
            # the test's timeout. The fakes' run shrinks what both runs find.
            no_shrink = (Phase.explicit, Phase.reuse, Phase.generate)
            tally = _explore(fresh, runner, examples=25, steps=30, phases=no_shrink)
        finally:
            runner.run(engine.dispose())
    assert tally.steps >= 150, f"only {tally.steps} steps were explored"
    assert {"place: done", "shipped: done", "cancelled: done"} <= tally.outcomes.keys()
