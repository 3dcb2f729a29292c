"""Refuse NUL characters before any route runs: PostgreSQL text and JSONB cannot hold
U+0000, so a value carrying one would otherwise fail deep in a write. No real name,
address or payload needs it; the answer is a 422 problem naming where it was found.
The CSV upload is exempt (its rows are checked one by one and reported per line)."""

from __future__ import annotations

import json
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.problems import PROBLEM_JSON

WRITES = frozenset({"POST", "PUT", "PATCH"})
_IN_BODY = re.compile(rb"\x00|\\u0000|%00", re.IGNORECASE)
_IN_URL = re.compile(rb"%00|\x00")


async def _refuse(scope: Scope, send: Send, field: str) -> None:
    body = json.dumps(
        {
            "type": "about:blank",
            "title": "Invalid input",
            "status": 422,
            "detail": f"{field}: contains a NUL character",
            "instance": scope["path"],
            "errors": [{"field": field, "reason": "contains a NUL character"}],
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 422,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class NulGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_path = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape")
        if _IN_URL.search(raw_path) or "\x00" in scope["path"]:
            await _refuse(scope, send, "path")
            return
        if _IN_URL.search(scope.get("query_string", b"")):
            await _refuse(scope, send, "query")
            return
        for _, value in scope.get("headers", []):
            if b"\x00" in value:
                await _refuse(scope, send, "headers")
                return
        if scope["method"] not in WRITES or scope["path"].rstrip("/") == "/v1/imports":
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
        if _IN_BODY.search(body):
            await _refuse(scope, send, "body")
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)
