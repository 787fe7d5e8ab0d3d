"""A unit of work whose idempotency records are swapped for a test's own, to stage what the
records answer (a lost write, a look that comes too early)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from types import TracebackType
from typing import Any, Self

from orderly_core.platform.idempotency import IdempotencyRecords
from orderly_core.unit_of_work import Dependencies, UnitOfWork


class UnitWithRecords:
    """``inner``, its idempotency records wrapped by ``records``."""

    def __init__(
        self, inner: UnitOfWork, records: Callable[[IdempotencyRecords], IdempotencyRecords]
    ) -> None:
        self._inner = inner
        self._records = records

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    @property
    def idempotency(self) -> IdempotencyRecords:
        return self._records(self._inner.idempotency)

    async def __aenter__(self) -> Self:
        await self._inner.__aenter__()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._inner.__aexit__(kind, error, tb)


def with_records(
    deps: Dependencies, records: Callable[[IdempotencyRecords], IdempotencyRecords]
) -> Dependencies:
    """``deps`` whose units of work answer with ``records`` wrapped around their own."""
    return replace(deps, unit_of_work=lambda: UnitWithRecords(deps.unit_of_work(), records))
