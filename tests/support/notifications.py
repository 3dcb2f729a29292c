"""Real receivers of notifications for tests: the mail sink (a real SMTP server) collecting
in memory, and a Slack-compatible incoming webhook (an HTTP endpoint on a port)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import uvicorn
from aiosmtpd.controller import Controller
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from shared.embedded import free_port
from shared.mail_sink import MailSink
from tests.support.webhooks import until


@dataclass
class Inbox:
    """Every message a sink accepted, with when, and each notification key it carried."""

    messages: list[tuple[EmailMessage, float]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def keep(self, message: EmailMessage, at: float) -> None:
        with self.lock:
            self.messages.append((message, at))

    def keys(self, *to: str) -> list[str]:
        """The notification keys carried (of the messages to ``to``, when given)."""
        return [k for m, _ in (self.to(*to) if to else list(self.messages)) for k in carried(m)]

    def to(self, *addresses: str) -> list[tuple[EmailMessage, float]]:
        with self.lock:
            return [(m, at) for m, at in self.messages if m["To"] in addresses]

    def about(self, text: str) -> list[tuple[EmailMessage, float]]:
        """The messages whose body says ``text`` (a lead id: its link)."""
        with self.lock:
            return [(m, at) for m, at in self.messages if text in m.get_content()]

    def by_message_id(self) -> dict[str, EmailMessage]:
        with self.lock:
            return {str(m["Message-ID"]): m for m, _ in self.messages}


def carried(message: EmailMessage) -> list[str]:
    header = message.get("X-Leadflow-Notifications")
    return [k.strip() for k in str(header).split(",")] if header else []


@contextlib.contextmanager
def mail_sink(port: int | None = None) -> Iterator[tuple[MailSink, Inbox]]:
    inbox = Inbox()
    sink = MailSink(port=port or free_port(), on_message=inbox.keep).start()
    try:
        yield sink, inbox
    finally:
        sink.stop()


class _RefusesNobody:
    """An SMTP server's handler that has no mailbox for ``nobody-*`` (550) and accepts the
    rest without keeping them."""

    async def handle_RCPT(
        self, _server: Any, _session: Any, envelope: Any, address: str, _options: Any
    ) -> str:
        if address.startswith("nobody"):
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, _server: Any, _session: Any, _envelope: Any) -> str:
        return "250 Message accepted"


@contextlib.contextmanager
def refusing_mail_server() -> Iterator[int]:
    """A real SMTP server whose ``nobody-*`` mailboxes do not exist; yields its port."""
    controller = Controller(_RefusesNobody(), hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller.port
    finally:
        controller.stop()


@dataclass
class SlackHook:
    url: str = ""
    posts: list[dict[str, Any]] = field(default_factory=list)
    fail_next: int = 0

    async def handle(self, request: Request) -> Response:
        body = await request.json()
        if self.fail_next > 0:
            self.fail_next -= 1
            return Response("rollup_error", status_code=500)
        self.posts.append(body)
        return Response("ok")


@contextlib.asynccontextmanager
async def running_slack_hook() -> AsyncIterator[SlackHook]:
    hook = SlackHook()
    app = Starlette(routes=[Route("/services/T0/B0/secret", hook.handle, methods=["POST"])])
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    hook.url = f"http://127.0.0.1:{sock.getsockname()[1]}/services/T0/B0/secret"
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await until(lambda: server.started)
        yield hook
    finally:
        server.should_exit = True
        await serving
        sock.close()
