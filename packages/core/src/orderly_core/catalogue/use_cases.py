"""Catalogue use cases: one operation each, each returning ``Result[Output, Error union]``.

Every write checks the actor first, validates all of its input (listing every broken field),
then runs in one unit of work through
:func:`~orderly_core.platform.transaction.in_transaction`, so a
``DRY_RUN`` computes the same result and leaves nothing behind. Writes made with an
idempotency key happen once: a retry gets the first outcome again
(:func:`~orderly_core.platform.transaction.in_idempotent_transaction`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

import structlog
from returns.pipeline import is_successful
from returns.result import Failure, Result, Success

from orderly_core.catalogue.errors import (
    DuplicateSku,
    ProductNotFound,
    StockBelowReserved,
)
from orderly_core.catalogue.ledger import MovementKind
from orderly_core.catalogue.model import (
    ON_HAND_MAX,
    Product,
    ProductQuery,
    Stock,
    normalise_sku,
    product_view,
)
from orderly_core.catalogue.ports import CatalogueServices, CatalogueUnit
from orderly_core.catalogue.stock import record_movement
from orderly_core.catalogue.validation import Fields
from orderly_core.platform.audit import record
from orderly_core.platform.idempotency import Idempotent, Operation
from orderly_core.platform.transaction import in_idempotent_transaction, in_transaction
from orderly_core.shared.authorization import catalogue_write_denied
from orderly_core.shared.context import Context
from orderly_core.shared.errors import Forbidden, InvalidInput, VersionConflict, version_conflict
from orderly_core.shared.money import Money
from orderly_core.shared.paging import Page, by_key, checked_page

log = structlog.get_logger(__name__)

_BY_SKU = by_key(normalise_sku)


@dataclass(frozen=True, slots=True)
class NewProduct:
    sku: str
    name: str
    unit_price: int  # minor units
    currency: str
    description: str = ""
    on_hand: int = 0
    active: bool = True
    low_stock_threshold: int = 0
    max_per_order: int = 0  # most units one order may hold, 1-1000; 0: no limit of its own


@dataclass(frozen=True, slots=True)
class ProductChanges:
    """A partial update: ``None`` leaves a field as it is."""

    sku: str
    expected_version: int | None = None  # None: apply to whatever version is current
    name: str | None = None
    description: str | None = None
    unit_price: int | None = None
    currency: str | None = None
    active: bool | None = None
    low_stock_threshold: int | None = None
    max_per_order: int | None = None  # 0 removes the product's own limit


@dataclass(frozen=True, slots=True)
class ArchiveRequest:
    sku: str
    expected_version: int | None = None


@dataclass(frozen=True, slots=True)
class StockAdjustment:
    sku: str
    delta: int  # signed change of on-hand stock
    reason: str
    expected_version: int | None = None


CreateProductError = Forbidden | InvalidInput | DuplicateSku
GetProductError = InvalidInput | ProductNotFound
ListProductsError = InvalidInput
UpdateProductError = Forbidden | InvalidInput | ProductNotFound | VersionConflict
ArchiveProductError = Forbidden | InvalidInput | ProductNotFound | VersionConflict
AdjustStockError = Forbidden | InvalidInput | ProductNotFound | VersionConflict | StockBelowReserved


def _new_product(fields: Fields, new: NewProduct, now: datetime) -> Product:
    """The product ``new`` describes, at version 1; each broken rule is added to ``fields``."""
    return Product(
        sku=fields.sku(new.sku),
        name=fields.name(new.name),
        description=fields.description(new.description),
        price=Money(fields.unit_price(new.unit_price), fields.currency(new.currency)),
        active=new.active,
        stock=Stock(on_hand=fields.on_hand(new.on_hand)),
        version=1,
        created_at=now,
        updated_at=now,
        low_stock_threshold=fields.threshold(new.low_stock_threshold),
        max_per_order=fields.max_per_order(new.max_per_order),
    )


async def create_product(
    deps: CatalogueServices, ctx: Context, new: NewProduct
) -> Idempotent[Product, CreateProductError]:
    """Create a product with its opening stock.

    Rules: only catalogue managers; the SKU is unique regardless of case; the price is a
    non-negative amount of minor units of an ISO 4217 currency; opening stock is not negative;
    `max_per_order`, the most units one order may hold, is 1-1000 (0: no limit of its own,
    beside the 1,000 units every order line may hold).
    """
    if denied := catalogue_write_denied(ctx.actor, "create products"):
        return Failure(denied)
    fields = Fields()
    product = _new_product(fields, new, deps.clock.now())
    if invalid := fields.invalid():
        return invalid

    async def work(uow: CatalogueUnit) -> Result[Product, CreateProductError]:
        added = await uow.products.add(product)
        if not is_successful(added):
            return Failure(added.failure())
        opening = Stock(product.stock.on_hand)
        await record_movement(
            deps,
            uow,
            ctx,
            product=product,
            kind=MovementKind.OPENING,
            delta=opening,
            note="opening stock",
        )
        await record(
            deps,
            uow,
            ctx,
            "product.create",
            target=("product", product.sku),
            before=None,
            after=product_view(product),
        )
        return Success(product)

    operation = Operation("product.create", new, Product, (DuplicateSku,))
    return await in_idempotent_transaction(deps, ctx, operation, work)


async def get_product(
    deps: CatalogueServices, ctx: Context, sku: str
) -> Result[Product, GetProductError]:
    """Read one product with its stock levels. Public."""
    fields = Fields()
    wanted = fields.sku(sku)
    if invalid := fields.invalid():
        return invalid

    async def work(uow: CatalogueUnit) -> Result[Product, GetProductError]:
        product = await uow.products.get(wanted)
        return Success(product) if product else Failure(ProductNotFound(wanted))

    return await in_transaction(deps, ctx, work)


async def list_products(
    deps: CatalogueServices, ctx: Context, query: ProductQuery
) -> Result[Page[Product], ListProductsError]:
    """A page of products in SKU order (keyset pagination). Public.

    Filters: ``active``; ``search`` matches a substring of the name or SKU, ignoring case.
    At most 200 products a page.
    """
    fields = Fields()
    page = checked_page(fields, query, _BY_SKU)
    search = query.search.strip() if query.search else None
    if search is not None and len(search) > 100:
        fields.fail("search", "must be at most 100 characters")
    if invalid := fields.invalid():
        return invalid

    async def work(uow: CatalogueUnit) -> Result[Page[Product], ListProductsError]:
        found = await uow.products.list(
            after=page.after, limit=page.fetch_limit, active=query.active, search=search or None
        )
        return Success(page.cut(found, lambda product: product.sku))

    return await in_transaction(deps, ctx, work)


def _checked_changes(fields: Fields, changes: ProductChanges) -> ProductChanges:
    """``changes`` with every field it names normalised; each broken rule is added to
    ``fields``. A new currency needs a new price with it, and at least one field changes."""
    sku = fields.sku(changes.sku)
    name = None if changes.name is None else fields.name(changes.name)
    description = None if changes.description is None else fields.description(changes.description)
    price = None if changes.unit_price is None else fields.unit_price(changes.unit_price)
    currency = None if changes.currency is None else fields.currency(changes.currency)
    threshold = changes.low_stock_threshold
    if threshold is not None:
        fields.threshold(threshold)
    if changes.max_per_order is not None:
        fields.max_per_order(changes.max_per_order)
    if currency is not None and price is None:
        fields.fail("unit_price", "is required when the currency changes")
    named = (changes.name, changes.description, changes.unit_price, currency, changes.active)
    limits = (threshold, changes.max_per_order)
    if all(value is None for value in named + limits):
        fields.fail("changes", "name at least one field to change")
    return replace(
        changes, sku=sku, name=name, description=description, unit_price=price, currency=currency
    )


def _changed(current: Product, changes: ProductChanges) -> Product:
    """``current`` with the (checked) changes applied; ``None`` leaves a field as it is."""
    threshold = changes.low_stock_threshold
    max_per_order = changes.max_per_order
    return replace(
        current,
        name=current.name if changes.name is None else changes.name,
        description=current.description if changes.description is None else changes.description,
        price=Money(
            current.price.amount if changes.unit_price is None else changes.unit_price,
            current.price.currency if changes.currency is None else changes.currency,
        ),
        active=current.active if changes.active is None else changes.active,
        low_stock_threshold=current.low_stock_threshold if threshold is None else threshold,
        max_per_order=current.max_per_order if max_per_order is None else max_per_order or None,
    )


async def update_product(
    deps: CatalogueServices, ctx: Context, changes: ProductChanges
) -> Idempotent[Product, UpdateProductError]:
    """Change some of a product's fields.

    Rules: only catalogue managers; with ``expected_version`` the change applies only to that
    version (optimistic concurrency); a new currency needs a new price with it; a change that
    leaves every field as it was creates no new version.
    """
    if denied := catalogue_write_denied(ctx.actor, "update products"):
        return Failure(denied)
    fields = Fields()
    checked = _checked_changes(fields, changes)
    if invalid := fields.invalid():
        return invalid
    sku = checked.sku

    async def work(uow: CatalogueUnit) -> Result[Product, UpdateProductError]:
        found = await _lock_current(uow, sku, changes.expected_version)
        if not is_successful(found):
            return found
        current = found.unwrap()
        updated = _changed(current, checked)
        if updated == current:
            return Success(current)
        updated = updated.bumped(deps.clock.now())
        await uow.products.save(updated)
        await record(
            deps,
            uow,
            ctx,
            "product.update",
            target=("product", sku),
            before=product_view(current),
            after=product_view(updated),
        )
        return Success(updated)

    operation = Operation("product.update", changes, Product, (ProductNotFound, VersionConflict))
    return await in_idempotent_transaction(deps, ctx, operation, work)


async def archive_product(
    deps: CatalogueServices, ctx: Context, request: ArchiveRequest
) -> Idempotent[Product, ArchiveProductError]:
    """Take a product out of sale (``active = false``); its history and stock stay.

    Archiving an archived product succeeds and changes nothing.
    """
    if denied := catalogue_write_denied(ctx.actor, "archive products"):
        return Failure(denied)
    fields = Fields()
    sku = fields.sku(request.sku)
    if invalid := fields.invalid():
        return invalid

    async def work(uow: CatalogueUnit) -> Result[Product, ArchiveProductError]:
        found = await _lock_current(uow, sku, request.expected_version)
        if not is_successful(found):
            return found
        current = found.unwrap()
        if not current.active:
            return Success(current)
        archived = replace(current, active=False).bumped(deps.clock.now())
        await uow.products.save(archived)
        await record(
            deps,
            uow,
            ctx,
            "product.archive",
            target=("product", sku),
            before=product_view(current),
            after=product_view(archived),
        )
        return Success(archived)

    operation = Operation("product.archive", request, Product, (ProductNotFound, VersionConflict))
    return await in_idempotent_transaction(deps, ctx, operation, work)


def _adjusted(current: Product, delta: int) -> Result[Product, AdjustStockError]:
    """``current`` with ``delta`` added to its on-hand stock, which may not drop below the
    quantity reserved, nor exceed the most a product may hold."""
    on_hand = current.stock.on_hand + delta
    if on_hand < current.stock.reserved:
        return Failure(
            StockBelowReserved(current.sku, current.stock.on_hand, current.stock.reserved, on_hand)
        )
    if on_hand > ON_HAND_MAX:
        return Failure(InvalidInput.single("delta", f"on hand would exceed {ON_HAND_MAX}"))
    return Success(replace(current, stock=replace(current.stock, on_hand=on_hand)))


async def _record_adjustment(
    deps: CatalogueServices,
    uow: CatalogueUnit,
    ctx: Context,
    before: Product,
    after: Product,
    *,
    adjustment: StockAdjustment,
    reason: str,
) -> None:
    """The ledger movement, the audit entry and the log line of one stock adjustment."""
    await record_movement(
        deps,
        uow,
        ctx,
        product=after,
        kind=MovementKind.ADJUSTMENT,
        delta=Stock(adjustment.delta),
        note=reason,
    )
    await record(
        deps,
        uow,
        ctx,
        "product.adjust_stock",
        target=("product", after.sku),
        before=product_view(before),
        after=product_view(after),
    )
    on_hand = after.stock.on_hand
    log.info(
        "stock_adjusted", sku=after.sku, delta=adjustment.delta, on_hand=on_hand, reason=reason
    )


async def adjust_stock(
    deps: CatalogueServices, ctx: Context, adjustment: StockAdjustment
) -> Idempotent[Product, AdjustStockError]:
    """Add to or remove from a product's on-hand stock, with a reason.

    Rules: only catalogue managers; the delta is non-zero; on-hand stock may not drop below
    the quantity reserved by open orders (nor, therefore, below zero).
    """
    if denied := catalogue_write_denied(ctx.actor, "adjust stock"):
        return Failure(denied)
    fields = Fields()
    sku = fields.sku(adjustment.sku)
    reason = fields.reason(adjustment.reason)
    if adjustment.delta == 0 or abs(adjustment.delta) > ON_HAND_MAX:
        fields.fail("delta", f"must be a non-zero change of at most {ON_HAND_MAX} units")
    if invalid := fields.invalid():
        return invalid

    async def work(uow: CatalogueUnit) -> Result[Product, AdjustStockError]:
        found = await _lock_current(uow, sku, adjustment.expected_version)
        if not is_successful(found):
            return found
        current = found.unwrap()
        checked = _adjusted(current, adjustment.delta)
        if not is_successful(checked):
            return checked
        adjusted = checked.unwrap().bumped(deps.clock.now())
        await uow.products.save(adjusted)
        await _record_adjustment(
            deps, uow, ctx, current, adjusted, adjustment=adjustment, reason=reason
        )
        return Success(adjusted)

    operation = Operation(
        "product.adjust_stock",
        adjustment,
        Product,
        (ProductNotFound, VersionConflict, StockBelowReserved),
    )
    return await in_idempotent_transaction(deps, ctx, operation, work)


async def _lock_current(
    uow: CatalogueUnit, sku: str, expected_version: int | None
) -> Result[Product, ProductNotFound | VersionConflict]:
    """The product's row, locked for this transaction, if it is at the expected version."""
    current = await uow.products.get(sku, for_update=True)
    if current is None:
        return Failure(ProductNotFound(sku))
    if conflict := version_conflict(("product", sku), expected_version, current.version):
        return Failure(conflict)
    return Success(current)
