"""Paging: every listing is read a page at a time, each page resuming after the last row of
the one before (keyset pagination).

A listing's query asks for a page with ``limit``, how many rows it holds (1 to
:data:`PAGE_SIZE_MAX`, :data:`PAGE_SIZE_DEFAULT` unless asked), and ``cursor``, the
``next_cursor`` of the previous page (none for the first). A cursor is the unpadded base64url
text of the position of the last row shown, written by the listing's :class:`Keyset`:
newest-first listings write ``time|key`` (the time in ISO 8601), listings in the order of a
natural key (a SKU, an email) write the key itself. Clients pass cursors back and never build
them: any text that does not read back as a position of the listing's order is refused with
:data:`CURSOR_RULE`.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from orderly_core.shared.validation import FieldErrors, parse_id, text_problem

PAGE_SIZE_DEFAULT = 50
PAGE_SIZE_MAX = 200
LIMIT_RULE = f"must be between 1 and {PAGE_SIZE_MAX}"
CURSOR_RULE = "is not a cursor this API returned"


@dataclass(frozen=True, slots=True)
class PageQuery:
    """The page a listing is asked for; each listing's query adds its filters to it."""

    limit: int = PAGE_SIZE_DEFAULT
    cursor: str | None = None


@dataclass(frozen=True, slots=True)
class Page[T]:
    """One page of a listing: its rows, and the cursor of the next page when one follows."""

    items: tuple[T, ...]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class Keyset[P]:
    """The order of a listing as its cursors name it: how the position ``P`` of a row is
    written as text, and read back (``None`` for text that names no position of this order).
    """

    write: Callable[[P], str]
    read: Callable[[str], P | None]

    def encode(self, position: P) -> str:
        """The cursor of ``position``."""
        return base64.urlsafe_b64encode(self.write(position).encode()).decode().rstrip("=")

    def decode(self, cursor: str) -> P | None:
        """The position ``cursor`` names; ``None`` for anything :meth:`encode` did not make."""
        try:
            text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None
        return None if text_problem(text) else self.read(text)


def newest_first[K](key: Callable[[str], K | None]) -> Keyset[tuple[datetime, K]]:
    """Newest first, rows of the same time in the order of their key: the position (time, key)
    is written ``time|key``; ``key`` reads the key back from its text (``None``: not a key)."""

    def read(text: str) -> tuple[datetime, K] | None:
        at, separator, raw = text.partition("|")
        if not separator or not raw:
            return None
        try:
            moment = datetime.fromisoformat(at)
        except ValueError:
            return None
        found = key(raw)
        return None if found is None else (moment, found)

    return Keyset(lambda position: f"{position[0].isoformat()}|{position[1]}", read)


def by_key(normalise: Callable[[str], str | None]) -> Keyset[str]:
    """In the order of a natural key: the position is the key itself, read back only when it
    is already in the form ``normalise`` gives every key."""
    return Keyset(lambda key: key, lambda text: text if normalise(text) == text else None)


NEWEST_FIRST: Keyset[tuple[datetime, uuid.UUID]] = newest_first(parse_id)
"""Newest first, rows of the same time in the order of their UUID."""


@dataclass(frozen=True, slots=True)
class PageRequest[P]:
    """A page query whose rules held: how many rows the page holds, and the position it
    resumes after (``None``: the first page)."""

    limit: int
    after: P | None
    keyset: Keyset[P]

    @property
    def fetch_limit(self) -> int:
        """How many rows to fetch: one more than the page holds, which shows whether another
        page follows."""
        return self.limit + 1

    def cut[T](self, found: Sequence[T], position: Callable[[T], P]) -> Page[T]:
        """The page of rows fetched with :attr:`fetch_limit`, with the cursor of the next page
        only when the extra row shows that one follows."""
        items = tuple(found[: self.limit])
        more = len(found) > self.limit
        return Page(items, self.keyset.encode(position(items[-1])) if more else None)


def checked_page[P](fields: FieldErrors, query: PageQuery, keyset: Keyset[P]) -> PageRequest[P]:
    """The page ``query`` asks for, in the order of ``keyset``. A limit outside 1 to
    :data:`PAGE_SIZE_MAX` and a cursor this listing did not return are each collected in
    ``fields``, as is every filter of ``query`` that is not text or a time Orderly keeps
    (:meth:`~orderly_core.shared.validation.FieldErrors.filters`); the caller answers those
    before it reads anything."""
    fields.filters(query, besides=("cursor",))  # its keyset reads it, with one message
    if not 1 <= query.limit <= PAGE_SIZE_MAX:
        fields.fail("limit", LIMIT_RULE)
    after = None
    if query.cursor is not None and (after := keyset.decode(query.cursor)) is None:
        fields.fail("cursor", CURSOR_RULE)
    return PageRequest(query.limit, after, keyset)
