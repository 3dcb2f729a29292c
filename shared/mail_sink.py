"""A mail sink: a real SMTP server (aiosmtpd) on this machine that accepts every message
and keeps it, for ``leadflow up`` (read them with ``leadflow mail``), the tests and the
chaos run. Nothing is relayed anywhere.

Messages are kept in a Maildir (one file each, written whole before it appears, so a reader
never sees half a message) and, for a caller in this process, handed to ``on_message``
with the time they were accepted.
"""

from __future__ import annotations

import email
import email.policy
import mailbox
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from shared.embedded import free_port, port_taken

OnMessage = Callable[[EmailMessage, float], None]  # the message, when accepted (time.time)


class _Keep:
    def __init__(self, maildir: mailbox.Maildir | None, on_message: OnMessage | None) -> None:
        self.maildir = maildir
        self.on_message = on_message

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        accepted = time.time()
        raw: bytes = envelope.original_content or envelope.content
        if self.maildir is not None:
            self.maildir.add(raw)
        if self.on_message is not None:
            parsed = email.message_from_bytes(raw, policy=email.policy.default)
            assert isinstance(parsed, EmailMessage)
            self.on_message(parsed, accepted)
        return "250 Message accepted"


@dataclass
class MailSink:
    maildir: Path | None = None  # None: nothing kept on disk (on_message only)
    port: int = 8025  # preferred; another when it is taken
    hostname: str = "127.0.0.1"
    on_message: OnMessage | None = None
    moved_from: int | None = None
    _controller: Controller | None = field(default=None, repr=False)

    def start(self) -> MailSink:
        if port_taken(self.port):
            self.moved_from, self.port = self.port, free_port()
        box = mailbox.Maildir(self.maildir, create=True) if self.maildir else None
        self._controller = Controller(
            _Keep(box, self.on_message),
            hostname=self.hostname,
            port=self.port,
            data_size_limit=10 * 1024 * 1024,
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> MailSink:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


@dataclass(frozen=True)
class KeptMail:
    key: str
    received_at: datetime
    message: EmailMessage

    @property
    def body(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        return part.get_content() if part is not None else ""


def kept_mail(maildir: Path) -> list[KeptMail]:
    """The messages a sink kept in ``maildir``, oldest first."""
    found = []
    for path in [*(maildir / "new").glob("*"), *(maildir / "cur").glob("*")]:
        with path.open("rb") as handle:
            parsed = email.message_from_binary_file(handle, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        at = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        found.append(KeptMail(path.name, at, parsed))
    return sorted(found, key=lambda m: (m.received_at, m.key))
