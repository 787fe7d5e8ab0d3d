"""Keyset pages of time-ordered listings: newest first, resumed after the last row's key."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, tuple_


def newest_first[S: Select[Any]](
    statement: S,
    at: ColumnElement[datetime],
    row_id: ColumnElement[Any],
    *,
    after: tuple[datetime, Any] | None,
    limit: int,
) -> S:
    """``statement`` as one page ordered newest first by (``at``, ``row_id``): at most ``limit``
    rows, and only those strictly before ``after``, the key of the previous page's last row.
    The id breaks ties between rows of the same time, so no row is skipped or shown twice."""
    page = statement.order_by(at.desc(), row_id.desc()).limit(limit)
    if after is not None:
        page = page.where(tuple_(at, row_id) < tuple_(*after))
    return page
