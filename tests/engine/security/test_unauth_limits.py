"""Item 3: before AUTH, Redis refuses a multibulk count over 10 and a bulk length over 16384
("Protocol error: unauthenticated multibulk length" / "... bulk length") and closes the
connection, so an anonymous peer cannot make the server hold a big argument.

The memory case runs the server as its own process and sends three 200 MB partial bulks:
the server must close each connection at the header, and its RSS must not grow by more than
16 MB (the tolerance covers allocator noise and socket buffers; the bug grew it by 640 MB).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from tests.engine.security.conftest import Process, process


@pytest.fixture(scope="module", params=["engine", pytest.param("redis", marks=pytest.mark.redis_server)])
def srv(request: pytest.FixtureRequest) -> Iterator[Process]:
    """One password-protected server per kind for the module, as its own process."""
    with process(str(request.param), requirepass="pw") as p:
        yield p


def _read_error(sock: socket.socket) -> bytes:
    data = b""
    deadline = time.monotonic() + 10
    while not data.endswith(b"\r\n") and time.monotonic() < deadline:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


@pytest.mark.parametrize("header,text", [
    (b"*2\r\n$3\r\nGET\r\n$16385\r\n", b"-ERR Protocol error: unauthenticated bulk length\r\n"),
    (b"*11\r\n", b"-ERR Protocol error: unauthenticated multibulk length\r\n"),
])
def test_unauthenticated_limits(srv: Process, header: bytes, text: bytes) -> None:
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
        s.sendall(header)
        assert _read_error(s) == text
        assert s.recv(1) == b""  # closed after the error


def test_limits_do_not_apply_after_auth(srv: Process) -> None:
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
        value = b"v" * 20000
        s.sendall(b"*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n%s\r\n" % (len(value), value))
        deadline = time.monotonic() + 10
        data = b""
        while data.count(b"\r\n") < 2 and time.monotonic() < deadline:
            data += s.recv(4096)
        assert data == b"+OK\r\n+OK\r\n"


def test_partial_200mb_bulks_do_not_grow_the_server(srv: Process) -> None:
    before = srv.rss_bytes()
    sent_total = 0
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
            s.sendall(b"*2\r\n$3\r\nSET\r\n$209715200\r\n")
            chunk = b"x" * (1 << 20)
            try:
                for _i in range(200):  # at most 200 MB, stops when the server closes
                    s.sendall(chunk)
                    sent_total += len(chunk)
            except OSError:
                pass
    grown = srv.rss_bytes() - before
    assert grown < 16 * 1024 * 1024, f"RSS grew by {grown} bytes"
    assert sent_total < 3 * 200 * (1 << 20)  # the server closed the connections early
