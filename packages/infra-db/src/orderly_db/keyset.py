"""Keyset pages of time-ordered listings: newest first, resumed after the last row's key."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, DateTime, Select, Uuid, bindparam, tuple_

_INSTANT = DateTime(timezone=True)


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


def compiled_newest_first[S: Select[Any]](
    statement: S,
    at: ColumnElement[datetime],
    row_id: ColumnElement[Any],
    *,
    after: bool,
    since: bool,
    until: bool,
) -> S:
    """:func:`newest_first` for a statement compiled once and run with its values: the page's
    size is the parameter ``limit``; the previous page's last key, when ``after``, the
    parameters ``after_at`` and ``after_id``; and the time window [``since``, ``until``), each
    bound when asked for, parameters of the same names."""
    if since:
        statement = statement.where(at >= bindparam("since", type_=_INSTANT))
    if until:
        statement = statement.where(at < bindparam("until", type_=_INSTANT))
    if after:
        position = tuple_(bindparam("after_at", type_=_INSTANT), bindparam("after_id", type_=Uuid))
        statement = statement.where(tuple_(at, row_id) < position)
    return statement.order_by(at.desc(), row_id.desc()).limit(bindparam("limit"))
