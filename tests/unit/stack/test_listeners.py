"""``leadflow up`` binds its services' ports itself (shared.embedded.bind_listener): the
preferred port when it is free, else one the system picks, said so; and a server is taken
as ready only when *its* process holds the listening socket (holds_listener)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from shared.embedded import bind_listener, holds_listener, listening_inodes, port_taken


@pytest.fixture
def taken() -> Iterator[int]:
    """A port another "program" (this socket) listens on."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield other.getsockname()[1]


def test_a_free_preferred_port_is_used() -> None:
    first = bind_listener(0)  # the system's pick, then released: free right now
    port = first.port
    first.socket.close()
    listener = bind_listener(port)
    try:
        assert (listener.port, listener.moved) == (port, False)
    finally:
        listener.socket.close()


def test_a_taken_preferred_port_moves_and_says_so(taken: int) -> None:
    listener = bind_listener(taken)
    try:
        assert listener.moved
        assert listener.preferred == taken
        assert listener.port != taken
        assert listener.socket.get_inheritable()  # for the child's --fd
    finally:
        listener.socket.close()


def test_port_taken(taken: int) -> None:
    assert port_taken(taken)
    free = bind_listener(0)
    port = free.port
    free.socket.close()
    assert not port_taken(port)


TABLE = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1
   1: 0100007F:1F40 0100007F:B7A2 01 00000000:00000000 00:00000000 00000000     0        0 4343 1
   2: 00000000:1F41 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4444 1
"""


def test_listening_inodes_reads_listeners_only() -> None:
    assert listening_inodes(TABLE, 8000) == {4242}  # 1F40; the ESTABLISHED row is no listener
    assert listening_inodes(TABLE, 8001) == {4444}
    assert listening_inodes(TABLE, 8002) == set()


def test_holds_listener_tells_our_process_from_another(taken: int) -> None:
    assert holds_listener(os.getpid(), taken)  # the fixture's socket is ours
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert not holds_listener(child.pid, taken)  # a probe would reach *our* socket
    finally:
        child.kill()
        child.wait()
