"""Structured logs (structlog, JSON lines) and the Prometheus metrics every service exposes."""

from __future__ import annotations

import logging
import sys

import structlog
from prometheus_client import Counter, Gauge, Histogram

from shared.settings import Settings
from shared.tracing import trace_ids


def configure_logging(settings: Settings, service: str) -> None:
    level = logging.getLevelNamesMapping().get(settings.log_level.upper(), logging.INFO)
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if settings.log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            _add_trace_ids,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stdout),
        cache_logger_on_first_use=False,
    )
    structlog.contextvars.bind_contextvars(service=service)
    if settings.leadflow_instance:
        structlog.contextvars.bind_contextvars(instance=settings.leadflow_instance)
    logging.basicConfig(level=max(level, logging.WARNING), stream=sys.stderr)


def _add_trace_ids(
    _logger: object, _method: str, event: structlog.types.EventDict
) -> structlog.types.EventDict:
    """A log line written inside a span names its trace, to find the trace from the log."""
    for key, value in trace_ids().items():
        event.setdefault(key, value)
    return event


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger


HTTP_REQUESTS = Counter(
    "leadflow_http_requests_total", "HTTP requests", ["service", "method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "leadflow_http_request_seconds", "HTTP request latency", ["service", "method", "route"]
)
OUTBOX_PUBLISHED = Counter(
    "leadflow_outbox_published_total", "Events published from the outbox", ["schema", "topic"]
)
OUTBOX_BACKLOG = Gauge(
    "leadflow_outbox_backlog", "Unsent outbox rows, counted every second", ["schema"]
)
OUTBOX_OLDEST_UNSENT = Gauge(
    "leadflow_outbox_oldest_unsent_seconds",
    "How long the oldest unsent outbox row has waited (0 when none)",
    ["schema"],
)
OUTBOX_ERRORS = Counter("leadflow_outbox_errors_total", "Relay passes that failed", ["schema"])
EVENTS_CONSUMED = Counter(
    "leadflow_events_consumed_total",
    "Events taken from Kafka, by outcome (applied, duplicate, ignored, dead_lettered, retried)",
    ["consumer", "topic", "outcome"],
)
EVENT_HANDLING = Histogram(
    "leadflow_event_handling_seconds", "Time to apply one event", ["consumer", "topic"]
)
CONSUMER_LAG = Gauge(
    "leadflow_consumer_lag",
    "Messages on this instance's partitions of the topic not yet processed (highwater "
    "minus position), refreshed every few seconds; sum over instances for the group",
    ["consumer", "topic"],
)
DEAD_LETTERS = Counter(
    "leadflow_dead_letters_total",
    "Messages sent to the topic's dead-letter topic (<topic>.dlq), by reason "
    "(unparseable, handler_failed)",
    ["consumer", "topic", "reason"],
)
DEPENDENCY_UP = Gauge(
    "leadflow_dependency_up",
    "1 when the last check reached the dependency (database every second, broker every "
    "5 s), 0 when it did not",
    ["dependency"],
)


INTAKE_LEADS = Counter(
    "leadflow_intake_leads_total",
    "Leads offered to intake, by channel and outcome: accepted, duplicate (a repeat touch "
    "of a known lead), or refused as invalid, unauthorized, throttled, spam, or failed "
    "(our error: the caller may retry)",
    ["channel", "outcome"],
)


def refusal_outcome(status: int) -> str:
    """The ``leadflow_intake_leads_total`` outcome of an answer that took nothing in."""
    if status >= 500:
        return "failed"
    if status == 429:
        return "throttled"
    if status in (401, 403, 404):  # an unknown key, form, origin or webhook source
        return "unauthorized"
    return "invalid"


WEBHOOK_ATTEMPTS = Counter(
    "leadflow_webhook_attempts_total",
    "Outbound webhook attempts by outcome (delivered, retry, failed: given up)",
    ["outcome"],
)
WEBHOOK_LATENCY = Histogram(
    "leadflow_webhook_attempt_seconds", "Outbound webhook attempt latency, answer or not"
)
WEBHOOKS_DISABLED = Counter(
    "leadflow_webhooks_disabled_total", "Subscriptions disabled after sustained failure"
)
NOTIFICATIONS = Counter(
    "leadflow_notifications_total",
    "Notifications to people by channel and outcome (sent, retry, failed: given up; "
    "unaddressed: a recipient with no address or not in the directory)",
    ["channel", "outcome"],
)
NOTIFY_MESSAGES = Counter(
    "leadflow_notify_messages_total",
    "Messages sent to people by channel (a digest is one message of several notifications)",
    ["channel"],
)
