"""The query parameters of every listing: ``limit``, ``cursor`` and the time filters.

Declared once, with the bounds of :mod:`orderly_core.shared.paging`, so that every listing
documents and checks them the same way. A route declares ``limit: Limit = PAGE_SIZE_DEFAULT``
(the core's default) and ``cursor: Cursor = None``; a time filter is an :data:`Instant`.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import Query
from pydantic import AwareDatetime, BeforeValidator

from orderly_core.shared.paging import PAGE_SIZE_MAX

Limit = Annotated[int, Query(ge=1, le=PAGE_SIZE_MAX, description="Items per page")]
Cursor = Annotated[str | None, Query(description="The `next_cursor` of the previous page")]


_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)


def _rfc3339(value: Any) -> Any:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or _RFC3339.fullmatch(value) is None:
        raise ValueError("must be an RFC 3339 time with its offset, such as 2026-11-22T10:00:00Z")
    return value


Instant = Annotated[AwareDatetime, BeforeValidator(_rfc3339)]
"""A time in a query or a body: RFC 3339 text with its offset, as the document's ``date-time`` says.
A number, which pydantic would read as seconds since 1970, and a time without an offset are
refused."""
