"""Tracing switched on for one test, its spans kept in memory (the SDK's in-memory exporter)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from orderly_telemetry.tracing import configure_tracing, stop_tracing

_EXPORTER = InMemorySpanExporter()  # one per session: a process has one tracer provider


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Tracing on (with the instrumentations of asyncpg, httpx and redis) until the test ends;
    the spans ended meanwhile, in the order they ended."""
    _EXPORTER.clear()
    configure_tracing("orderly-test", exporter=_EXPORTER)
    try:
        yield _EXPORTER
    finally:
        stop_tracing()
        _EXPORTER.clear()
