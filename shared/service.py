"""Builds a Leadflow service: the FastAPI app, its database, its outbox relay and its
consumers, started and stopped together.

Background work (relay, consumers) is supervised: it starts even when the broker is
down, retries with backoff, and stops cleanly on shutdown (SIGTERM via uvicorn).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi_offline import FastAPIOffline
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.ext.asyncio import AsyncEngine

from shared import heap
from shared.consumer import BatchHandler, EventConsumer, Handler, per_event, types_of
from shared.credentials import Verifier
from shared.db import SessionFactory, asyncpg_dsn, make_engine, make_sessions, ping
from shared.events.asyncapi import asyncapi_document
from shared.http import BacklogGuard, BodySizeLimit, NulGuard, ObservedRequests
from shared.kafka import make_consumer, make_producer, stop_within
from shared.observability import (
    DEPENDENCY_UP,
    OUTBOX_BACKLOG,
    OUTBOX_OLDEST_UNSENT,
    configure_logging,
    get_logger,
)
from shared.outbox import Outbox, Relay
from shared.problems import (
    PROBLEM_JSON,
    PROBLEM_REF,
    PROBLEM_SCHEMA,
    install_problem_handlers,
    problem,
)
from shared.settings import Settings, get_settings
from shared.tracing import configure_tracing

log = get_logger(__name__)


@dataclass(frozen=True)
class ConsumerSpec:
    """A consumer group of this service: its name is its group id and its dedup scope;
    ``handle`` applies a poll's batch of the CloudEvents ``types`` it acts on (None: every
    type; the others on its topics are skipped). ``keeps_once``: the handler itself keeps
    each event once by its id (ops' event log, unique by event id), so the consumer records
    no processed-event row for it (``EventConsumer``)."""

    name: str
    topics: list[str]
    handle: BatchHandler
    types: frozenset[str] | None
    keeps_once: bool = False

    @classmethod
    def per_event(
        cls, name: str, topics: list[str], handlers: Mapping[str, Handler]
    ) -> ConsumerSpec:
        """A consumer whose events are applied one by one, each with its type's handler."""
        return cls(name, topics, per_event(handlers), types_of(handlers))


@dataclass
class Runtime:
    """What a running service holds; endpoints reach it through ``request.app.state``."""

    name: str
    settings: Settings
    engine: AsyncEngine
    sessions: SessionFactory
    outbox: Outbox
    producer: AIOKafkaProducer
    verifier: Verifier
    producer_ready: asyncio.Event = field(default_factory=asyncio.Event)
    outbox_backlog: int = 0
    stop: asyncio.Event = field(default_factory=asyncio.Event)


async def _start_producer(runtime: Runtime) -> None:
    backoff = 0.5
    while not runtime.stop.is_set():
        try:
            await asyncio.wait_for(
                runtime.producer.start(), runtime.settings.kafka_request_timeout_s
            )
            runtime.producer_ready.set()
            return
        except Exception as exc:
            log.warning("producer_start_retry", error=repr(exc), backoff_s=backoff)
            await stop_within(runtime.producer, 5)
            runtime.producer = make_producer(runtime.settings, client_id=runtime.name)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 10)


async def _run_relays(runtime: Runtime) -> None:
    """The outbox's two relays, the live lane's and the bulk lane's, on one producer."""
    await _start_producer(runtime)
    if runtime.stop.is_set():
        return
    settings = runtime.settings
    relays = [
        Relay(
            runtime.outbox,
            runtime.sessions,
            runtime.producer,
            dsn=asyncpg_dsn(settings.database_url or ""),
            batch_size=settings.outbox_batch_size,
            idle_wakeup_s=settings.outbox_idle_wakeup_s,
            send_timeout_s=settings.kafka_send_timeout_s,
            bulk=bulk,
        )
        for bulk in (False, True)
    ]
    await asyncio.gather(*(relay.run(runtime.stop) for relay in relays))


async def _watch_backlog(runtime: Runtime, every_s: float = 1.0) -> None:
    """Keep ``runtime.outbox_backlog`` current, whether or not the broker is up; the same
    query says whether the database is reachable."""
    schema = runtime.outbox.schema
    while not runtime.stop.is_set():
        try:
            async with runtime.sessions() as session:
                runtime.outbox_backlog = await runtime.outbox.backlog(session)
                oldest = await runtime.outbox.oldest_unsent_age_s(session)
            OUTBOX_BACKLOG.labels(schema).set(runtime.outbox_backlog)
            OUTBOX_OLDEST_UNSENT.labels(schema).set(oldest)
            DEPENDENCY_UP.labels("database").set(1)
        except Exception as exc:
            DEPENDENCY_UP.labels("database").set(0)
            log.warning("outbox_backlog_unknown", error=repr(exc))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(runtime.stop.wait(), every_s)


