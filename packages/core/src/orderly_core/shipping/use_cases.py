"""Shipping rate use cases: one operation each, each returning ``Result[Output, Error union]``.

Admins (and operators at the CLI) create, change and retire rates; every write is validated
whole (every broken field listed), idempotent with a key, audited, and dry-runnable, like the
catalogue's. Anyone signed in reads the active rates; staff see retired ones too.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from returns.pipeline import is_successful
from returns.result import Failure, Result, Success

from orderly_core.platform.audit import record
from orderly_core.platform.idempotency import Idempotent, Operation
from orderly_core.platform.transaction import in_idempotent_transaction, in_transaction
from orderly_core.shared.authorization import (
    may_see_retired_rates,
    shipping_rates_read_denied,
    shipping_rates_write_denied,
)
from orderly_core.shared.context import Context
from orderly_core.shared.countries import COUNTRY_RULE, normalise_country
from orderly_core.shared.errors import Forbidden, InvalidInput, VersionConflict, version_conflict
from orderly_core.shared.money import MAX_MINOR_UNITS, Money, MoneyError, normalise_currency
from orderly_core.shared.paging import Page, by_key, checked_page
from orderly_core.shared.validation import FieldErrors
from orderly_core.shipping.errors import DuplicateShippingRate, ShippingRateNotFound
from orderly_core.shipping.model import (
    RATE_CODE_RULE,
    RATE_NAME_MAX,
    ShippingRate,
    ShippingRateQuery,
    normalise_rate_code,
    rate_view,
)
from orderly_core.shipping.ports import ShippingServices, ShippingUnit

_BY_CODE = by_key(normalise_rate_code)


@dataclass(frozen=True, slots=True)
class NewShippingRate:
    code: str
    name: str
    price: int  # minor units
    currency: str
    countries: tuple[str, ...] = ()  # empty: every country
    free_above: int | None = None  # minor units; None: never free
    active: bool = True


@dataclass(frozen=True, slots=True)
class ShippingRateChanges:
    """A partial update: ``None`` leaves a field as it is; ``clear_free_above`` makes the
    rate never free."""

    code: str
    expected_version: int | None = None
    name: str | None = None
    countries: tuple[str, ...] | None = None
    price: int | None = None
    currency: str | None = None
    free_above: int | None = None
    clear_free_above: bool = False
    active: bool | None = None


@dataclass(frozen=True, slots=True)
class RetireRequest:
    code: str
    expected_version: int | None = None


CreateRateError = Forbidden | InvalidInput | DuplicateShippingRate
ReadRateError = Forbidden | InvalidInput | ShippingRateNotFound
ListRatesError = Forbidden | InvalidInput
ChangeRateError = Forbidden | InvalidInput | ShippingRateNotFound | VersionConflict


class _Fields(FieldErrors):
    """Shipping's field rules, each collecting its error instead of stopping."""

    def code(self, raw: str) -> str:
        if not self.text("code", raw):
            return raw
        code = normalise_rate_code(raw)
        if code is None:
            self.fail("code", RATE_CODE_RULE)
            return raw
        return code

    def name(self, raw: str) -> str:
        name = raw.strip()
        if self.text("name", raw) and not 1 <= len(name) <= RATE_NAME_MAX:
            self.fail("name", f"must be 1-{RATE_NAME_MAX} characters")
        return name

    def countries(self, raw: tuple[str, ...]) -> tuple[str, ...]:
        codes: set[str] = set()
        for index, text in enumerate(raw):
            field = f"countries.{index}"
            if not self.text(field, text):
                continue
            code = normalise_country(text)
            if code is None:
                self.fail(field, COUNTRY_RULE)
            elif code in codes:
                self.fail(field, "repeats a country of an earlier item")
            else:
                codes.add(code)
        return tuple(sorted(codes))

    def amount(self, field: str, amount: int) -> int:
        if not 0 <= amount <= MAX_MINOR_UNITS:
            self.fail(field, f"must be between 0 and {MAX_MINOR_UNITS} minor units")
        return amount

    def currency(self, raw: str) -> str:
        if not self.text("currency", raw):
            return raw
        try:
            return normalise_currency(raw)
        except MoneyError as error:
            self.fail("currency", str(error))
            return raw


