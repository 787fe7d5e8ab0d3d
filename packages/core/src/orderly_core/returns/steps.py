"""The steps of a return: staff approve or reject a request, then receive what came back.

Receiving moves stock (``restock``: on hand again, a ``restock`` movement; ``write_off``: a
``write_off`` movement that changes no stock, so the ledger still accounts for every unit),
counts the units as returned on the order's lines, and records the return's one refund in
the same transaction; the provider is asked for it once that transaction has committed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

from returns.result import Failure, Result, Success

from orderly_core.catalogue.ledger import MovementKind
from orderly_core.catalogue.model import SKU_RULE, Stock, normalise_sku
from orderly_core.catalogue.stock import record_movement
from orderly_core.orders.model import MAX_QUANTITY, Order
from orderly_core.payments.errors import RefundExceedsRefundable
from orderly_core.payments.model import Refund
from orderly_core.payments.refunds import record_refunds, with_refunds_settled
from orderly_core.payments.views import refund_view
from orderly_core.platform.idempotency import Idempotent, Operation
from orderly_core.platform.outbox import EventType
from orderly_core.platform.transaction import in_idempotent_transaction
from orderly_core.returns.common import announce_return, save_return, visible_return
from orderly_core.returns.errors import (
    IllegalReturnTransition,
    OverLine,
    ReceiptExceedsReturn,
    ReturnNotFound,
)
from orderly_core.returns.model import (
    MAX_RECEIPT_LINES,
    NOTE_MAX,
    TRANSITIONS,
    Disposition,
    Return,
    ReturnStatus,
)
from orderly_core.returns.ports import ReturnsServices, ReturnsUnit
from orderly_core.shared.authorization import returns_handling_denied
from orderly_core.shared.context import Context
from orderly_core.shared.errors import Forbidden, InvalidInput, VersionConflict, version_conflict
from orderly_core.shared.validation import FieldErrors


@dataclass(frozen=True, slots=True)
class ReturnDecision:
    """Approve or reject a requested return, with an optional note (1-1000 characters)."""

    return_id: str
    note: str | None = None
    expected_version: int | None = None


@dataclass(frozen=True, slots=True)
class ReceivedLine:
    sku: str
    quantity: int
    disposition: Disposition


@dataclass(frozen=True, slots=True)
class ReturnReceipt:
    """What came back of an approved return: per SKU, units restocked and units written
    off (one line each), and whether the order's shipping is refunded too."""

    return_id: str
    lines: tuple[ReceivedLine, ...]
    refund_shipping: bool = False
    expected_version: int | None = None


@dataclass(frozen=True, slots=True)
class ReturnReceived:
    """A received return and the refunds it gave rise to (as the provider left them)."""

    ret: Return
    refunds: tuple[Refund, ...]

    @property
    def version(self) -> int:
        return self.ret.version


StepError = Forbidden | InvalidInput | ReturnNotFound | IllegalReturnTransition | VersionConflict
ReceiveError = StepError | ReceiptExceedsReturn

_STEP_OUTCOMES = (ReturnNotFound, IllegalReturnTransition, VersionConflict)
_RECEIVE_OUTCOMES = (*_STEP_OUTCOMES, ReceiptExceedsReturn)

_EVENT_OF = {
    ReturnStatus.APPROVED: EventType.RETURN_APPROVED,
    ReturnStatus.REJECTED: EventType.RETURN_REJECTED,
    ReturnStatus.RECEIVED: EventType.RETURN_RECEIVED,
}
_OPERATION_OF = {
    ReturnStatus.APPROVED: "return.approve",
    ReturnStatus.REJECTED: "return.reject",
    ReturnStatus.RECEIVED: "return.receive",
}


def _refusal(
    ret: Return, expected_version: int | None, target: ReturnStatus
) -> IllegalReturnTransition | VersionConflict | None:
    if conflict := version_conflict(("return", str(ret.id)), expected_version, ret.version):
        return conflict
    if target not in TRANSITIONS[ret.status]:
        return IllegalReturnTransition(str(ret.id), ret.status.value, target.value)
    return None


def _checked_note(decision: ReturnDecision) -> ReturnDecision | InvalidInput:
    if decision.note is None:
        return decision
    fields = FieldErrors()
    note = decision.note.strip()
    if fields.text("note", decision.note, multiline=True) and len(note) > NOTE_MAX:
        fields.fail("note", f"must be at most {NOTE_MAX} characters")
    if fields.errors:
        return InvalidInput(tuple(fields.errors))
    return replace(decision, note=note or None)


