"""OpenTelemetry tracing: off unless ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set (environment or
``.env``, like every Orderly setting).

:func:`configure_tracing` is called once by each process at start-up, with the name the
process goes by (``orderly-api``, ``orderly-worker``; ``OTEL_SERVICE_NAME`` overrides it).
With an endpoint it installs the SDK's tracer provider, exporting in batches over OTLP/HTTP
(every other ``OTEL_*`` variable of the SDK applies), and the maintained instrumentations of
asyncpg, httpx and redis; the API instruments its FastAPI app itself. Without one nothing is
installed: the helpers below then return at once, and no span is ever made.

A trace crosses the outbox as a W3C ``traceparent`` string: the transaction that publishes an
event stores the current one with it (:func:`current_traceparent`), and whoever acts on the
event later continues that trace (:func:`continued_span`), so one trace runs from an HTTP
request to the receiver of its webhook. Log lines carry the ids of the active span
(:func:`add_trace_ids`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

# OpenTelemetry is imported once tracing is turned on, not by every process at start-up.
if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Span, SpanKind, Tracer
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

TRACES_ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
SERVICE_NAME_ENV = "OTEL_SERVICE_NAME"
TRACEPARENT = "traceparent"


class _State:
    enabled = False
    provider: TracerProvider | None = None
    exporters: ClassVar[list[SpanExporter]] = []
    tracer: Tracer | None = None
    propagator: TraceContextTextMapPropagator | None = None


def _propagator() -> TraceContextTextMapPropagator:
    if _State.propagator is None:
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        _State.propagator = TraceContextTextMapPropagator()
    return _State.propagator


def tracing_enabled() -> bool:
    return _State.enabled


def configure_tracing(
    service_name: str, *, endpoint: str = "", exporter: SpanExporter | None = None
) -> bool:
    """Turn tracing on for this process when ``endpoint`` (the ``OTEL_EXPORTER_OTLP_ENDPOINT``
    setting, the collector's base URL) is set, or ``exporter`` is given (each span is then
    exported as it ends: for tests). Whether tracing is on."""
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    processor: SpanProcessor | None
    if exporter is not None:  # added once, however often tracing is turned on with it
        processor = None if exporter in _State.exporters else SimpleSpanProcessor(exporter)
        _State.exporters.append(exporter)
    elif _State.enabled:  # by an earlier call: one exporter per process
        return True
    elif endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        # OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, when set, names the full URL instead.
        full = None if os.environ.get(TRACES_ENDPOINT_ENV) else f"{endpoint.rstrip('/')}/v1/traces"
        processor = BatchSpanProcessor(OTLPSpanExporter(endpoint=full))
    else:
        return False
    if _State.provider is None:
        name = os.environ.get(SERVICE_NAME_ENV) or service_name
        _State.provider = TracerProvider(resource=Resource.create({"service.name": name}))
        trace.set_tracer_provider(_State.provider)
        _State.tracer = trace.get_tracer("orderly")
    if processor is not None:
        _State.provider.add_span_processor(processor)
    if not _State.enabled:
        for instrumentor in _instrumentors():
            instrumentor.instrument()
        _State.enabled = True
    return True


def stop_tracing() -> None:
    """Export what is left and turn tracing off (at shutdown, and between tests)."""
    if not _State.enabled:
        return
    _State.enabled = False
    for instrumentor in _instrumentors():
        instrumentor.uninstrument()
    if _State.provider is not None:
        _State.provider.force_flush()


def _instrumentors() -> list[Any]:
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    return [AsyncPGInstrumentor(), HTTPXClientInstrumentor(), RedisInstrumentor()]  # type: ignore[no-untyped-call]


def current_traceparent() -> str | None:
    """The W3C ``traceparent`` of the active span, or None (no span, or tracing off)."""
    if not _State.enabled:
        return None
    carrier: dict[str, str] = {}
    _propagator().inject(carrier)
    return carrier.get(TRACEPARENT)


def context_of(traceparent: str | None) -> Context | None:
    """The trace context a stored ``traceparent`` names (None if it is missing or malformed)."""
    if not traceparent:
        return None
    from opentelemetry import trace

    context = _propagator().extract({TRACEPARENT: traceparent})
    return context if trace.get_current_span(context).get_span_context().is_valid else None


@contextmanager
def continued_span(
    name: str,
    traceparent: str | None,
    *,
    kind: SpanKind | None = None,
    attributes: dict[str, str | int] | None = None,
) -> Iterator[Span | None]:
    """A span continuing the trace ``traceparent`` names (a new trace without one), current
    while the block runs (a consumer's span unless ``kind`` says otherwise); None when tracing
    is off."""
    if not _State.enabled or _State.tracer is None:
        yield None
        return
    from opentelemetry.trace import SpanKind

    with _State.tracer.start_as_current_span(
        name,
        context=context_of(traceparent),
        kind=kind or SpanKind.CONSUMER,
        attributes=attributes,
    ) as span:
        yield span


def inject_traceparent(headers: MutableMapping[str, str]) -> None:
    """Add the active span's ``traceparent`` to outgoing ``headers`` (nothing when off)."""
    if _State.enabled:
        _propagator().inject(headers)


def add_trace_ids(
    _logger: object, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """A structlog processor: the active span's trace and span ids on the log line."""
    if not _State.enabled:
        return event
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event["trace_id"] = format(context.trace_id, "032x")
        event["span_id"] = format(context.span_id, "016x")
    return event
