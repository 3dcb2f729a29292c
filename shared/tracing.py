"""OpenTelemetry tracing: one tracer per process, and W3C trace context carried from an
HTTP request or a consumed event into the events it causes, so that one lead's intake
request, routing and credit decision share one trace id.

How the context travels:
- an HTTP request gets a server span, child of an incoming ``traceparent`` header if any
  (``shared.http.ObservedRequests``);
- an event added to the outbox inside a span carries that span's context in its envelope
  (``traceparent``/``tracestate``, the CloudEvents Distributed Tracing extension), so no
  extra column is needed; the relay copies them into Kafka headers of the same names;
- a consumer runs each handler in a consumer span, child of the message's ``traceparent``
  header (or, lacking it, the envelope's), so what the handler publishes stays in the trace.

By default (``OTEL_TRACES_EXPORTER=none``) spans are created but not sampled or exported:
carrying the context costs a few microseconds per request or event, nothing more.
Holds no metrics and no business names.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased
from opentelemetry.trace import (
    Span,
    SpanKind,
    Tracer,
    get_current_span,
    set_span_in_context,
    use_span,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from shared.events.envelope import Envelope
from shared.settings import Settings

TRACE_HEADERS = ("traceparent", "tracestate")
OTLP_EXPORTER_MODULE = "opentelemetry.exporter.otlp.proto.http.trace_exporter"

_propagator = TraceContextTextMapPropagator()
_memory = InMemorySpanExporter()


def _provider(exporter: str, resource: Resource) -> TracerProvider:
    """Unsampled roots when nothing is exported: ids are still made and carried, and a
    sampled caller's trace is still followed."""
    if exporter == "none":
        return TracerProvider(resource=resource, sampler=ParentBased(ALWAYS_OFF))
    provider = TracerProvider(resource=resource, sampler=ParentBased(ALWAYS_ON))
    provider.add_span_processor(_processor(exporter))
    return provider


def _processor(exporter: str) -> SpanProcessor:
    if exporter == "console":
        return SimpleSpanProcessor(ConsoleSpanExporter())
    if exporter == "memory":
        return SimpleSpanProcessor(_memory)
    try:
        otlp = importlib.import_module(OTLP_EXPORTER_MODULE)
    except ImportError as exc:
        raise RuntimeError(
            "OTEL_TRACES_EXPORTER=otlp needs the opentelemetry-exporter-otlp-proto-http "
            "package installed"
        ) from exc
    # Batched off the hot path; endpoint and headers from OTEL_EXPORTER_OTLP_*.
    return BatchSpanProcessor(otlp.OTLPSpanExporter())


@dataclass
class _Process:
    """This process's tracer; until ``configure_tracing``, one that carries context only."""

    tracer: Tracer


_process = _Process(
    _provider("none", Resource.create({"service.name": "leadflow"})).get_tracer("leadflow")
)


def configure_tracing(settings: Settings, service: str) -> TracerProvider:
    """This process's tracer, named after its service. Kept here rather than installed as
    OpenTelemetry's global provider, which can be set only once per process (tests build
    several apps in one)."""
    attributes: dict[str, str] = {"service.name": service, "service.namespace": "leadflow"}
    if settings.leadflow_instance:
        attributes["service.instance.id"] = settings.leadflow_instance
    provider = _provider(settings.otel_traces_exporter, Resource.create(attributes))
    _process.tracer = provider.get_tracer("leadflow")
    return provider


def tracer() -> Tracer:
    return _process.tracer


def memory_spans() -> InMemorySpanExporter:
    """The spans finished so far when the exporter is ``memory`` (tests)."""
    return _memory


def current_trace_context() -> dict[str, str]:
    """``traceparent`` (and ``tracestate`` if any) of the current span; empty outside one."""
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier


def with_trace_context(envelope: Envelope) -> Envelope:
    """The envelope stamped with the current trace context, unless it already has one."""
    if envelope.traceparent is not None:
        return envelope
    carrier = current_trace_context()
    return envelope.model_copy(update=carrier) if carrier else envelope