async def _decide(
    deps: ReturnsServices, ctx: Context, decision: ReturnDecision, target: ReturnStatus
) -> Idempotent[Return, StepError]:
    verb = "approve" if target is ReturnStatus.APPROVED else "reject"
    if denied := returns_handling_denied(ctx.actor, f"{verb} returns"):
        return Failure(denied)
    checked = _checked_note(decision)
    if isinstance(checked, InvalidInput):
        return Failure(checked)

    async def work(uow: ReturnsUnit) -> Result[Return, StepError]:
        found = await visible_return(uow, ctx, checked.return_id, for_update=True)
        if isinstance(found, ReturnNotFound):
            return Failure(found)
        ret, _ = found
        if refusal := _refusal(ret, checked.expected_version, target):
            return Failure(refusal)
        operation = _OPERATION_OF[target]
        decided = await save_return(
            deps, uow, ctx, ret, operation, status=target, note=checked.note
        )
        await announce_return(deps, uow, ctx, _EVENT_OF[target], decided)
        return Success(decided)

    async def replay_refusal(uow: ReturnsUnit) -> StepError | None:
        found = await visible_return(uow, ctx, checked.return_id, for_update=False)
        return found if isinstance(found, ReturnNotFound) else None

    operation = Operation(_OPERATION_OF[target], checked, Return, _STEP_OUTCOMES)
    return await in_idempotent_transaction(
        deps, ctx, operation, work, replay_refusal=replay_refusal
    )


async def approve_return(
    deps: ReturnsServices, ctx: Context, decision: ReturnDecision
) -> Idempotent[Return, StepError]:
    """Approve a requested return (staff), with an optional note (at most 1000 characters):
    the customer may send the units back. ``return.approved`` is announced."""
    return await _decide(deps, ctx, decision, ReturnStatus.APPROVED)


async def reject_return(
    deps: ReturnsServices, ctx: Context, decision: ReturnDecision
) -> Idempotent[Return, StepError]:
    """Reject a requested return (staff), with an optional note (at most 1000 characters)
    saying why: its units may be asked for again. ``return.rejected`` is announced."""
    return await _decide(deps, ctx, decision, ReturnStatus.REJECTED)


def _checked_receipt(receipt: ReturnReceipt) -> ReturnReceipt | InvalidInput:
    fields = FieldErrors()
    if not 1 <= len(receipt.lines) <= MAX_RECEIPT_LINES:
        fields.fail("lines", f"must hold 1-{MAX_RECEIPT_LINES} lines")
    lines: list[ReceivedLine] = []
    seen: set[tuple[str, Disposition]] = set()
    for index, line in enumerate(receipt.lines):
        field = f"lines.{index}"
        sku = normalise_sku(line.sku) if fields.text(f"{field}.sku", line.sku) else line.sku
        if sku is None:
            fields.fail(f"{field}.sku", SKU_RULE)
            sku = line.sku
        elif (sku, line.disposition) in seen:
            fields.fail(f"{field}.sku", "repeats the SKU and disposition of an earlier line")
        seen.add((sku, line.disposition))
        if not 1 <= line.quantity <= MAX_QUANTITY:
            fields.fail(f"{field}.quantity", f"must be 1-{MAX_QUANTITY}")
        lines.append(ReceivedLine(sku, line.quantity, line.disposition))
    if fields.errors:
        return InvalidInput(tuple(fields.errors))
    return replace(receipt, lines=tuple(lines))


def _over_received(ret: Return, receipt: ReturnReceipt) -> tuple[OverLine, ...]:
    totals: Counter[str] = Counter()
    for line in receipt.lines:
        totals[line.sku] += line.quantity
    over: list[OverLine] = []
    for sku, received in totals.items():
        asked = ret.line(sku)
        allowed = asked.quantity if asked else 0
        if received > allowed:
            over.append(OverLine(sku, received, allowed))
    return tuple(over)


def _received(ret: Return, receipt: ReturnReceipt) -> Return:
    """``ret``'s lines with what the receipt records of each."""
    restocked: Counter[str] = Counter()
    written_off: Counter[str] = Counter()
    for line in receipt.lines:
        kept = restocked if line.disposition is Disposition.RESTOCK else written_off
        kept[line.sku] += line.quantity
    lines = tuple(
        replace(line, restocked=restocked[line.sku], written_off=written_off[line.sku])
        for line in ret.lines
    )
    return replace(ret, lines=lines)


async def _move_stock(
    deps: ReturnsServices, uow: ReturnsUnit, ctx: Context, received: Return
) -> None:
    """Restocked units go back on hand; written-off units are recorded with no stock change.
    Product rows are locked in SKU order, as every stock change locks them."""
    skus = sorted(line.sku for line in received.lines if line.received)
    products = await uow.products.get_many(skus, for_update=True)
    now = deps.clock.now()
    reference = str(received.id)
    for sku in skus:
        line, product = received.line(sku), products.get(sku)
        if line is None or product is None:
            continue
        if line.restocked:
            stock = Stock(product.stock.on_hand + line.restocked, product.stock.reserved)
            product = replace(product, stock=stock).bumped(now)
            await uow.products.save(product)
            await record_movement(
                deps,
                uow,
                ctx,
                product=product,
                kind=MovementKind.RESTOCK,
                delta=Stock(line.restocked, 0),
                note=f"return restock: {line.restocked} unit(s)",
                reference=reference,
            )
        if line.written_off:
            await record_movement(
                deps,
                uow,
                ctx,
                product=product,
                kind=MovementKind.WRITE_OFF,
                delta=Stock(0, 0),
                note=f"return write-off: {line.written_off} unit(s)",
                reference=reference,
            )


