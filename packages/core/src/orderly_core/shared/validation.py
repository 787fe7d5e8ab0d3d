"""Collecting every broken rule of one input, instead of stopping at the first; and the rules
that every text and every time an input carries must meet, whatever field it fills.

**Text.** Orderly keeps text in PostgreSQL, which refuses NUL, and shows it in terminals, logs
and CSV files, where other control characters make no sense: an email, a SKU, a name, a code
or a filter is *single-line text* (no control character at all); a description or a reason is
*multi-line text* (tabs and line breaks allowed, no other control character). Neither may hold
a lone surrogate (what undecodable bytes become in a command line), which is not text.
:data:`SINGLE_LINE_PATTERN` and :data:`MULTI_LINE_PATTERN` say the same as JSON Schema
patterns, for the API's schema.

**Times.** A time must be one that PostgreSQL stores and that converts to UTC and back:
from :data:`TIME_MIN` to :data:`TIME_MAX`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Collection
from dataclasses import fields as dataclass_fields
from dataclasses import is_dataclass
from datetime import UTC, date, datetime

from returns.result import Failure

from orderly_core.shared.errors import FieldError, InvalidInput

# The control characters each kind of text refuses, as the inside of a regex character class.
SINGLE_LINE_REFUSED = r"\x00-\x1f\x7f-\x9f"
MULTI_LINE_REFUSED = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
SINGLE_LINE_PATTERN = rf"^[^{SINGLE_LINE_REFUSED}]*$"
MULTI_LINE_PATTERN = rf"^[^{MULTI_LINE_REFUSED}]*$"
SINGLE_LINE_RULE = "must not contain control characters"
MULTI_LINE_RULE = "must not contain control characters other than tabs and line breaks"
NOT_TEXT_RULE = "must be text (it holds an unpaired surrogate)"

_SINGLE_LINE = re.compile(SINGLE_LINE_PATTERN)
_MULTI_LINE = re.compile(MULTI_LINE_PATTERN)
_SURROGATE = re.compile("[\ud800-\udfff]")

# A day inside Python's range at each end, so that any offset converts to UTC.
TIME_MIN = datetime(1, 1, 2, tzinfo=UTC)
TIME_MAX = datetime(9999, 12, 30, 23, 59, 59, 999999, tzinfo=UTC)
TIME_RULE = "must be a time with its offset between 0001-01-02 and 9999-12-30 (UTC)"
DAY_RULE = "must be a day between 0001-01-02 and 9999-12-30"


def text_problem(value: str, *, multiline: bool = False) -> str | None:
    """What is wrong with ``value`` as text Orderly keeps, or ``None`` when nothing is.

    Single-line text holds no control character; multi-line text may hold tabs and line
    breaks (``\\t``, ``\\n``, ``\\r``) but no other control character. Neither holds a lone
    surrogate.
    """
    if multiline:
        if _MULTI_LINE.fullmatch(value) is None:
            return MULTI_LINE_RULE
    elif _SINGLE_LINE.fullmatch(value) is None:
        return SINGLE_LINE_RULE
    if _SURROGATE.search(value):
        return NOT_TEXT_RULE
    return None


def time_problem(value: datetime) -> str | None:
    """What is wrong with ``value`` as a time Orderly stores or searches by, or ``None``."""
    if value.utcoffset() is None or not TIME_MIN <= value <= TIME_MAX:
        return TIME_RULE
    return None


def day_problem(value: date) -> str | None:
    """What is wrong with ``value`` as a day Orderly keeps or counts by (a UTC day, whose
    bounds are times of :func:`time_problem`'s range), or ``None``."""
    return None if TIME_MIN.date() <= value <= TIME_MAX.date() else DAY_RULE


def parse_id(raw: str) -> uuid.UUID | None:
    """The UUID ``raw`` spells, or ``None``: an id that cannot exist is simply not found."""
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None


class FieldErrors:
    def __init__(self, prefix: str = "") -> None:
        self._prefix = prefix
        self.errors: list[FieldError] = []

    def fail(self, field: str, message: str) -> None:
        self.errors.append(FieldError(self._prefix + field, message))

    def text(self, field: str, value: str, *, multiline: bool = False) -> bool:
        """Whether ``value`` is text Orderly keeps (:func:`text_problem`); collects the error
        when it is not."""
        problem = text_problem(value, multiline=multiline)
        if problem is not None:
            self.fail(field, problem)
        return problem is None

    def time(self, field: str, value: datetime) -> bool:
        """Whether ``value`` is a time Orderly stores (:func:`time_problem`); collects the
        error when it is not."""
        problem = time_problem(value)
        if problem is not None:
            self.fail(field, problem)
        return problem is None

    def time_range(self, since: datetime | None, until: datetime | None) -> None:
        """A range [since, until) holds some time: ``until`` comes after ``since``."""
        if since is not None and until is not None and since >= until:
            self.fail("until", "must be after since")

    def filters(self, query: object, *, besides: Collection[str] = ()) -> None:
        """Hold every text and time of a query (a frozen dataclass) to the rules above, each
        named after its field, except the fields named in ``besides``: every listing's
        filters go through here."""
        if not is_dataclass(query):
            return
        for field in dataclass_fields(query):
            if field.name in besides:
                continue
            value = getattr(query, field.name)
            if isinstance(value, str):
                self.text(field.name, value)
            elif isinstance(value, datetime):
                self.time(field.name, value)

    def invalid(self) -> Failure[InvalidInput] | None:
        """The failure to return when any rule was broken, else ``None``."""
        return Failure(InvalidInput(tuple(self.errors))) if self.errors else None
