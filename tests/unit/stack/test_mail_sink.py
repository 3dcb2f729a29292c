"""The mail sink of ``leadflow up``: a real SMTP server that keeps what it accepts in a
Maildir, and ``leadflow mail`` that lists and prints it."""

from __future__ import annotations

import os
import smtplib
import subprocess
import sys
import time
from email.message import EmailMessage
from pathlib import Path

from services.stack import MAIL_DIR
from shared.embedded import free_port
from shared.mail_sink import MailSink, kept_mail


def _send(port: int, to: str, subject: str, body: str) -> None:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "Leadflow <l@x.test>", to, subject
    mail.set_content(body)
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.send_message(mail)


def _leadflow(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LEADFLOW_DATA_DIR": str(data_dir), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "services.cli", "mail", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_sink_keeps_every_message_and_leadflow_mail_reads_them(tmp_path: Path) -> None:
    maildir = tmp_path / MAIL_DIR
    with MailSink(maildir, port=free_port()) as sink:
        _send(sink.port, "dana@example.com", "New lead: Jordan Lee (Walmart Inc.)", "Routed.")
        time.sleep(0.02)  # the newest is the one received last
        _send(sink.port, "ops@example.com", "Dispute opened by acme", "Disputed by the firm.")
    kept = kept_mail(maildir)
    assert [str(m.message["To"]) for m in kept] == ["dana@example.com", "ops@example.com"]
    listed = _leadflow(tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "2 messages" in listed.stdout
    assert listed.stdout.index("Dispute opened") < listed.stdout.index("New lead: Jordan")
    shown = _leadflow(tmp_path, "--show", "2")
    assert shown.returncode == 0, shown.stderr
    assert "Subject: New lead: Jordan Lee (Walmart Inc.)" in shown.stdout
    assert "Routed." in shown.stdout
    missing = _leadflow(tmp_path, "--show", "3")
    assert missing.returncode != 0
    assert "no message 3: 2 in the mail sink" in missing.stderr + missing.stdout


def test_a_taken_port_moves_the_sink_and_says_from_where(tmp_path: Path) -> None:
    with MailSink(tmp_path / "a", port=free_port()) as first:
        with MailSink(tmp_path / "b", port=first.port) as second:
            assert second.moved_from == first.port
            assert second.port != first.port
            _send(second.port, "x@example.com", "hello", "body")
        assert [m.message["Subject"] for m in kept_mail(tmp_path / "b")] == ["hello"]
