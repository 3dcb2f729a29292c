"""Trace context on the envelope and in Kafka headers, the consumer span, the server span."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from uuid import uuid4

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode, get_current_span
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from shared.events.envelope import Envelope
from shared.events.leads import LeadReceived
from shared.http import ObservedRequests
from shared.settings import Settings
from shared.tracing import (
    configure_tracing,
    consumer_span,
    current_trace_context,
    incoming_context,
    kafka_headers,
    memory_spans,
    trace_ids,
    tracer,
    with_trace_context,
)

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
CALLER = f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"


@pytest.fixture
def recorded() -> Iterator[None]:
    """Tracing with the in-memory exporter; back to carrying context only afterwards."""
    configure_tracing(Settings(otel_traces_exporter="memory"), "test")
    memory_spans().clear()
    yield
    configure_tracing(Settings(otel_traces_exporter="none"), "test")


def finished() -> list[ReadableSpan]:
    return list(memory_spans().get_finished_spans())


def envelope(**extra: str) -> Envelope:
    event = LeadReceived(
        lead_id=uuid4(),
        received_at=datetime.now(UTC),
        channel="api",
        source="test",
        email="x@example.com",
        email_domain="example.com",
    )
    return event.envelope("/test").model_copy(update=extra)


def trace_id_of(traceparent: str) -> str:
    return traceparent.split("-")[1]


def test_an_envelope_stamped_inside_a_span_carries_its_trace_context() -> None:
    with tracer().start_as_current_span("request") as span:
        stamped = with_trace_context(envelope())
        expected = span.get_span_context()
    assert stamped.traceparent is not None
    assert trace_id_of(stamped.traceparent) == f"{expected.trace_id:032x}"
    assert stamped.traceparent.split("-")[2] == f"{expected.span_id:016x}"


def test_outside_a_span_an_envelope_gets_no_trace_context() -> None:
    assert current_trace_context() == {}
    assert with_trace_context(envelope()).traceparent is None


def test_an_envelope_that_has_a_trace_context_keeps_it() -> None:
    with tracer().start_as_current_span("other"):
        assert with_trace_context(envelope(traceparent=CALLER)).traceparent == CALLER


def test_the_trace_attributes_survive_the_wire_and_old_envelopes_still_parse() -> None:
    sent = envelope(traceparent=CALLER, tracestate="vendor=1")
    received = Envelope.from_bytes(sent.to_bytes())
    assert (received.traceparent, received.tracestate) == (CALLER, "vendor=1")
    old = sent.model_dump(mode="json", exclude={"traceparent", "tracestate"})
    assert Envelope.model_validate(old).traceparent is None


def test_kafka_headers_carry_the_envelope_trace_context() -> None:
    assert kafka_headers(envelope(traceparent=CALLER, tracestate="vendor=1")) == [
        ("traceparent", CALLER.encode()),
        ("tracestate", b"vendor=1"),
    ]
    assert kafka_headers(envelope()) == []


def _trace_of(context: object) -> str:
    span_context = get_current_span(context).get_span_context()  # type: ignore[arg-type]
    return f"{span_context.trace_id:032x}"


def test_the_incoming_context_prefers_the_headers_then_the_envelope() -> None:
    other = f"00-{'a' * 32}-{'b' * 16}-01"
    from_headers = incoming_context([("traceparent", other.encode())], envelope(traceparent=CALLER))
    assert _trace_of(from_headers) == "a" * 32
    from_envelope = incoming_context([("ce_type", b"x")], envelope(traceparent=CALLER))
    assert _trace_of(from_envelope) == CALLER_TRACE
    assert incoming_context(None, envelope()) is None


def test_a_malformed_traceparent_starts_a_new_trace_instead_of_failing() -> None:
    with consumer_span("c", "t", envelope(traceparent="00-nonsense"), None) as span:
        assert span.get_span_context().is_valid
        assert f"{span.get_span_context().trace_id:032x}" != CALLER_TRACE


def test_a_handler_span_is_a_child_of_the_publisher_and_its_events_stay_in_the_trace(
    recorded: None,
) -> None:
    received = envelope(traceparent=CALLER)
    with consumer_span("router", "leads.received", received, [("traceparent", CALLER.encode())]):
        follow_up = with_trace_context(envelope())
        logged = trace_ids()
    assert follow_up.traceparent is not None
    assert trace_id_of(follow_up.traceparent) == CALLER_TRACE
    assert logged["trace_id"] == CALLER_TRACE
    [span] = finished()
    assert span.kind is SpanKind.CONSUMER
    assert span.parent is not None
    assert f"{span.parent.span_id:016x}" == CALLER_SPAN
    assert span.attributes is not None
    assert span.attributes["messaging.consumer.group.name"] == "router"
    assert span.attributes["messaging.message.id"] == str(received.id)


def test_without_an_exporter_nothing_is_recorded_but_the_context_is_carried(
    recorded: None,
) -> None:
    configure_tracing(Settings(otel_traces_exporter="none"), "test")
    with tracer().start_as_current_span("request") as span:
        assert not span.is_recording()
        stamped = with_trace_context(envelope())
    assert stamped.traceparent is not None
    assert finished() == []


def test_otlp_without_its_exporter_package_is_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match="opentelemetry-exporter-otlp"):
        configure_tracing(Settings(otel_traces_exporter="otlp"), "test")


async def _echo_trace(_: Request) -> JSONResponse:
    return JSONResponse(trace_ids())


async def _fail(_: Request) -> JSONResponse:
    return JSONResponse({}, status_code=503)


def _app() -> ObservedRequests:
    routes = [Route("/leads/{lead_id}", _echo_trace), Route("/fail", _fail)]
    return ObservedRequests(Starlette(routes=routes), service="test")


async def test_a_request_runs_in_a_server_span_child_of_the_callers_traceparent(
    recorded: None,
) -> None:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        answer = await client.get("/leads/42", headers={"traceparent": CALLER})
        await client.get("/fail")
    assert answer.json()["trace_id"] == CALLER_TRACE
    served, failed = finished()
    assert served.kind is SpanKind.SERVER
    assert served.name == "GET /leads/{lead_id}"
    assert served.parent is not None
    assert f"{served.parent.span_id:016x}" == CALLER_SPAN
    assert served.attributes is not None
    assert served.attributes["http.response.status_code"] == 200
    assert failed.context is not None
    assert f"{failed.context.trace_id:032x}" != CALLER_TRACE  # no caller: a new trace
    assert failed.status.status_code is StatusCode.ERROR