def _new_rate(fields: _Fields, new: NewShippingRate, now: datetime) -> ShippingRate:
    free_above = None if new.free_above is None else fields.amount("free_above", new.free_above)
    return ShippingRate(
        code=fields.code(new.code),
        name=fields.name(new.name),
        countries=fields.countries(new.countries),
        price=Money(fields.amount("price", new.price), fields.currency(new.currency)),
        free_above=free_above,
        active=new.active,
        version=1,
        created_at=now,
        updated_at=now,
    )


async def create_shipping_rate(
    deps: ShippingServices, ctx: Context, new: NewShippingRate
) -> Idempotent[ShippingRate, CreateRateError]:
    """Create a shipping rate.

    Rules: only admins (and operators); the code is 1-32 characters of a-z, 0-9, '_', '.',
    '-' (any case, kept lower-cased) and unique; the name 1-100 characters; the price and
    ``free_above`` (the subtotal from which the rate is free; none: never) are minor units of
    the rate's one ISO 4217 currency; ``countries`` are ISO 3166-1 alpha-2 codes, each once
    (none: every country). A shop selling in two currencies defines a rate for each.
    """
    if denied := shipping_rates_write_denied(ctx.actor, "create shipping rates"):
        return Failure(denied)
    fields = _Fields()
    rate = _new_rate(fields, new, deps.clock.now())
    if invalid := fields.invalid():
        return invalid

    async def work(uow: ShippingUnit) -> Result[ShippingRate, CreateRateError]:
        added = await uow.shipping_rates.add(rate)
        if not is_successful(added):
            return Failure(added.failure())
        subject = ("shipping_rate", rate.code)
        await record(
            deps,
            uow,
            ctx,
            "shipping_rate.create",
            target=subject,
            before=None,
            after=rate_view(rate),
        )
        return Success(rate)

    operation = Operation("shipping_rate.create", new, ShippingRate, (DuplicateShippingRate,))
    return await in_idempotent_transaction(deps, ctx, operation, work)


async def get_shipping_rate(
    deps: ShippingServices, ctx: Context, code: str
) -> Result[ShippingRate, ReadRateError]:
    """One shipping rate. Anyone signed in; a retired rate is found by staff only."""
    if denied := shipping_rates_read_denied(ctx.actor):
        return Failure(denied)
    fields = _Fields()
    wanted = fields.code(code)
    if invalid := fields.invalid():
        return invalid

    async def work(uow: ShippingUnit) -> Result[ShippingRate, ReadRateError]:
        rate = await uow.shipping_rates.get(wanted)
        if rate is None or not (rate.active or may_see_retired_rates(ctx.actor)):
            return Failure(ShippingRateNotFound(wanted))
        return Success(rate)

    return await in_transaction(deps, ctx, work)


async def list_shipping_rates(
    deps: ShippingServices, ctx: Context, query: ShippingRateQuery
) -> Result[Page[ShippingRate], ListRatesError]:
    """A page of shipping rates in code order (keyset pagination). Anyone signed in sees
    the active rates; staff and admins see retired ones too and may filter by ``active``."""
    if denied := shipping_rates_read_denied(ctx.actor):
        return Failure(denied)
    fields = _Fields()
    page = checked_page(fields, query, _BY_CODE)
    if invalid := fields.invalid():
        return invalid
    active = query.active if may_see_retired_rates(ctx.actor) else True
    if query.active is False and not may_see_retired_rates(ctx.actor):
        return Success(Page((), None))

    async def work(uow: ShippingUnit) -> Result[Page[ShippingRate], ListRatesError]:
        found = await uow.shipping_rates.list(
            after=page.after, limit=page.fetch_limit, active=active
        )
        return Success(page.cut(found, lambda rate: rate.code))

    return await in_transaction(deps, ctx, work)


def _checked_changes(fields: _Fields, changes: ShippingRateChanges) -> ShippingRateChanges:
    code = fields.code(changes.code)
    name = None if changes.name is None else fields.name(changes.name)
    countries = None if changes.countries is None else fields.countries(changes.countries)
    price = None if changes.price is None else fields.amount("price", changes.price)
    currency = None if changes.currency is None else fields.currency(changes.currency)
    free_above = changes.free_above
    if free_above is not None:
        fields.amount("free_above", free_above)
        if changes.clear_free_above:
            fields.fail("free_above", "cannot be set and cleared at once")
    if currency is not None and price is None:
        fields.fail("price", "is required when the currency changes")
    named = (changes.name, changes.countries, changes.price, currency, free_above, changes.active)
    if all(value is None for value in named) and not changes.clear_free_above:
        fields.fail("changes", "name at least one field to change")
    return replace(
        changes, code=code, name=name, countries=countries, price=price, currency=currency
    )


