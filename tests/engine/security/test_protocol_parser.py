"""Issue 12 items 5 and 6 and the protocol bad-input items: what a client's headers may make the
server allocate, and Redis 7.0's answers (networking.c processMultibulkBuffer) on odd headers.

Each payload is sent to the engine and to a real redis-server 7.0 and the bytes read back, and
whether the connection was closed, must be equal."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
import redis

from engine.request import RequestParser
from engine.server import EmbeddedServer
from tests.support.redis_real import RealRedis


@pytest.fixture(scope="module")
def engine() -> Iterator[EmbeddedServer]:
    with EmbeddedServer() as srv:
        yield srv


def exchange(port: int, payload: bytes, timeout_s: float = 1.0) -> tuple[bytes, bool]:
    """Send ``payload``; return (everything read until ``timeout_s``, whether the server closed).
    A server that answers and closes before the payload is all sent is read all the same."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as s:
        out = b""
        try:
            s.sendall(payload)
        except (BrokenPipeError, ConnectionResetError):
            try:
                return s.recv(65536), True
            except OSError:
                return b"", True
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except TimeoutError:
                return out, False
            except ConnectionResetError:
                return out, True
            if not chunk:
                return out, True
            out += chunk
        return out, False


def _vm_size_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1])
    raise AssertionError("no VmSize in /proc/self/status")


PAYLOADS = [
    # *0, *-1 and *-5 are skipped: the next command runs.
    b"*0\r\n*-1\r\n*-5\r\n*1\r\n$4\r\nPING\r\n",
    # $-1 inside a multibulk request is an invalid bulk length.
    b"*2\r\n$4\r\nECHO\r\n$-1\r\n",
    # A bad multibulk header followed by bytes without a newline: refused, connection closed.
    b"*x\rfoo",
    b"*1x\r\n",
    # Leading zeros and '+' are not canonical (string2ll).
    b"*01\r\n$4\r\nPING\r\n",
    b"*1\r\n$04\r\nPING\r\n",
    b"*+1\r\n$4\r\nPING\r\n",
    # Elements that are not bulks, after a command that must run first.
    b"*1\r\n$4\r\nPING\r\n*1\r\n+PING\r\n",
    b"*2\r\n$4\r\nECHO\r\n:5\r\n",
    # Inline commands between multibulk ones; empty lines are skipped.
    b"\r\n\nPING\r\n*1\r\n$4\r\nPING\r\nECHO \"a b\"\n",
    # The bulk's CRLF is skipped unchecked, as Redis does.
    b"*2\r\n$4\r\nECHO\r\n$1\r\nabc\r\n",
    # A payload holding CRLF.
    b"*2\r\n$4\r\nECHO\r\n$4\r\n\r\n\r\n\r\n",
]


@pytest.mark.redis_server
@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda p: repr(p[:28]))
def test_headers_match_redis(engine: EmbeddedServer, redis_real_shared: RealRedis, payload: bytes) -> None:
    assert exchange(engine.port, payload) == exchange(redis_real_shared.port, payload)


@pytest.mark.redis_server
def test_header_split_at_every_byte_matches_redis(engine: EmbeddedServer, redis_real_shared: RealRedis) -> None:
    """Read boundaries do not change the answer: the same requests sent one byte per write."""
    payload = b"*3\r\n$3\r\nSET\r\n$2\r\nsk\r\n$3\r\na\r\n\r\n*0\r\nGET sk\r\n*2\r\n$3\r\nGET\r\n$2\r\nsk\r\n*1\r\n$-1\r\n"

    def bytewise(port: int) -> tuple[bytes, bool]:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as s:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for i in range(len(payload)):
                s.sendall(payload[i:i + 1])
                time.sleep(0.001)
            out = b""
            try:
                while chunk := s.recv(65536):
                    out += chunk
            except TimeoutError:
                return out, False
            return out, True

    assert bytewise(engine.port) == bytewise(redis_real_shared.port)


