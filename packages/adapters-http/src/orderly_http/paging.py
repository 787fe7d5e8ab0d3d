"""The query parameters of every listing: ``limit`` and ``cursor``.

Declared once, with the bounds of :mod:`orderly_core.shared.paging`, so that every listing
documents and checks them the same way. A route declares ``limit: Limit = PAGE_SIZE_DEFAULT``
(the core's default) and ``cursor: Cursor = None``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from orderly_core.shared.paging import PAGE_SIZE_MAX

Limit = Annotated[int, Query(ge=1, le=PAGE_SIZE_MAX, description="Items per page")]
Cursor = Annotated[str | None, Query(description="The `next_cursor` of the previous page")]
