"""Reading the stock ledger, and checking stock levels against it."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from returns.result import Failure, Result, Success

from orderly_core.catalogue.errors import ProductNotFound
from orderly_core.catalogue.ledger import MovementKind, StockMovement
from orderly_core.catalogue.model import Product, Stock, fell_below_threshold, product_view
from orderly_core.catalogue.ports import CatalogueServices, CatalogueUnit
from orderly_core.catalogue.validation import Fields
from orderly_core.platform.audit import record
from orderly_core.platform.outbox import EventType, publish
from orderly_core.platform.transaction import in_transaction
from orderly_core.shared.authorization import catalogue_write_denied, user_admin_denied
from orderly_core.shared.context import Context
from orderly_core.shared.errors import Forbidden, InvalidInput
from orderly_core.shared.paging import NEWEST_FIRST, Page, PageQuery, checked_page


@dataclass(frozen=True, slots=True)
class HistoryQuery(PageQuery):
    """A page of one product's stock history."""


@dataclass(frozen=True, slots=True)
class StockDrift:
    sku: str
    on_hand: int
    reserved: int
    ledger_on_hand: int
    ledger_reserved: int


@dataclass(frozen=True, slots=True)
class StockReport:
    drifts: tuple[StockDrift, ...]
    repaired: bool  # the levels were set to the ledger's (EXECUTE with repair)


async def record_movement(
    deps: CatalogueServices,
    uow: CatalogueUnit,
    ctx: Context,
    *,
    product: Product,
    kind: MovementKind,
    delta: Stock,
    note: str,
    reference: str | None = None,
) -> None:
    """Append one movement of ``product`` (as the movement left it; ``delta`` holds the
    changes of on-hand and reserved stock). When it takes the product's available stock
    below its low-stock threshold, a ``stock.low`` event goes to the outbox. A movement that
    changes nothing is not kept, except a write-off (units that came back unsellable)."""
    if delta.on_hand == 0 and delta.reserved == 0 and kind is not MovementKind.WRITE_OFF:
        return
    await uow.stock_ledger.append(
        StockMovement(
            id=deps.ids.new_id(),
            sku=product.sku,
            at=deps.clock.now(),
            kind=kind,
            on_hand_delta=delta.on_hand,
            reserved_delta=delta.reserved,
            note=note,
            reference=reference,
            actor_id=ctx.actor.id,
            request_id=ctx.request_id,
        )
    )
    if fell_below_threshold(product, product.stock.available - delta.available):
        await publish(
            deps,
            uow,
            ctx,
            EventType.STOCK_LOW,
            subject=f"product:{product.sku}",
            sequence=product.version,
            data={
                "sku": product.sku,
                "available": product.stock.available,
                "low_stock_threshold": product.low_stock_threshold,
                "on_hand": product.stock.on_hand,
                "reserved": product.stock.reserved,
            },
        )


def movement_view(movement: StockMovement) -> dict[str, Any]:
    """The public representation of a stock movement."""
    return {
        "id": str(movement.id),
        "sku": movement.sku,
        "at": movement.at,
        "kind": movement.kind.value,
        "on_hand_delta": movement.on_hand_delta,
        "reserved_delta": movement.reserved_delta,
        "note": movement.note,
        "reference": movement.reference,
        "actor_id": movement.actor_id,
        "request_id": movement.request_id,
    }


async def stock_history(
    deps: CatalogueServices, ctx: Context, sku: str, query: HistoryQuery
) -> Result[Page[StockMovement], Forbidden | InvalidInput | ProductNotFound]:
    """A product's stock movements, newest first (keyset pagination). Catalogue managers."""
    if denied := catalogue_write_denied(ctx.actor, "read stock history"):
        return Failure(denied)
    fields = Fields()
    wanted = fields.sku(sku)
    page = checked_page(fields, query, NEWEST_FIRST)
    if invalid := fields.invalid():
        return invalid

    async def work(
        uow: CatalogueUnit,
    ) -> Result[Page[StockMovement], Forbidden | InvalidInput | ProductNotFound]:
        if await uow.products.get(wanted) is None:
            return Failure(ProductNotFound(wanted))
        found = await uow.stock_ledger.history(wanted, after=page.after, limit=page.fetch_limit)
        return Success(page.cut(found, lambda m: (m.at, m.id)))

    return await in_transaction(deps, ctx, work)


async def verify_stock(
    deps: CatalogueServices, ctx: Context, *, repair: bool = False
) -> Result[StockReport, Forbidden]:
    """Recompute every product's levels from the ledger and list the ones that differ.

    With ``repair`` (admins and operators), each drifting product is set to the ledger's
    levels and the fix is audited; in ``DRY_RUN`` the report says what would be fixed.
    """
    if denied := user_admin_denied(ctx.actor, "verify stock levels"):
        return Failure(denied)

    async def work(uow: CatalogueUnit) -> Result[StockReport, Forbidden]:
        totals = await uow.stock_ledger.totals()
        drifts: list[StockDrift] = []
        after: str | None = None
        while page := await uow.products.list(after=after, limit=500, active=None, search=None):
            after = page[-1].sku
            for product in page:
                on_hand, reserved = totals.get(product.sku, (0, 0))
                if (on_hand, reserved) != (product.stock.on_hand, product.stock.reserved):
                    drifts.append(
                        StockDrift(
                            product.sku,
                            product.stock.on_hand,
                            product.stock.reserved,
                            on_hand,
                            reserved,
                        )
                    )
        if repair:
            for drift in drifts:
                current = await uow.products.get(drift.sku, for_update=True)
                if current is None:
                    continue
                stock = Stock(drift.ledger_on_hand, drift.ledger_reserved)
                fixed = replace(current, stock=stock).bumped(deps.clock.now())
                await uow.products.save(fixed)
                await record(
                    deps,
                    uow,
                    ctx,
                    "stock.repair",
                    target=("product", drift.sku),
                    before=product_view(current),
                    after=product_view(fixed),
                )
        return Success(StockReport(tuple(drifts), repaired=repair and ctx.applies_changes))

    return await in_transaction(deps, ctx, work)