def test_huge_multibulk_count_allocates_nothing(engine: EmbeddedServer) -> None:
    """Item 5: ``*2147483647`` on four connections.  Before the fix each one made the parser
    build a list of 2^31 slots (16 GB of address space; seconds of pause when freed).  The bound,
    256 MB of address-space growth for the whole test, is far below one such list and far above
    what four idle connections cost."""
    before = _vm_size_kb()
    socks = [socket.create_connection(("127.0.0.1", engine.port), timeout=2.0) for _ in range(4)]
    try:
        for s in socks:
            s.sendall(b"*2147483647\r\n")
        r = redis.Redis(port=engine.port, socket_timeout=5)
        assert r.ping()
        grown_mb = (_vm_size_kb() - before) / 1024
        assert grown_mb < 256, f"address space grew by {grown_mb:.0f} MB"
    finally:
        for s in socks:
            s.close()
    assert redis.Redis(port=engine.port, socket_timeout=5).ping()


def test_parser_never_preallocates_from_a_header() -> None:
    """The parser holds only the bytes it was given, whatever the announced count or length."""
    p = RequestParser()
    p.feed(b"*2147483647\r\n$536870912\r\nabc")
    assert p.parse_batch(512 * 1024 * 1024, True, 100) == []
    assert p.held < 64


@pytest.mark.redis_server
def test_proto_max_bulk_len_in_one_write(engine: EmbeddedServer, redis_real: RealRedis) -> None:
    """Item 6: a 100 MB SET sent in one write with proto-max-bulk-len 64mb is refused with
    Redis's "invalid bulk length" and nothing is stored (before the fix it was stored)."""
    big = 100 * 1024 * 1024
    payload = b"*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$%d\r\n" % big + b"x" * big + b"\r\n"
    results = []
    for port in (engine.port, redis_real.port):
        r = redis.Redis(port=port, socket_timeout=10)
        old = r.config_get("proto-max-bulk-len")["proto-max-bulk-len"]
        r.config_set("proto-max-bulk-len", "64mb")
        try:
            results.append(exchange(port, payload, timeout_s=3.0))
            assert r.exists("big") == 0
        finally:
            r.config_set("proto-max-bulk-len", old)
    assert results[0] == results[1] == (b"-ERR Protocol error: invalid bulk length\r\n", True)


def test_query_buffer_limit_counts_parsed_arguments(engine: EmbeddedServer) -> None:
    """Item 6: client-query-buffer-limit bounds the parsed arguments of an incomplete request
    too: 3 MB of complete 100 KB arguments of a request that never ends, with a 1 MB limit,
    close the client (before the fix only the unparsed bytes were counted, never over 100 KB)."""
    r = redis.Redis(port=engine.port)
    r.config_set("client-query-buffer-limit", "1mb")
    try:
        arg = b"$102400\r\n" + b"y" * 102400 + b"\r\n"
        payload = b"*1000\r\n$5\r\nRPUSH\r\n$1\r\nq\r\n" + arg * 30
        _, closed = exchange(engine.port, payload, timeout_s=3.0)
        assert closed
    finally:
        r.config_set("client-query-buffer-limit", "1gb")
    assert r.ping()


def test_unauthenticated_bulk_limit() -> None:
    """Item 3's bulk half (Redis: "unauthenticated bulk length" over 16384 bytes)."""
    with EmbeddedServer(requirepass="pw") as srv:
        out = exchange(srv.port, b"*2\r\n$4\r\nAUTH\r\n$20000\r\n" + b"z" * 1000, timeout_s=1.0)
    assert out == (b"-ERR Protocol error: unauthenticated bulk length\r\n", True)


def test_qbuf_grows_and_shrinks(engine: EmbeddedServer) -> None:
    """CLIENT LIST qbuf is the bytes a client's partial request holds, then 0 once it ran."""
    r = redis.Redis(port=engine.port)
    with socket.create_connection(("127.0.0.1", engine.port), timeout=2.0) as s:
        s.sendall(b"CLIENT SETNAME partial\r\n")
        assert s.recv(100) == b"+OK\r\n"
        s.sendall(b"*3\r\n$3\r\nSET\r\n$2\r\nqb\r\n$200000\r\n" + b"q" * 100000)

        def qbuf() -> int:
            for c in r.client_list():
                if c["name"] == "partial":
                    return int(c["qbuf"])
            raise AssertionError("client not listed")

        deadline = time.monotonic() + 5
        while qbuf() < 100000 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert qbuf() >= 100000
        s.sendall(b"q" * 100000 + b"\r\n")
        assert s.recv(100) == b"+OK\r\n"
        assert qbuf() == 0