async def _watch_broker(runtime: Runtime, every_s: float = 5.0) -> None:
    """``leadflow_dependency_up{dependency="broker"}``: a metadata request every few
    seconds, so an idle service notices an outage too. Changes are logged."""
    was_up: bool | None = None
    while not runtime.stop.is_set():
        error = "producer not connected"
        if runtime.producer_ready.is_set():
            try:
                await asyncio.wait_for(runtime.producer.client.fetch_all_metadata(), 2)
                error = ""
            except Exception as exc:
                error = repr(exc)
        up = not error
        DEPENDENCY_UP.labels("broker").set(int(up))
        if up != was_up and was_up is not None:
            if up:  # good news, and at start-up just the producer connecting
                log.info("broker_reachable")
            else:
                log.warning("broker_unreachable", error=error)
        was_up = up
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(runtime.stop.wait(), every_s)


async def _unless_stopped(work: Awaitable[None], stop: asyncio.Event) -> bool:
    """Await ``work`` unless ``stop`` is set first; True if the work finished."""
    task = asyncio.ensure_future(work)
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait([task, stopping], return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if task.done():
        task.result()
        return True
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    return False


async def _run_consumer(runtime: Runtime, spec: ConsumerSpec) -> None:
    settings = runtime.settings
    await runtime.producer_ready.wait()  # the dead-letter producer
    backoff = 0.5
    while not runtime.stop.is_set():
        kafka_consumer = make_consumer(
            settings,
            *spec.topics,
            group_id=spec.name,
            client_id=f"{runtime.name}-{spec.name}",
            max_records=settings.consumer_batch_size,
        )
        try:
            # start() returns once the group has given us partitions, which takes as long
            # as the coordinator needs to evict dead members: no timeout, only shutdown.
            if not await _unless_stopped(kafka_consumer.start(), runtime.stop):
                return
            backoff = 0.5
            consumer = EventConsumer(
                name=spec.name,
                topics=spec.topics,
                schema=runtime.outbox.schema,
                handle=spec.handle,
                types=spec.types,
                sessions=runtime.sessions,
                consumer=kafka_consumer,
                dlq_producer=runtime.producer,
                max_attempts=settings.consumer_max_attempts,
                send_timeout_s=settings.kafka_send_timeout_s,
                bulk_batch_size=settings.consumer_bulk_batch_size,
                outbox=runtime.outbox,
                claims=not spec.keeps_once,
            )
            log.info("consumer_started", consumer=spec.name, topics=spec.topics)
            await consumer.run(runtime.stop)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("consumer_restart", consumer=spec.name, error=repr(exc), backoff_s=backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 10)
        finally:
            await stop_within(kafka_consumer, 10)


operations = APIRouter(tags=["operations"])


@operations.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@operations.get(
    "/readyz",
    summary="Readiness: database and broker reachable",
    responses={
        503: {
            "description": "Not ready: the same body, naming what is unreachable",
            "content": {"application/json": {}},
        }
    },
)
async def readyz(request: Request) -> JSONResponse:
    runtime: Runtime = request.app.state.runtime
    checks: dict[str, str] = {}
    try:
        await asyncio.wait_for(ping(runtime.engine), 2)
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"unreachable: {type(exc).__name__}"
    try:
        if not runtime.producer_ready.is_set():
            raise ConnectionError("producer not connected")
        await asyncio.wait_for(runtime.producer.client.fetch_all_metadata(), 2)
        checks["broker"] = "ok"
    except Exception as exc:
        checks["broker"] = f"unreachable: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)


@operations.get(
    "/metrics",
    summary="Prometheus metrics (text exposition format)",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


@operations.get("/asyncapi.json", summary="The event catalog (AsyncAPI 3.0)")
async def asyncapi() -> dict[str, Any]:
    return asyncapi_document()


# What the shared edges answer, so every operation's document lists them: validation and
# the NUL guard (any request), the bearer check (operations with a security scheme), the
# body limit (requests with a body), FastAPI's parser (a JSON or form body it cannot
# decode, e.g. not UTF-8), a lost database and the back-pressure guard (any operation
# but the process's own, which touch neither).
_ANSWERS = {
    "400": problem("The body cannot be parsed (not UTF-8, a broken form)"),
    "401": problem("The bearer token (ops token or partner key) is missing or not valid"),
    "413": problem("The request body is larger than the limit (MAX_BODY_BYTES)"),
    "422": problem(
        "Invalid input: each error names its field and reason (a NUL character anywhere "
        "in the request too)"
    ),
    "503": problem(
        "The database is unavailable, or events wait for the broker (writes); nothing was "
        "stored; see Retry-After"
    ),
}
_WITH_BODY = frozenset({"post", "put", "patch"})
_PARSED_BODIES = ("application/json", "application/x-www-form-urlencoded", "multipart/form-data")
_METHODS = frozenset({"get", "put", "post", "delete", "patch", "options", "head"})


def document_shared_answers(document: dict[str, Any]) -> dict[str, Any]:
    """Complete an OpenAPI document with the answers of the shared edges (``_ANSWERS``),
    and give every error answer declared without a body, or as problem+json, the problem
    schema (FastAPI's own 422 says ``application/json`` with its validation-error schema;
    ours is a problem document)."""
    document.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    for item in document.get("paths", {}).values():
        for method, operation in item.items():
            if method not in _METHODS:
                continue
            responses: dict[str, Any] = operation.setdefault("responses", {})
            wanted = ["422"]
            if operation.get("security"):
                wanted.append("401")
            if method in _WITH_BODY:
                wanted.append("413")
            body_types = operation.get("requestBody", {}).get("content", {})
            if any(media in body_types for media in _PARSED_BODIES):
                wanted.append("400")
            if "operations" not in operation.get("tags", []):
                wanted.append("503")
            for status in wanted:
                responses.setdefault(status, _ANSWERS[status])
            for status, response in responses.items():
                content = response.get("content")
                if status == "422" and PROBLEM_JSON not in (content or {}):
                    responses[status] = _ANSWERS["422"]  # FastAPI's HTTPValidationError
                elif status[0] in "45" and (not content or PROBLEM_JSON in content):
                    response["content"] = {PROBLEM_JSON: {"schema": PROBLEM_REF}}
    return document


def create_service(
    *,
    name: str,
    schema: str,
    title: str,
    description: str,
    routers: Sequence[APIRouter],
    consumers: Callable[[Runtime], Sequence[ConsumerSpec]] = lambda _: (),
    on_start: Callable[[Runtime], Awaitable[None]] | None = None,
    warm: Sequence[Callable[[], object]] = (),
    settings: Settings | None = None,
) -> FastAPI:
    """``warm``: fills a pure cache the first event or request would otherwise fill
    (the public suffix list, the holiday calendars: up to two seconds on the first lead
    on this machine), called before the service takes requests and events."""
    settings = settings or get_settings()
    configure_logging(settings, name)
    configure_tracing(settings, name)
    if not settings.database_url:
        raise RuntimeError("DATABASE_URL is not set (leadflow up sets it when embedded)")

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        for fill in warm:
            fill()
        engine = make_engine(settings.database_url or "", pool_size=settings.db_pool_size)
        sessions = make_sessions(engine)
        runtime = Runtime(
            name=name,
            settings=settings,
            engine=engine,
            sessions=sessions,
            outbox=Outbox(schema, source=f"/{name}"),
            producer=make_producer(settings, client_id=name),
            verifier=Verifier(sessions),
        )
        app.state.runtime = runtime
        if on_start is not None:
            await on_start(runtime)
        heap.settle()
        tasks = [
            asyncio.create_task(_run_relays(runtime), name=f"{name}-relays"),
            asyncio.create_task(_watch_backlog(runtime), name=f"{name}-backlog"),
            asyncio.create_task(_watch_broker(runtime), name=f"{name}-broker"),
        ]
        tasks += [
            asyncio.create_task(_run_consumer(runtime, spec), name=f"{name}-{spec.name}")
            for spec in consumers(runtime)
        ]
        log.info("service_started", consumers=len(tasks) - 3)
        try:
            yield
        finally:
            runtime.stop.set()
            _, pending = await asyncio.wait(tasks, timeout=15)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            await stop_within(runtime.producer, 10)
            await engine.dispose()
            log.info("service_stopped")

    # /docs (Swagger UI) and /redoc load their scripts and styles from the service itself
    # (the fastapi-offline package ships them), so they work with no internet access.
    app = FastAPIOffline(title=title, description=description, version="1", lifespan=lifespan)
    app.state.settings = settings
    install_problem_handlers(app)
    # Added innermost first. The metrics sit outside the body limit, so its 413s are
    # counted as 413 (inside it, a streamed body's refusal was seen as a 500 and an
    # announced one not at all). The NUL guard buffers bodies the limit has bounded.
    app.add_middleware(NulGuard)
    app.add_middleware(BacklogGuard, max_backlog=settings.outbox_max_backlog)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(ObservedRequests, service=name)  # outermost: covers every answer

    app.include_router(operations)
    for router in routers:
        app.include_router(router)
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_shared_answers(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's way to extend it
    return app


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime
