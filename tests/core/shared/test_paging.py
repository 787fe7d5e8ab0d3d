"""Paging: the limits, the one cursor codec and its one refusal, and the cut of a fetched
page."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from orderly_core.accounts.model import UserQuery, normalise_email
from orderly_core.catalogue.model import ProductQuery, normalise_sku
from orderly_core.catalogue.stock import HistoryQuery
from orderly_core.jobs.model import JobQuery
from orderly_core.orders.model import OrderQuery
from orderly_core.platform.audit import AuditQuery
from orderly_core.shared.errors import FieldError
from orderly_core.shared.paging import (
    CURSOR_RULE,
    NEWEST_FIRST,
    PAGE_SIZE_DEFAULT,
    PAGE_SIZE_MAX,
    Keyset,
    Page,
    PageQuery,
    by_key,
    checked_page,
    newest_first,
)
from orderly_core.shared.validation import FieldErrors
from orderly_core.webhooks.deliveries import DeliveryQuery

AT = datetime(2031, 4, 1, 9, 0, 0, 123456, tzinfo=UTC)
ID = uuid.UUID("0f8e2a6c-6b1d-4d39-9d0e-3a7c5b2e1f40")
BY_TEXT = newest_first(lambda key: key)
BY_SKU = by_key(normalise_sku)
BY_EMAIL = by_key(normalise_email)


def _base64url(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _errors(query: PageQuery, keyset: Keyset[Any]) -> list[FieldError]:
    fields = FieldErrors()
    checked_page(fields, query, keyset)
    return fields.errors


@pytest.mark.parametrize(
    ("keyset", "position"),
    [
        (NEWEST_FIRST, (AT, ID)),
        (NEWEST_FIRST, (datetime(2031, 4, 1, tzinfo=timezone(timedelta(hours=2))), ID)),
        (BY_TEXT, (AT, "import_products:7|a")),
        (BY_SKU, "MUG-01"),
        (BY_EMAIL, "ada@example.com"),
    ],
)
def test_a_cursor_reads_back_as_the_position_it_was_made_from(
    keyset: Keyset[Any], position: Any
) -> None:
    assert keyset.decode(keyset.encode(position)) == position


def test_cursors_keep_the_text_clients_already_hold() -> None:
    assert NEWEST_FIRST.encode((AT, ID)) == _base64url(f"{AT.isoformat()}|{ID}")
    assert BY_TEXT.encode((AT, "job-1")) == _base64url(f"{AT.isoformat()}|job-1")
    assert BY_SKU.encode("MUG-01") == "TVVHLTAx"
    assert BY_EMAIL.encode("ada@example.com") == "YWRhQGV4YW1wbGUuY29t"


@pytest.mark.parametrize(
    ("keyset", "cursor"),
    [
        (NEWEST_FIRST, "nope"),
        (NEWEST_FIRST, "!!!"),
        (NEWEST_FIRST, "é"),
        (NEWEST_FIRST, _base64url(f"{AT.isoformat()}|not-a-uuid")),
        (NEWEST_FIRST, _base64url(f"yesterday|{ID}")),
        (NEWEST_FIRST, _base64url(AT.isoformat())),
        (BY_TEXT, _base64url(f"{AT.isoformat()}|")),
        (BY_TEXT, "TVVHLTAx"),  # a product's cursor
        (BY_SKU, _base64url("mug-01")),  # not as Orderly writes SKUs
        (BY_SKU, _base64url("")),
        (BY_SKU, "\x00"),
        (BY_EMAIL, _base64url("Ada@Example.com")),
        (BY_EMAIL, "TVVHLTAx"),
    ],
)
def test_a_cursor_this_api_did_not_return_is_refused_with_one_message(
    keyset: Keyset[Any], cursor: str
) -> None:
    assert keyset.decode(cursor) is None
    assert _errors(PageQuery(cursor=cursor), keyset) == [FieldError("cursor", CURSOR_RULE)]
    assert CURSOR_RULE == "is not a cursor this API returned"


@pytest.mark.parametrize("limit", [1, PAGE_SIZE_MAX])
def test_a_limit_from_1_to_the_maximum_is_accepted(limit: int) -> None:
    assert PAGE_SIZE_MAX == 200
    assert _errors(PageQuery(limit=limit), NEWEST_FIRST) == []


@pytest.mark.parametrize("limit", [0, PAGE_SIZE_MAX + 1, -1])
def test_a_limit_outside_1_to_the_maximum_is_refused(limit: int) -> None:
    assert _errors(PageQuery(limit=limit), NEWEST_FIRST) == [
        FieldError("limit", "must be between 1 and 200")
    ]


def test_the_limit_and_the_cursor_are_each_refused() -> None:
    errors = _errors(PageQuery(limit=0, cursor="nope"), BY_SKU)

    assert [error.field for error in errors] == ["limit", "cursor"]


@pytest.mark.parametrize(
    "query_type",
    [AuditQuery, ProductQuery, HistoryQuery, UserQuery, OrderQuery, JobQuery, DeliveryQuery],
)
def test_every_listing_pages_by_the_same_default(query_type: type[PageQuery]) -> None:
    query = query_type()

    assert (query.limit, query.cursor) == (PAGE_SIZE_DEFAULT, None)
    assert PAGE_SIZE_DEFAULT == 50


def test_the_first_page_resumes_after_nothing_and_a_later_one_after_its_cursor() -> None:
    first = checked_page(FieldErrors(), PageQuery(limit=2), BY_SKU)
    later = checked_page(FieldErrors(), PageQuery(limit=2, cursor="TVVHLTAx"), BY_SKU)

    assert (first.after, later.after) == (None, "MUG-01")
    assert first.fetch_limit == 3


def test_a_page_fetched_with_one_extra_row_names_the_next_page() -> None:
    request = checked_page(FieldErrors(), PageQuery(limit=2), BY_SKU)

    page = request.cut(["A-1", "B-2", "C-3"], lambda sku: sku)

    assert page == Page(("A-1", "B-2"), BY_SKU.encode("B-2"))


@pytest.mark.parametrize("found", [["A-1", "B-2"], ["A-1"], []])
def test_a_page_without_the_extra_row_is_the_last(found: list[str]) -> None:
    request = checked_page(FieldErrors(), PageQuery(limit=2), BY_SKU)

    page = request.cut(found, lambda sku: sku)

    assert page == Page(tuple(found), None)
