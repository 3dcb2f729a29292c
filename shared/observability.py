"""Structured logs (structlog, JSON lines) and the Prometheus metrics every service exposes."""

from __future__ import annotations

import logging
import sys

import structlog
from prometheus_client import Counter, Gauge, Histogram

from shared.settings import Settings


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
    "leadflow_outbox_backlog", "Unsent outbox rows seen at the last relay pass", ["schema"]
)
OUTBOX_ERRORS = Counter("leadflow_outbox_errors_total", "Relay passes that failed", ["schema"])
EVENTS_CONSUMED = Counter(
    "leadflow_events_consumed_total",
    "Events taken from Kafka, by outcome (applied, duplicate, dead_lettered, retried)",
    ["consumer", "topic", "outcome"],
)
EVENT_HANDLING = Histogram(
    "leadflow_event_handling_seconds", "Time to apply one event", ["consumer", "topic"]
)
