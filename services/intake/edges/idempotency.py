"""``Idempotency-Key`` on every POST/PATCH: the same key from the same caller gets the
same stored answer and has no second effect ("nothing lost, nothing doubled",
docs/design.md).

Pure ASGI middleware, inside the body size limit. Per (caller, key) a row is claimed
before the request runs (a concurrent retry meanwhile gets 409 with Retry-After), then
filled with the answer before that answer is sent (so a retry the moment the client has
it gets it replayed). A different request under a used key is a 422. Answers that say
"try again" (409, 429, 5xx) are not kept, so a retry can succeed. The caller is the
SHA-256 of its Authorization header (the client address for anonymous posts).

Limits: a claim older than ``INTAKE_IDEMPOTENCY_PENDING_S`` is presumed to belong to a
crashed request and may be taken over. ``POST /v1/imports`` is streamed: its key is
matched by path and declared length, not by a digest of the whole file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.intake.tables import idempotency_keys
from shared.events.envelope import utcnow
from shared.observability import get_logger
from shared.problems import send_problem

log = get_logger(__name__)

METHODS = frozenset({"POST", "PATCH", "PUT"})
STREAMED = ("/v1/imports",)
MAX_KEY = 200
DB_DOWN = (OperationalError, InterfaceError, OSError, TimeoutError)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def caller_of(scope: Scope) -> str:
    authorization = _header(scope, b"authorization")
    if authorization:
        identity = "auth:" + authorization
    else:
        client = scope.get("client")
        identity = "anon:" + (client[0] if client else "-")
    return hashlib.sha256(identity.encode()).hexdigest()


async def problem(
    scope: Scope, send: Send, status: int, detail: str, headers: list[tuple[bytes, bytes]]
) -> None:
    errors = [{"field": "Idempotency-Key", "reason": detail}] if status != 503 else None
    await send_problem(scope, send, status, detail, errors=errors, headers=headers)


class IdempotencyKeys:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = _header(scope, b"idempotency-key") if scope["type"] == "http" else None
        if key is None or scope["method"] not in METHODS:
            await self.app(scope, receive, send)
            return
        if not 1 <= len(key) <= MAX_KEY:
            await problem(scope, send, 422, f"must be 1 to {MAX_KEY} characters", [])
            return
        streamed = scope["path"].startswith(STREAMED)
        messages: list[Message] = []
        request_sha = await _fingerprint(scope, receive, messages, streamed)
        runtime = scope["app"].state.runtime
        pending_s = scope["app"].state.intake_settings.idempotency_pending_s
        caller = caller_of(scope)
        try:
            claimed, stored = await _claim(runtime.sessions, caller, key, request_sha, pending_s)
        except DB_DOWN as exc:
            log.warning("database_unavailable", path=scope["path"], error=repr(exc))
            detail = "The database is unavailable; nothing was stored. Retry shortly."
            await problem(scope, send, 503, detail, [(b"retry-after", b"5")])
            return
        if not claimed:
            await _answer_stored(scope, send, stored, request_sha)
            return

        async def replay_receive() -> Message:
            if messages:
                return messages.pop(0)
            return await receive()

        answer = _Answer(
            send,
            lambda response, keep: _finish(
                runtime.sessions, caller, key, response=response, keep=keep
            ),
        )
        try:
            await self.app(scope, replay_receive if not streamed else receive, answer.send)
        finally:
            if not answer.finished:  # the app failed before answering in full
                answer.status = 500
                await answer.finish()


class _Answer:
    """The app's answer, stored before its last byte leaves: a retry sent the moment the
    client has it finds it stored, never "in progress". Answers that say "try again"
    (409, 429, 5xx) are not kept, so a retry can succeed."""

    def __init__(
        self,
        send: Send,
        store: Callable[[tuple[int, list[list[str]], bytes], bool], Awaitable[None]],
    ) -> None:
        self._send = send
        self._store = store
        self.status = 500
        self.headers: list[list[str]] = []
        self.body = bytearray()
        self.held: list[Message] = []
        self.finished = False

    async def finish(self) -> None:
        self.finished = True
        keep = self.status < 500 and self.status not in (409, 429)
        try:
            await self._store((self.status, self.headers, bytes(self.body)), keep)
        except DB_DOWN as exc:  # the claim expires; a retry then runs again
            log.warning("idempotency_not_recorded", error=repr(exc))

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = [
                [k.decode("latin-1"), v.decode("latin-1")] for k, v in message["headers"]
            ]
        elif message["type"] == "http.response.body":
            self.body.extend(message.get("body", b""))
            if not message.get("more_body"):
                await self.finish()
        self.held.append(message)
        if self.finished:
            for pending in self.held:
                await self._send(pending)
            self.held.clear()


async def _fingerprint(
    scope: Scope, receive: Receive, messages: list[Message], streamed: bool
) -> str:
    """SHA-256 of method, path, query and body (the body read into ``messages`` to be
    replayed to the app; a streamed upload is fingerprinted by its declared length)."""
    digest = hashlib.sha256(f"{scope['method']} {scope['path']}?".encode())
    digest.update(scope.get("query_string", b""))
    if streamed:
        digest.update((_header(scope, b"content-length") or "").encode())
        return digest.hexdigest()
    while True:  # bounded by the body size limit outside this middleware
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        digest.update(message.get("body", b""))
        if not message.get("more_body"):
            break
    return digest.hexdigest()


async def _claim(
    sessions: Any, caller: str, key: str, request_sha: str, pending_s: float
) -> tuple[bool, Any]:
    table = idempotency_keys
    async with sessions() as session, session.begin():
        inserted = await session.execute(
            insert(table)
            .values(caller=caller, key=key, request_sha256=request_sha)
            .on_conflict_do_nothing()
            .returning(table.c.key)
        )
        if inserted.first() is not None:
            return True, None
        stale = utcnow() - timedelta(seconds=pending_s)
        taken = await session.execute(
            update(table)
            .where(
                table.c.caller == caller,
                table.c.key == key,
                table.c.status.is_(None),
                table.c.created_at < stale,
                table.c.request_sha256 == request_sha,
            )
            .values(created_at=utcnow())
            .returning(table.c.key)
        )
        if taken.first() is not None:
            return True, None
        row = (
            await session.execute(
                select(table).where(and_(table.c.caller == caller, table.c.key == key))
            )
        ).first()
        return False, row


async def _answer_stored(scope: Scope, send: Send, row: Any, request_sha: str) -> None:
    if row is None or row.request_sha256 != request_sha:
        detail = "this key was used for a different request; use a new key"
        await problem(scope, send, 422, detail, [])
        return
    if row.status is None:
        detail = "a request with this key is in progress; retry shortly"
        await problem(scope, send, 409, detail, [(b"retry-after", b"1")])
        return
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in row.headers or []]
    headers.append((b"idempotent-replayed", b"true"))
    await send({"type": "http.response.start", "status": row.status, "headers": headers})
    await send({"type": "http.response.body", "body": row.body or b""})


async def _finish(
    sessions: Any,
    caller: str,
    key: str,
    *,
    response: tuple[int, list[list[str]], bytes],
    keep: bool,
) -> None:
    status, headers, body = response
    table = idempotency_keys
    where = and_(table.c.caller == caller, table.c.key == key)
    async with sessions() as session, session.begin():
        if keep:
            await session.execute(
                update(table).where(where).values(status=status, headers=headers, body=body)
            )
        else:
            await session.execute(delete(table).where(where, table.c.status.is_(None)))