def _changed(current: ShippingRate, changes: ShippingRateChanges) -> ShippingRate:
    free_above = current.free_above if changes.free_above is None else changes.free_above
    return replace(
        current,
        name=current.name if changes.name is None else changes.name,
        countries=current.countries if changes.countries is None else changes.countries,
        price=Money(
            current.price.amount if changes.price is None else changes.price,
            current.price.currency if changes.currency is None else changes.currency,
        ),
        free_above=None if changes.clear_free_above else free_above,
        active=current.active if changes.active is None else changes.active,
    )


async def _lock_current(
    uow: ShippingUnit, code: str, expected_version: int | None
) -> Result[ShippingRate, ShippingRateNotFound | VersionConflict]:
    current = await uow.shipping_rates.get(code, for_update=True)
    if current is None:
        return Failure(ShippingRateNotFound(code))
    if conflict := version_conflict(("shipping_rate", code), expected_version, current.version):
        return Failure(conflict)
    return Success(current)


async def _change(
    deps: ShippingServices,
    ctx: Context,
    *,
    operation: Operation[ShippingRate],
    code: str,
    expected_version: int | None,
    change: ShippingRateChanges,
) -> Idempotent[ShippingRate, ChangeRateError]:
    async def work(uow: ShippingUnit) -> Result[ShippingRate, ChangeRateError]:
        found = await _lock_current(uow, code, expected_version)
        if not is_successful(found):
            return found
        current = found.unwrap()
        changed = _changed(current, change)
        if changed == current:
            return Success(current)
        changed = changed.bumped(deps.clock.now())
        await uow.shipping_rates.save(changed)
        before, after = rate_view(current), rate_view(changed)
        subject = ("shipping_rate", code)
        await record(deps, uow, ctx, operation.name, target=subject, before=before, after=after)
        return Success(changed)

    return await in_idempotent_transaction(deps, ctx, operation, work)


async def update_shipping_rate(
    deps: ShippingServices, ctx: Context, changes: ShippingRateChanges
) -> Idempotent[ShippingRate, ChangeRateError]:
    """Change some of a shipping rate's fields.

    Rules: only admins (and operators); with ``expected_version`` the change applies only to
    that version; a new currency needs a new price with it; the fields follow the rules of
    a new rate. ``active: true`` puts a retired rate back. Orders already placed keep the
    shipping price they were placed with. A change that leaves every field as it was
    creates no new version.
    """
    if denied := shipping_rates_write_denied(ctx.actor, "change shipping rates"):
        return Failure(denied)
    fields = _Fields()
    checked = _checked_changes(fields, changes)
    if invalid := fields.invalid():
        return invalid
    operation = Operation(
        "shipping_rate.update", changes, ShippingRate, (ShippingRateNotFound, VersionConflict)
    )
    return await _change(
        deps,
        ctx,
        operation=operation,
        code=checked.code,
        expected_version=changes.expected_version,
        change=checked,
    )


async def retire_shipping_rate(
    deps: ShippingServices, ctx: Context, request: RetireRequest
) -> Idempotent[ShippingRate, ChangeRateError]:
    """Retire a shipping rate (``active = false``): new orders can no longer choose it;
    orders placed with it keep it. Retiring a retired rate succeeds and changes nothing."""
    if denied := shipping_rates_write_denied(ctx.actor, "retire shipping rates"):
        return Failure(denied)
    fields = _Fields()
    code = fields.code(request.code)
    if invalid := fields.invalid():
        return invalid
    operation = Operation(
        "shipping_rate.retire", request, ShippingRate, (ShippingRateNotFound, VersionConflict)
    )
    change = ShippingRateChanges(code, active=False)
    return await _change(
        deps,
        ctx,
        operation=operation,
        code=code,
        expected_version=request.expected_version,
        change=change,
    )
