"""HTTP edges shared by the services: body size limit, NUL characters, back-pressure,
request metrics and the request's server span (pure ASGI)."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from opentelemetry.trace import SpanKind, StatusCode
from starlette.responses import Response
from starlette.routing import Match, Route, compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.observability import HTTP_LATENCY, HTTP_REQUESTS
from shared.problems import send_problem
from shared.tracing import server_span_context, tracer


class _TooLarge(Exception):
    pass


class BodySizeLimit:
    """Refuse bodies over ``max_bytes`` with 413, by Content-Length or while streaming."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await self._refuse(scope, send)
                return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._refuse(scope, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        detail = f"The request body is larger than {self.max_bytes} bytes."
        await send_problem(scope, send, 413, detail)


_NUL = "\x00"
_ESCAPED_NUL = re.compile(rb"\\u0000", re.IGNORECASE)  # JSON's and YAML's escape for it
_FORM = "application/x-www-form-urlencoded"


def _nul_member(document: object) -> str | None:
    """The dotted path (``business_hours.closes``, ``items.0.comment``; ``body`` for the
    document itself) of the first string or key in a parsed JSON document holding a NUL;
    None when none does. Iterative: a deeply nested document cannot exhaust the stack."""
    stack: list[tuple[tuple[str, ...], object]] = [((), document)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str) and _NUL in value:
            return ".".join(path) or "body"
        if isinstance(value, dict):
            members = [(str(key), member) for key, member in value.items()]
        elif isinstance(value, list):
            members = [(str(index), member) for index, member in enumerate(value)]
        else:
            continue
        for key, _ in members:
            if _NUL in key:
                return ".".join((*path, key))
        stack += [((*path, key), member) for key, member in reversed(members)]
    return None


def _nul_in_pairs(encoded: bytes) -> str | None:
    """The first name in a query string or urlencoded form whose value holds a NUL once
    decoded; None when the NUL is in a name (the caller then names the whole part)."""
    for name, value in parse_qsl(encoded.decode("latin-1"), keep_blank_values=True):
        if _NUL in name:
            return None
        if _NUL in value:
            return name
    return None


def _nul_in_body(body: bytes, content_type: str) -> str | None:
    """Where a buffered request body holds a NUL (or an escape that decodes to one), by
    the name the route would give the field; None when nowhere."""
    media = content_type.split(";", maxsplit=1)[0].strip().lower()
    raw = _NUL.encode() in body
    if media == _FORM:
        if raw or b"%00" in body:
            return _nul_in_pairs(body) or "body"
        return None
    if not raw and not _ESCAPED_NUL.search(body):
        return None
    if media in ("", "application/json") or media.endswith("+json"):
        try:
            document = json.loads(body, strict=False)  # a raw control byte too
        except (ValueError, RecursionError):  # not JSON: the route refuses it as such
            return "body" if raw else None
        return _nul_member(document)  # None: only an escaped backslash before "u0000"
    return "body"


@dataclass(frozen=True)
class _DocumentedPath:
    pattern: re.Pattern[str]
    csv_bodies: frozenset[str]  # the methods whose request body is documented as text/csv


def _documented_paths(app: Any) -> list[_DocumentedPath]:
    """The app's paths as its OpenAPI document gives them (the public view of its routes,
    included routers flattened), compiled as Starlette compiles route paths."""
    openapi = getattr(app, "openapi", None)
    document: dict[str, Any] = openapi() if callable(openapi) else {}
    paths = []
    for template, item in document.get("paths", {}).items():
        csv_bodies = frozenset(
            method.upper()
            for method, operation in item.items()
            if isinstance(operation, dict)
            and "text/csv" in operation.get("requestBody", {}).get("content", {})
        )
        paths.append(_DocumentedPath(compile_path(template)[0], csv_bodies))
    return paths


class NulGuard:
    """Refuse NUL characters before any route runs: PostgreSQL text and JSONB cannot hold
    U+0000, so a value carrying one would otherwise fail deep in a write (a 500). No real
    name, comment, address or payload needs it. The answer is a 422 problem naming where
    it was found, as the route's own validation would: the path parameter, the query
    parameter, the header, or the body member (dotted path in JSON, name in a form).

    An operation whose request body is documented as ``text/csv`` (the CSV imports) reads
    its file itself and refuses a row with a NUL by its line while the other rows go in,
    so that body is passed through unread (and never buffered here)."""

    WRITES = frozenset({"POST", "PUT", "PATCH"})

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._paths: list[_DocumentedPath] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        field = self._nul_in_url(scope)
        if field is None:
            field = next(
                (n.decode("latin-1") for n, v in scope.get("headers", []) if _NUL.encode() in v),
                None,
            )
        if field is not None:
            await self._refuse(scope, send, field)
            return
        if scope["method"] not in self.WRITES or self._takes_a_csv_file(scope):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        body = bytearray()
        while True:  # bounded by the body size limit outside this middleware
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            body.extend(message.get("body", b""))
            if not message.get("more_body"):
                break
        content_type = next(
            (v.decode("latin-1") for n, v in scope.get("headers", []) if n == b"content-type"),
            "",
        )
        field = _nul_in_body(bytes(body), content_type)
        if field is not None:
            await self._refuse(scope, send, field)
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    def _documented(self, scope: Scope) -> list[_DocumentedPath]:
        if self._paths is None:  # every route is in place by the app's first request
            self._paths = _documented_paths(scope.get("app"))
        return self._paths

    def _nul_in_url(self, scope: Scope) -> str | None:
        path: str = scope["path"]
        if _NUL in path or b"%00" in (scope.get("raw_path") or b""):
            for documented in self._documented(scope):
                found = documented.pattern.match(path)
                if found is not None:
                    params = found.groupdict().items()
                    return next((name for name, value in params if _NUL in value), "path")
            return "path"
        query = scope.get("query_string", b"")
        if _NUL.encode() in query or b"%00" in query:
            return _nul_in_pairs(query) or "query"
        return None

    def _takes_a_csv_file(self, scope: Scope) -> bool:
        return any(
            scope["method"] in documented.csv_bodies and documented.pattern.match(scope["path"])
            for documented in self._documented(scope)
        )

    @staticmethod
    async def _refuse(scope: Scope, send: Send, field: str) -> None:
        reason = "contains a NUL character"
        await send_problem(
            scope, send, 422, f"{field}: {reason}", errors=[{"field": field, "reason": reason}]
        )


class BacklogGuard:
    """Back-pressure: while the broker has been unreachable so long that the outbox holds
    more than ``max_backlog`` events, writes answer 503 with Retry-After instead of
    piling up more. Reads go on."""

    WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})

    def __init__(self, app: ASGIApp, max_backlog: int) -> None:
        self.app = app
        self.max_backlog = max_backlog

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in self.WRITES:
            runtime = getattr(scope["app"].state, "runtime", None)
            if runtime is not None and runtime.outbox_backlog > self.max_backlog:
                await send_problem(
                    scope,
                    send,
                    503,
                    "Events are waiting for the broker; nothing was stored. Retry shortly.",
                    headers=[(b"retry-after", b"10")],
                )
                return
        await self.app(scope, receive, send)


