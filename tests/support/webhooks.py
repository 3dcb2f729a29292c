"""A real webhook receiver for tests: an HTTP endpoint on a port of this machine (uvicorn)
that verifies every delivery's signature with the ``standardwebhooks`` library and keeps
each ``webhook-id`` once, as a receiver is told to."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from standardwebhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route


async def until(check: Callable[[], Awaitable[bool] | bool], timeout_s: float = 15) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        outcome = check()
        if await outcome if not isinstance(outcome, bool) else outcome:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("not within the time allowed")


@dataclass
class Receiver:
    """An HTTP endpoint that verifies signatures (once it knows the secret), keeps each
    ``webhook-id`` once, and answers ``fail_next`` requests with a 500 first."""

    url: str = ""
    secret: str | None = None
    fail_next: int = 0
    always_fail: bool = False
    fail_every: int = 0  # every nth verified request answers 500 (0: none)
    kept: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: int = 0
    repeats: int = 0
    bad_signatures: int = 0

    async def handle(self, request: Request) -> Response:
        self.requests += 1
        try:
            body = await request.body()
        except ClientDisconnect:  # the sender was killed mid-request: it will send again
            return Response(status_code=400)
        assert self.secret is not None
        try:
            payload = Webhook(self.secret).verify(body, dict(request.headers))
        except WebhookVerificationError:
            self.bad_signatures += 1
            return Response(status_code=400)
        flaky = self.fail_every > 0 and self.requests % self.fail_every == 0
        if self.always_fail or self.fail_next > 0 or flaky:
            self.fail_next = max(0, self.fail_next - 1)
            return Response(status_code=500)
        webhook_id = request.headers["webhook-id"]
        if webhook_id in self.kept:
            self.repeats += 1
        self.kept[webhook_id] = payload
        return Response(status_code=204)


def _app_of(receiver: Receiver) -> tuple[Starlette, str]:
    """The receiver's app at a path of its own: a subscription an earlier test left behind,
    aimed at a port the system has since handed to this receiver, gets a 404 here, never
    a request this receiver would count as badly signed."""
    path = f"/hook/{secrets.token_hex(8)}"
    return Starlette(routes=[Route(path, receiver.handle, methods=["POST"])]), path


@contextlib.asynccontextmanager
async def running_receiver() -> AsyncIterator[Receiver]:
    """A receiver at ``receiver.url`` until the block ends; set ``receiver.secret``."""
    receiver = Receiver()
    app, path = _app_of(receiver)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    receiver.url = f"http://127.0.0.1:{sock.getsockname()[1]}{path}"
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await until(lambda: server.started)
        yield receiver
    finally:
        server.should_exit = True
        await serving
        sock.close()


@contextlib.contextmanager
def receiver_in_thread(**knobs: Any) -> Iterator[Receiver]:
    """A receiver served from a thread of its own (its own event loop), for a caller that
    runs several event loops one after another (the chaos driver)."""
    receiver = Receiver(**knobs)
    app, path = _app_of(receiver)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    receiver.url = f"http://127.0.0.1:{sock.getsockname()[1]}{path}"
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 15
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        yield receiver
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()