async def _count_returned(
    deps: ReturnsServices, uow: ReturnsUnit, order: Order, received: Return
) -> None:
    """The order's lines count the received units as returned (its version moves on)."""
    lines = tuple(
        replace(
            line, returned=line.returned + (r.received if (r := received.line(line.sku)) else 0)
        )
        for line in order.lines
    )
    counted = replace(order, lines=lines, version=order.version + 1, updated_at=deps.clock.now())
    await uow.orders.save(counted)
    await uow.orders.save_lines(counted)


async def _refund(
    deps: ReturnsServices,
    uow: ReturnsUnit,
    ctx: Context,
    order: Order,
    received: Return,
    *,
    refund_shipping: bool,
) -> tuple[tuple[Refund, ...], bool]:
    """The return's refund, recorded pending: the received units at the prices the order
    captured, and its shipping when staff say so and no other return of the order refunded
    it; at most what the order's payments may still give back (staff may have refunded by
    hand before). The refunds, and whether the shipping was refunded."""
    prices = {line.sku: line.unit_price.amount for line in order.lines}
    amount = sum(prices.get(line.sku, 0) * line.received for line in received.lines)
    if refund_shipping and order.shipping_price > 0:
        others = await uow.returns.of_order(order.id)
        refund_shipping = not any(r.refund_shipping and r.id != received.id for r in others)
    else:
        refund_shipping = False
    amount += order.shipping_price if refund_shipping else 0
    reason = f"return {received.id}"
    while amount > 0:
        made = await record_refunds(
            deps, uow, ctx, order, amount=amount, reason=reason, return_id=received.id
        )
        if not isinstance(made, RefundExceedsRefundable):
            return made, refund_shipping
        amount = made.refundable  # what is left to give back, less than due
    return (), refund_shipping


async def _receive(
    deps: ReturnsServices, uow: ReturnsUnit, ctx: Context, receipt: ReturnReceipt
) -> Result[ReturnReceived, ReceiveError]:
    # The return's row is locked first: two receipts of one return take turns, and the
    # second finds it received.
    found = await visible_return(uow, ctx, receipt.return_id, for_update=True)
    if isinstance(found, ReturnNotFound):
        return Failure(found)
    ret, _ = found
    if refusal := _refusal(ret, receipt.expected_version, ReturnStatus.RECEIVED):
        return Failure(refusal)
    if over := _over_received(ret, receipt):
        return Failure(ReceiptExceedsReturn(over))
    order = await uow.orders.get(ret.order_id, for_update=True)
    if order is None:
        return Failure(ReturnNotFound(receipt.return_id))
    received = _received(ret, receipt)
    await _count_returned(deps, uow, order, received)
    await _move_stock(deps, uow, ctx, received)
    refunds, shipping = await _refund(
        deps, uow, ctx, order, received, refund_shipping=receipt.refund_shipping
    )
    done = await save_return(
        deps,
        uow,
        ctx,
        ret,
        _OPERATION_OF[ReturnStatus.RECEIVED],
        status=ReturnStatus.RECEIVED,
        lines=received.lines,
        refund_shipping=shipping,
    )
    extra = {"refunds": [refund_view(refund) for refund in refunds]}
    await announce_return(deps, uow, ctx, EventType.RETURN_RECEIVED, done, extra=extra)
    return Success(ReturnReceived(done, refunds))


async def receive_return(
    deps: ReturnsServices, ctx: Context, receipt: ReturnReceipt
) -> Idempotent[ReturnReceived, ReceiveError]:
    """Record what came back of an approved return (staff), once: per SKU, units to
    ``restock`` (on hand again) and units to ``write_off`` (recorded, no stock change), one
    line each, together at most the units the return names (``receipt_exceeds_return``).

    The order's lines count the units as returned, and the return is refunded once, in the
    same transaction: the received units at the prices the order captured, plus the order's
    shipping when ``refund_shipping`` is set (once per order), at most what its payments may
    still give back. The provider is asked for the refund after the commit (under the manual
    provider it is recorded at once; one the provider cannot take yet is retried by the
    follow-ups). ``return.received`` is announced, then ``refund.succeeded``. A dry run shows
    the return and refunds it would make and asks the provider nothing.
    """
    if denied := returns_handling_denied(ctx.actor, "receive returns"):
        return Failure(denied)
    checked = _checked_receipt(receipt)
    if isinstance(checked, InvalidInput):
        return Failure(checked)

    async def work(uow: ReturnsUnit) -> Result[ReturnReceived, ReceiveError]:
        return await _receive(deps, uow, ctx, checked)

    async def replay_refusal(uow: ReturnsUnit) -> ReceiveError | None:
        found = await visible_return(uow, ctx, checked.return_id, for_update=False)
        return found if isinstance(found, ReturnNotFound) else None

    operation = Operation("return.receive", checked, ReturnReceived, _RECEIVE_OUTCOMES)
    recorded = await in_idempotent_transaction(
        deps, ctx, operation, work, replay_refusal=replay_refusal
    )
    return await with_refunds_settled(deps, ctx, recorded)
