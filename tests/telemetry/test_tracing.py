"""Tracing's helpers: off by default and free then; the W3C traceparent carried through a
string; the ids on log lines."""

from __future__ import annotations

import json
import logging

import pytest
import structlog
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from orderly_db.log import configure_logging
from orderly_telemetry.tracing import (
    add_trace_ids,
    context_of,
    continued_span,
    current_traceparent,
    inject_traceparent,
    tracing_enabled,
)
from tests.tracing_fixtures import spans

__all__ = ["spans"]


def test_off_by_default_nothing_is_made() -> None:
    headers: dict[str, str] = {}

    with continued_span("anything", None) as span:
        inject_traceparent(headers)
        line = add_trace_ids(None, "info", {"event": "x"})
        assert current_traceparent() is None

    assert not tracing_enabled()
    assert span is None
    assert headers == {}
    assert line == {"event": "x"}


def test_a_span_continues_the_trace_a_stored_traceparent_names(
    spans: InMemorySpanExporter,
) -> None:
    with continued_span("place", None):
        stored = current_traceparent()
    with continued_span("deliver", stored) as delivering:
        headers: dict[str, str] = {}
        inject_traceparent(headers)
        line = add_trace_ids(None, "info", {"event": "x"})

    placing, delivered = spans.get_finished_spans()
    assert stored is not None
    assert delivering is not None
    assert placing.context is not None
    assert delivered.context is not None
    assert delivered.context.trace_id == placing.context.trace_id
    assert delivered.parent is not None
    assert delivered.parent.span_id == placing.context.span_id
    assert headers["traceparent"].split("-")[1] == f"{placing.context.trace_id:032x}"
    assert line["trace_id"] == f"{placing.context.trace_id:032x}"
    assert line["span_id"] == f"{delivered.context.span_id:016x}"


def test_a_malformed_traceparent_starts_a_new_trace(spans: InMemorySpanExporter) -> None:
    for stored in ("", "garbage", "00-" + "0" * 32 + "-" + "0" * 16 + "-01", "\x00" * 55):
        assert context_of(stored) is None
        with continued_span("deliver", stored):
            pass

    assert all(span.parent is None for span in spans.get_finished_spans())
    assert len(spans.get_finished_spans()) == 4


def test_log_lines_written_in_a_span_carry_its_ids(
    spans: InMemorySpanExporter, capsys: pytest.CaptureFixture[str]
) -> None:
    previous, root = structlog.get_config(), logging.getLogger()
    handlers, level = list(root.handlers), root.level
    configure_logging("json", "INFO")  # as the processes do
    try:
        with continued_span("work", None) as span:
            structlog.get_logger("test").info("inside")
        structlog.get_logger("test").info("outside")
    finally:  # the logging of the tests that follow is left as it was
        structlog.configure(**previous)
        root.handlers[:] = handlers
        root.setLevel(level)

    inside, outside = (json.loads(line) for line in capsys.readouterr().err.splitlines())
    assert span is not None
    context = span.get_span_context()
    assert (inside["trace_id"], inside["span_id"]) == (
        f"{context.trace_id:032x}",
        f"{context.span_id:016x}",
    )
    assert "trace_id" not in outside
