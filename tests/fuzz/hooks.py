"""Schemathesis hooks of the fuzzing run (loaded through ``SCHEMATHESIS_HOOKS``).

A listing's ``cursor`` is opaque: only the ``next_cursor`` a listing returned is one, and any
other text is refused (documented in the API's description). Generated cursors are left out;
the stateful phase follows the cursors the API returns.
"""

from __future__ import annotations

from typing import Any

import schemathesis


@schemathesis.hook
def map_query(ctx: Any, query: dict[str, Any] | None) -> dict[str, Any] | None:
    if query is not None:
        query.pop("cursor", None)
    return query