class ObservedRequests:
    """Each request in a server span (a child of the caller's ``traceparent`` if it sent
    one: the events the request publishes carry this span's context, ``shared.tracing``)
    and in the request metrics, by route and status. One layer for both: the answer's
    status is captured once."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        started = time.perf_counter()
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        with tracer().start_as_current_span(
            method,
            context=server_span_context(scope.get("headers", [])),
            kind=SpanKind.SERVER,
        ) as span:
            try:
                await self.app(scope, receive, capture)
            finally:
                route = getattr(scope.get("route"), "path", None)
                path = route or "unmatched"
                HTTP_REQUESTS.labels(self.service, method, path, str(status)).inc()
                HTTP_LATENCY.labels(self.service, method, path).observe(
                    time.perf_counter() - started
                )
                if span.is_recording():
                    if route is not None:
                        span.update_name(f"{method} {route}")
                        span.set_attribute("http.route", route)
                    span.set_attributes(
                        {
                            "http.request.method": method,
                            "url.path": scope["path"],
                            "http.response.status_code": status,
                        }
                    )
                    if status >= 500:
                        span.set_status(StatusCode.ERROR)


class PlainRoute(Route):
    """A Starlette route (its endpoint takes the ``Request`` and gives the ``Response``,
    nothing solved for it) that names itself in the scope as FastAPI's routes do, so the
    request metrics and span label it by its path. For a hot path that FastAPI declares
    (its OpenAPI operation) and this serves, placed ahead of the app's other routes."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        if match is not Match.NONE:
            child_scope["route"] = self
        return match, child_scope


def csv_download(body: str, filename: str) -> Response:
    """A CSV answer the browser saves as ``filename`` (reports, statements, the funnel)."""
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