def kafka_headers(envelope: Envelope) -> list[tuple[str, bytes]]:
    """The envelope's trace context as Kafka headers, for clients that read only headers."""
    values = (envelope.traceparent, envelope.tracestate)
    return [
        (name, value.encode()) for name, value in zip(TRACE_HEADERS, values, strict=True) if value
    ]


def incoming_context(
    headers: Sequence[tuple[str, bytes]] | None, envelope: Envelope | None = None
) -> Context | None:
    """The publisher's context from ``traceparent``/``tracestate`` headers, else from the
    envelope's attributes; None when neither carries one (the span starts a new trace)."""
    carrier = {
        name: value.decode("latin-1")
        for name, value in headers or ()
        if name in TRACE_HEADERS and value
    }
    if "traceparent" not in carrier and envelope is not None and envelope.traceparent:
        carrier = {"traceparent": envelope.traceparent}
        if envelope.tracestate:
            carrier["tracestate"] = envelope.tracestate
    return _propagator.extract(carrier) if "traceparent" in carrier else None


def start_consumer_span(
    consumer: str,
    topic: str,
    envelope: Envelope,
    headers: Sequence[tuple[str, bytes]] | None,
) -> Span:
    """The span one event is handled in, a child of its publisher's (the caller ends it)."""
    span = _process.tracer.start_span(
        f"{topic} process",
        context=incoming_context(headers, envelope),
        kind=SpanKind.CONSUMER,
    )
    if span.is_recording():
        span.set_attributes(
            {
                "messaging.system": "kafka",
                "messaging.operation.type": "process",
                "messaging.destination.name": topic,
                "messaging.consumer.group.name": consumer,
                "messaging.message.id": str(envelope.id),
                "cloudevents.event_type": envelope.type,
                "cloudevents.event_subject": envelope.subject or "",
            }
        )
    return span


@contextlib.contextmanager
def consumer_span(
    consumer: str,
    topic: str,
    envelope: Envelope,
    headers: Sequence[tuple[str, bytes]] | None,
) -> Iterator[Span]:
    """``start_consumer_span`` as the current span for the block."""
    span = start_consumer_span(consumer, topic, envelope, headers)
    with use_span(span, end_on_exit=True):
        yield span


def trace_context_of(span: Span) -> dict[str, str]:
    """A span's ``traceparent`` (and ``tracestate``), to stamp the events it causes."""
    carrier: dict[str, str] = {}
    _propagator.inject(carrier, context=set_span_in_context(span))
    return carrier


def context_of_carrier(carrier: Mapping[str, str]) -> Context:
    """The context a ``traceparent``/``tracestate`` carrier names (empty: no trace)."""
    return _propagator.extract(dict(carrier)) if carrier.get("traceparent") else Context()


def stamped(envelope: Envelope, trace: Mapping[str, str] | None) -> Envelope:
    """The envelope with ``trace`` (an event's consumer span context), or, without one, the
    current context (``with_trace_context``)."""
    if envelope.traceparent is not None:
        return envelope
    if trace:
        return envelope.model_copy(update=dict(trace))
    return with_trace_context(envelope)


def server_span_context(headers: Sequence[tuple[bytes, bytes]]) -> Context | None:
    """The caller's context from an HTTP request's ``traceparent``/``tracestate``."""
    carrier = {
        name.decode("latin-1"): value.decode("latin-1")
        for name, value in headers
        if name in (b"traceparent", b"tracestate")
    }
    return _propagator.extract(carrier) if "traceparent" in carrier else None


def trace_ids() -> dict[str, Any]:
    """The current trace and span ids as log fields (empty outside a valid span)."""
    context = get_current_span().get_span_context()
    if not context.is_valid:
        return {}
    return {"trace_id": f"{context.trace_id:032x}", "span_id": f"{context.span_id:016x}"}
