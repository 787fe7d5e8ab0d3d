"""Text an input carries is text Orderly keeps: no NUL (PostgreSQL refuses it), no control
character where it makes no sense, no lone surrogate. One rule, in
:mod:`orderly_core.shared.validation`, applies to every field and every filter, each refusal
naming its field; on PostgreSQL a NUL that got through would fail the statement."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from orderly_core.accounts.administration import RoleChange, list_users, set_role
from orderly_core.accounts.errors import InvalidCredentials
from orderly_core.accounts.model import UserQuery
from orderly_core.accounts.profile import ProfileChanges, update_profile
from orderly_core.accounts.registration import Registration, register
from orderly_core.accounts.sessions import Credentials, log_in
from orderly_core.audit.use_cases import list_audit
from orderly_core.catalogue.model import ProductQuery
from orderly_core.catalogue.use_cases import (
    NewProduct,
    ProductChanges,
    StockAdjustment,
    adjust_stock,
    create_product,
    get_product,
    list_products,
    update_product,
)
from orderly_core.jobs.model import JobNotFound, JobQuery
from orderly_core.jobs.use_cases import get_job, list_jobs
from orderly_core.orders.model import OrderQuery
from orderly_core.orders.placement import LineRequest, NewOrder, place_order
from orderly_core.orders.reading import list_orders
from orderly_core.orders.steps import OrderStep
from orderly_core.platform.audit import AuditQuery
from orderly_core.shared.context import Actor, Role
from orderly_core.shared.errors import InvalidInput
from orderly_core.shared.paging import CURSOR_RULE, by_key
from orderly_core.shared.validation import (
    MULTI_LINE_RULE,
    NOT_TEXT_RULE,
    SINGLE_LINE_RULE,
    text_problem,
)
from orderly_core.shipments.steps import cancel_order
from orderly_core.unit_of_work import Dependencies
from tests.core.helpers import CUSTOMER, STAFF, ctx, err, fresh, make_product

pytestmark = pytest.mark.postgres

ADMIN = Actor.user("u-3", Role.ADMIN)


@pytest.mark.parametrize(
    ("text", "multiline", "problem"),
    [
        ("Blue mug", False, None),
        ("Blå krus, 青いマグ", False, None),
        ("a\x00b", False, SINGLE_LINE_RULE),
        ("a\nb", False, SINGLE_LINE_RULE),
        ("a\tb", False, SINGLE_LINE_RULE),
        ("a\x7fb", False, SINGLE_LINE_RULE),
        ("a\x85b", False, SINGLE_LINE_RULE),
        ("line one\nline two\r\n\tindented", True, None),
        ("a\x00b", True, MULTI_LINE_RULE),
        ("a\x1bb", True, MULTI_LINE_RULE),
        ("a\udcffb", False, NOT_TEXT_RULE),
        ("a\udcffb", True, NOT_TEXT_RULE),
    ],
)
def test_text_holds_no_control_character_and_multi_line_text_only_tabs_and_breaks(
    text: str, multiline: bool, problem: str | None
) -> None:
    assert text_problem(text, multiline=multiline) == problem


Call = Callable[[Dependencies], Awaitable[Any]]

NUL = "a\x00b"

# Every use case that takes text from a caller, with the field its NUL must be refused in.
REFUSALS: dict[str, tuple[Call, str]] = {
    "register email": (
        lambda d: register(d, ctx(), Registration(NUL, "a long passphrase", "Ann")),
        "email",
    ),
    "register display name": (
        lambda d: register(d, ctx(), Registration("ann@example.com", "a long passphrase", NUL)),
        "display_name",
    ),
    "profile display name": (
        lambda d: update_profile(d, ctx(CUSTOMER), ProfileChanges(display_name=NUL)),
        "display_name",
    ),
    "profile email": (
        lambda d: update_profile(d, ctx(CUSTOMER), ProfileChanges(email=NUL)),
        "email",
    ),
    "role change by email": (
        lambda d: set_role(d, ctx(), RoleChange(NUL + "@example.com", Role.STAFF)),
        "user",
    ),
    "users filter": (
        lambda d: list_users(d, ctx(), UserQuery(email_prefix=NUL)),
        "email_prefix",
    ),
    "product sku": (
        lambda d: create_product(d, ctx(), NewProduct("MUG\x00", "Mug", 1, "EUR")),
        "sku",
    ),
    "product name": (
        lambda d: create_product(d, ctx(), NewProduct("MUG-9", NUL, 1, "EUR")),
        "name",
    ),
    "product description": (
        lambda d: create_product(d, ctx(), NewProduct("MUG-9", "Mug", 1, "EUR", NUL)),
        "description",
    ),
    "product currency": (
        lambda d: create_product(d, ctx(), NewProduct("MUG-9", "Mug", 1, "EU\x00R")),
        "currency",
    ),
    "product change": (
        lambda d: update_product(d, ctx(), ProductChanges("MUG-1", name=NUL)),
        "name",
    ),
    "read by sku": (lambda d: get_product(d, ctx(), "MUG-1\x00"), "sku"),
    "stock adjustment reason": (
        lambda d: adjust_stock(d, ctx(), StockAdjustment("MUG-1", 1, NUL)),
        "reason",
    ),
    "products search": (
        lambda d: list_products(d, ctx(), ProductQuery(search=NUL)),
        "search",
    ),
    "audit filter": (
        lambda d: list_audit(d, ctx(), AuditQuery(target_type=NUL)),
        "target_type",
    ),
    "jobs filter": (lambda d: list_jobs(d, ctx(), JobQuery(name=NUL)), "name"),
    "orders filter": (
        lambda d: list_orders(d, ctx(STAFF), OrderQuery(customer_id=NUL)),
        "customer_id",
    ),
    "order for a customer": (
        lambda d: place_order(d, ctx(), NewOrder((LineRequest("MUG-1", 1),), customer_id=NUL)),
        "customer_id",
    ),
    "cancellation reason": (
        lambda d: cancel_order(d, ctx(STAFF), OrderStep(str(ADMIN.id)), reason=NUL),
        "reason",
    ),
}


@pytest.mark.parametrize("case", list(REFUSALS))
async def test_a_nul_in_any_text_is_invalid_input_naming_its_field(
    deps: Dependencies, case: str
) -> None:
    await make_product(deps, "MUG-1")
    call, field = REFUSALS[case]

    error = err(await call(deps))

    assert isinstance(error, InvalidInput), error
    assert field in {e.field for e in error.errors}


async def test_a_cursor_that_decodes_to_control_characters_is_not_a_cursor(
    deps: Dependencies,
) -> None:
    cursor = by_key(lambda text: text).encode("a\x00@example.com")

    error = err(await list_users(deps, ctx(), UserQuery(cursor=cursor)))

    assert isinstance(error, InvalidInput)
    assert ("cursor", CURSOR_RULE) in {(e.field, e.message) for e in error.errors}


async def test_signing_in_with_a_nul_in_the_email_is_an_unknown_account(
    deps: Dependencies,
) -> None:
    refused = await log_in(deps, ctx(), Credentials("ann\x00@example.com", "a long passphrase"))

    assert err(refused) == InvalidCredentials()


async def test_a_job_id_with_a_nul_names_no_job(deps: Dependencies) -> None:
    assert err(await get_job(deps, ctx(), "job\x00")) == JobNotFound("job\x00")


async def test_text_without_control_characters_is_kept_as_given(deps: Dependencies) -> None:
    product = fresh(
        await create_product(
            deps,
            ctx(),
            NewProduct("MUG-2", "Blå krus", 1, "EUR", description="Two lines:\n\tglazed"),
        )
    )

    assert (product.name, product.description) == ("Blå krus", "Two lines:\n\tglazed")
