"""``leadflow up``: the whole system on one machine, every process owned and stopped.

Starts (when not pointed elsewhere) the embedded PostgreSQL and broker, applies the
migrations, creates the topics, loads the demo workspace, runs the four services as
child processes, sends a demo lead through, keeps a trickle of demo traffic going for the
ops dashboard, and stops everything on Ctrl-C/SIGTERM/SIGHUP (any number of them).

The services' ports are bound here, in this process, and handed to each service as a
listening socket (``serve --fd``): no other program can take a port between a check and
a bind, and a readiness probe on that port can only reach our own service. A preferred
port (8000-8003) another program holds is said so, with the port used instead. The
URLs, servers and token go to ``.leadflow/stack.json`` (services.stack_file) for the CLI.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import httpx

from services.catalog import SERVICES, migrate
from services.ops.demo_traffic import start_demo_traffic
from services.stack_file import OPS_TOKEN_FILE, STACK_FILE, RunningStack
from shared import credentials
from shared.db import make_engine, make_sessions
from shared.embedded import (
    EMBEDDED_BROKER_SETTINGS,
    EmbeddedKafka,
    EmbeddedPostgres,
    Listener,
    bind_listener,
    die_with_parent,
)
from shared.kafka import ensure_topics
from shared.mail_sink import MailSink, kept_mail
from shared.settings import Settings

DEMO_LEAD = {
    "email": "jordan.lee@walmart.com",
    "name": "Jordan Lee",
    "company": "Walmart Inc.",
    "title": "Director of IT",
    "phone": "+1 479 273 4000",
    "country": "US",
    "source": "website",
    "campaign": "demo-request",
}
POSTGRES_PORT, BROKER_PORT, MAIL_PORT = 55432, 19092, 8025  # preferred; others when taken
MAIL_DIR = "mail"  # the mail sink's Maildir in the data dir (leadflow mail reads it)
BASE_PORT = min(info.port for info in SERVICES.values())  # intake 8000 ... ops 8003


async def load_demo(database_url: str, today: date | None = None) -> None:
    """The demo workspace and the demo firm's contract, both in force around ``today``
    (default: today, UTC) — the demo never expires."""
    from services.credit.demo import seed_demo_contract
    from services.router.demo import demo_firm_period, seed_demo

    period = demo_firm_period(today or datetime.now(UTC).date())
    engine = make_engine(database_url, pool_size=1)
    try:
        async with make_sessions(engine)() as session:
            await seed_demo(session, period)
        async with make_sessions(engine)() as session:
            await seed_demo_contract(session, period.starts_on, period.ends_on)
    finally:
        await engine.dispose()


def _say(message: str = "") -> None:
    print(message, flush=True)


class _Stop(Exception):
    pass


class StackFailed(Exception):
    """A step of ``leadflow up`` failed in a way the user can act on (said in one line)."""


class Shutdown:
    """The stop signals: the first one interrupts whatever ``leadflow up`` is doing
    (raises _Stop); any later one, or any once stopping began for another reason, only
    says that it is stopping. Nothing is printed through ``sys.stdout`` from a handler (a
    handler that interrupts a print and prints again fails)."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

    def __init__(self) -> None:
        self.stopping = False

    def handle(self, signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if not self.stopping:
            self.stopping = True
            raise _Stop(name)
        with contextlib.suppress(OSError):
            os.write(sys.stderr.fileno(), f"{name}: still stopping, a moment ...\n".encode())

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        previous = {sig: signal.signal(sig, self.handle) for sig in self.SIGNALS}
        try:
            yield
        finally:
            for sig, old in previous.items():
                signal.signal(sig, old)


def _wait_ready(url: str, process: subprocess.Popen[bytes], timeout_s: float = 90) -> None:
    """``url`` is on a socket this process bound and gave ``process`` alone: whatever
    answers there is our service."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise StackFailed(f"{url} exited with {process.returncode} before it was ready")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        time.sleep(0.3)
    raise StackFailed(f"{url} not ready after {timeout_s:g}s")


DEMO_FIRM = "acme-outreach"


def log_demo_touch(intake: str, auth: dict[str, str]) -> None:
    """The demo firm, a key, and a call it logged three days ago: sticking point 3 says an
    inbound lead on its account is then the firm's."""
    httpx.post(
        f"{intake}/v1/firms",
        json={"firm_id": DEMO_FIRM, "name": "Acme Outreach"},
        headers=auth,
        timeout=10,
    )  # 201, or 409 when it exists from an earlier run
    key = httpx.post(f"{intake}/v1/firms/{DEMO_FIRM}/keys", headers=auth, timeout=10)
    key.raise_for_status()
    touch = {
        "kind": "call",
        "occurred_at": (datetime.now(UTC) - timedelta(days=3)).isoformat(),
        "contact_email": DEMO_LEAD["email"],
        "notes": "Intro call with the IT director",
    }
    partner = {"Authorization": f"Bearer {key.json()['token']}"}
    httpx.post(
        f"{intake}/v1/partner/activities", json=touch, headers=partner, timeout=10
    ).raise_for_status()
    _say(f"demo firm {DEMO_FIRM} logged a call to {DEMO_LEAD['email']} three days ago")


def _poll(url: str, auth: dict[str, str], settled: Callable[[dict[str, Any]], bool]) -> Any:
    deadline, last = time.monotonic() + 60, None
    while time.monotonic() < deadline:
        got = httpx.get(url, headers=auth, timeout=5)
        if got.status_code == 200:
            last = got.json()["decision"]
            if settled(last):
                return last
        time.sleep(0.3)
    return last


def _send_demo_lead(token: str, urls: dict[str, str]) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    log_demo_touch(urls["intake"], auth)
    answer = httpx.post(f"{urls['intake']}/v1/leads", json=DEMO_LEAD, headers=auth, timeout=10)
    answer.raise_for_status()
    lead_id = answer.json()["lead_id"]
    _say(f"demo lead {DEMO_LEAD['email']} (an inbound website lead) accepted: {lead_id}")
    routing = _poll(f"{urls['router']}/v1/leads/{lead_id}/routing", auth, lambda d: True)
    _say(f"  routing  {routing['explanation'] if routing else 'no decision after 60s'}")
    credit = _poll(
        f"{urls['credit']}/v1/leads/{lead_id}/credit", auth, lambda d: d["state"] == "credited"
    )
    if credit is None:
        _say("  credit   no decision after 60s; see the logs above")
        return
    _say(f"  credit   {credit['state']} {credit['amount']} {credit['currency']}")
    for reason in credit["reasons"]:
        _say(f"           - {reason['sentence']}")


def _show_demo_mail(mail_dir: Path, since: float, timeout_s: float = 20) -> None:
    """The owner's notification of the demo lead, as the mail sink received it."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for mail in kept_mail(mail_dir):
            if mail.received_at.timestamp() >= since and "Jordan Lee" in str(
                mail.message["Subject"]
            ):
                _say(f"  notified {mail.message['To']}: {mail.message['Subject']}  (leadflow mail)")
                return
        time.sleep(0.3)
    _say("  notified nobody within 20s; see ops' log above")


@dataclass
class _Processes:
    """Everything ``leadflow up`` started, so that all of it is stopped."""

    postgres: EmbeddedPostgres | None = None
    kafka: EmbeddedKafka | None = None
    mail: MailSink | None = None
    children: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    traffic: tuple[threading.Thread, threading.Event] | None = None
    stack_file: RunningStack | None = None

    def stop(self) -> None:
        if self.stack_file is not None:
            self.stack_file.remove()
        if self.traffic is not None:  # before the services, so it sees no failures
            thread, stop = self.traffic
            stop.set()
            thread.join(12)
        _stop_children(self.children)
        if self.mail is not None:
            self.mail.stop()
        if self.kafka is not None:
            self.kafka.stop()
        if self.postgres is not None:
            self.postgres.stop()


def _moved(what: str, wanted: int, port: int) -> None:
    _say(f"  port {wanted} is taken by another program: {what} is on port {port} instead")


def _start_infra(settings: Settings, data_dir: Path, procs: _Processes) -> dict[str, str]:
    """Embedded database and broker unless configured; returns the services' environment."""
    env = dict(os.environ)
    # A development stack: webhooks may point at a receiver on this machine (unless set).
    env.setdefault("OPS_WEBHOOK_ALLOW_PRIVATE_TARGETS", "true")
    if not settings.database_url:
        _say("starting embedded PostgreSQL ...")
        procs.postgres = EmbeddedPostgres(data_dir / "postgres", port=POSTGRES_PORT)
        env["DATABASE_URL"] = procs.postgres.start().url
        if procs.postgres.moved_from is not None:
            _moved("PostgreSQL", procs.postgres.moved_from, procs.postgres.port)
    if not settings.kafka_bootstrap_servers:
        _say("starting embedded Kafka-compatible broker (Tansu) ...")
        procs.kafka = EmbeddedKafka(port=BROKER_PORT, log_path=data_dir / "broker.log")
        env["KAFKA_BOOTSTRAP_SERVERS"] = procs.kafka.start().bootstrap_servers
        env.update(EMBEDDED_BROKER_SETTINGS)
        if procs.kafka.moved_from is not None:
            _moved("the broker", procs.kafka.moved_from, procs.kafka.port)
    if not env.get("OPS_SMTP_HOST"):  # notifications go to the mail sink: leadflow mail
        procs.mail = MailSink(data_dir / MAIL_DIR, port=MAIL_PORT).start()
        env.update(
            OPS_SMTP_HOST="127.0.0.1", OPS_SMTP_PORT=str(procs.mail.port), OPS_SMTP_SECURITY="none"
        )
        env.setdefault("OPS_NOTIFY_OPS_EMAIL", "ops@example.com")
        if procs.mail.moved_from is not None:
            _moved("the mail sink", procs.mail.moved_from, procs.mail.port)
    return env


async def issue_admin(database_url: str, name: str) -> str:
    """A new admin credential (the token is shown once; its digest is stored)."""
    engine = make_engine(database_url, pool_size=1)
    try:
        async with make_sessions(engine)() as session, session.begin():
            issued = await credentials.issue(
                session, name=name, scopes=("admin",), created_by="leadflow up"
            )
    finally:
        await engine.dispose()
    return issued.token


def _issue_ops_token(data_dir: Path, env: dict[str, str]) -> str:
    """An admin credential for this run, kept in ``ops-token`` (mode 600)."""
    token = asyncio.run(issue_admin(env["DATABASE_URL"], "leadflow up"))
    token_file = data_dir / OPS_TOKEN_FILE
    token_file.write_text(token + "\n")
    token_file.chmod(0o600)
    return token


def _prepare(env: dict[str, str], *, demo: bool) -> None:
    _say("applying migrations, creating topics ...")
    migrate(env["DATABASE_URL"])
    run_settings = Settings(
        database_url=env["DATABASE_URL"],
        kafka_bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"],
        kafka_enable_idempotence=env.get("KAFKA_ENABLE_IDEMPOTENCE", "true") == "true",
        kafka_topic_partitions=env.get("KAFKA_TOPIC_PARTITIONS") or None,
    )
    asyncio.run(ensure_topics(run_settings))
    if demo:
        asyncio.run(load_demo(env["DATABASE_URL"]))


def _bind_service_ports(base_port: int) -> dict[str, Listener]:
    listeners: dict[str, Listener] = {}
    try:
        for name, info in SERVICES.items():
            listeners[name] = bind_listener(base_port + info.port - BASE_PORT)
    except OSError as error:
        for listener in listeners.values():
            listener.socket.close()
        raise StackFailed(f"cannot listen on 127.0.0.1: {error}") from error
    for name, listener in listeners.items():
        if listener.moved:
            _moved(name, listener.preferred, listener.port)
    return listeners


def _start_services(env: dict[str, str], procs: _Processes, base_port: int) -> dict[str, str]:
    """Each service on a socket bound here (``serve --fd``); its URL once it is ready."""
    listeners = _bind_service_ports(base_port)
    urls = {name: f"http://127.0.0.1:{listener.port}" for name, listener in listeners.items()}
    env = {"OPS_PUBLIC_URL": urls["ops"], **env}  # the dashboard links in notifications
    try:
        for name, listener in listeners.items():
            fd = listener.socket.fileno()
            procs.children[name] = subprocess.Popen(
                [sys.executable, "-m", "services.cli", "serve", name, "--fd", str(fd)],
                env={**env, "LEADFLOW_INSTANCE": f"{name}-1"},
                pass_fds=(fd,),
                # Its own session: a Ctrl-C in the terminal reaches this process only,
                # which stops each service once (SIGTERM); the death signal covers a
                # killed parent.
                start_new_session=True,
                preexec_fn=die_with_parent,  # noqa: PLW1509 - only sets the death signal
            )
    finally:
        for listener in listeners.values():
            listener.socket.close()  # the services hold their own copies
    for name, url in urls.items():
        _wait_ready(url, procs.children[name])
    return urls


def _watch(children: dict[str, subprocess.Popen[bytes]], shutdown: Shutdown) -> int:
    while True:
        for name, child in children.items():
            if child.poll() is not None:
                shutdown.stopping = True
                _say(f"{name} exited with {child.returncode}; stopping everything")
                return 1
        time.sleep(0.5)


def _run(
    settings: Settings,
    procs: _Processes,
    shutdown: Shutdown,
    *,
    demo: bool,
    traffic_per_minute: float,
    base_port: int,
) -> int:
    data_dir = settings.leadflow_data_dir.resolve()
    running = RunningStack.read(data_dir)
    if running is not None:
        raise StackFailed(
            f"this checkout's stack is running already (pid {running.pid}, intake at "
            f"{running.urls.get('intake')}); stop it first, or use another LEADFLOW_DATA_DIR"
        )
    data_dir.mkdir(parents=True, exist_ok=True)
    env = _start_infra(settings, data_dir, procs)
    _prepare(env, demo=demo)
    token = _issue_ops_token(data_dir, env)
    urls = _start_services(env, procs, base_port)
    servers = {k: v for k, v in env.items() if k in _SERVER_ENV}
    procs.stack_file = RunningStack(os.getpid(), urls, servers, data_dir)
    procs.stack_file.write()
    _print_where(env, urls, token, data_dir)
    if demo and token:
        try:
            sent_at = time.time() - 1
            _send_demo_lead(token, urls)
            if procs.mail is not None:
                _show_demo_mail(data_dir / MAIL_DIR, sent_at)
        except httpx.HTTPError as error:
            _say(f"demo lead failed: {_one_line(error)}")
        if traffic_per_minute > 0:
            procs.traffic = start_demo_traffic(urls, token, traffic_per_minute)
            _say(f"demo traffic: about {traffic_per_minute:g} leads a minute (--traffic 0: none)")
    _say("\nLeadflow is up. Ctrl-C stops everything.")
    return _watch(procs.children, shutdown)


_SERVER_ENV = {"DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", *EMBEDDED_BROKER_SETTINGS}


def _one_line(error: BaseException) -> str:
    if isinstance(error, httpx.HTTPStatusError):
        return f"{error.response.status_code} from {error.request.url}: {error.response.text}"
    if isinstance(error, subprocess.CalledProcessError):
        output = error.stderr or error.stdout or b""
        detail = output.decode(errors="replace").strip().splitlines()
        return f"{error.cmd[0]} exited with {error.returncode}: {detail[-1] if detail else ''}"
    return str(error) or type(error).__name__


def run_stack(
    settings: Settings, *, demo: bool, traffic_per_minute: float = 0, base_port: int = BASE_PORT
) -> int:
    """Exit code: 0 when stopped by a signal, 1 when a step or a service failed."""
    procs = _Processes()
    shutdown = Shutdown()
    with shutdown.installed():
        try:
            return _run(
                settings,
                procs,
                shutdown,
                demo=demo,
                traffic_per_minute=traffic_per_minute,
                base_port=base_port,
            )
        except _Stop as stop:
            _say(f"\n{stop}: stopping ...")
            return 0
        except (StackFailed, OSError, RuntimeError, subprocess.SubprocessError) as error:
            shutdown.stopping = True
            _say(f"leadflow up failed: {_one_line(error)}; stopping everything")
            return 1
        finally:
            shutdown.stopping = True  # from here on a signal only says "still stopping"
            procs.stop()
            _say("stopped: services, broker and database")


def _stop_children(children: dict[str, subprocess.Popen[bytes]]) -> None:
    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 25
    for child in children.values():
        try:
            child.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(5)


def _print_where(env: dict[str, str], urls: dict[str, str], token: str | None, data: Path) -> None:
    _say("")
    _say(f"  database   {env['DATABASE_URL']}")
    _say(f"  broker     {env['KAFKA_BOOTSTRAP_SERVERS']}")
    for name, url in urls.items():
        _say(f"  {name:10} {url}   (API docs: /docs, metrics: /metrics)")
    if token:
        _say(f"  ops token  {token}   (also in {data / OPS_TOKEN_FILE})")
        _say(f"  dashboard  {urls['ops']}/?token={token}")
    if env.get("OPS_SMTP_HOST") == "127.0.0.1" and (data / MAIL_DIR).exists():
        _say(f"  mail sink  smtp://127.0.0.1:{env['OPS_SMTP_PORT']}   (read: leadflow mail)")
    _say("")
    _say("  The leadflow command of this checkout (.venv/bin/leadflow) finds this stack by")
    _say(f"  itself (in {data / STACK_FILE}); from anywhere else:")
    exports = f"LEADFLOW_INTAKE_URL={urls['intake']}"
    if token:
        exports += f" LEADFLOW_OPS_TOKEN={token}"
    _say(f"    export {exports}")
    _say("")
