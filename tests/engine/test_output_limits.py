"""client-output-buffer-limit: a client that pipelines big replies and reads nothing is
disconnected once its unread output passes the hard limit, and the server's memory stays
bounded while it happens (networking.c checkClientOutputBufferLimits); other clients go on."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import redis

from engine.server import EmbeddedServer
from tests.engine.test_rename_command import _cachelab_server

VALUE_BYTES = 1024 * 1024
GETS = 200  # 200 MiB of replies if nothing stopped them


def _flood(port: int) -> socket.socket:
    """Send GETs of the big key in one write, read nothing."""
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    s.sendall(b"*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n" * GETS)
    return s


def _wait_closed(s: socket.socket, timeout_s: float = 10.0) -> bool:
    """True once the server closed the connection (reads drain what was sent before that)."""
    s.settimeout(timeout_s)
    deadline = time.monotonic() + timeout_s
    total = 0
    try:
        while time.monotonic() < deadline:
            chunk = s.recv(1 << 20)
            if not chunk:
                return total < GETS * VALUE_BYTES
            total += len(chunk)
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return False


def test_hard_limit_disconnects_only_the_flooding_client() -> None:
    with EmbeddedServer(**{"client-output-buffer-limit": "normal 4mb 0 0"}) as srv:
        assert srv.server is not None
        r = redis.Redis.from_url(srv.url)
        r.set("big", b"x" * VALUE_BYTES)
        s = _flood(srv.port)
        time.sleep(0.5)
        assert srv.server.stats.client_output_buffer_limit_disconnections == 1
        assert _wait_closed(s)
        s.close()
        assert r.ping() and len(r.get("big") or b"") == VALUE_BYTES  # others unaffected


def test_no_limit_delivers_every_reply() -> None:
    with EmbeddedServer(**{"client-output-buffer-limit": "normal 0 0 0"}) as srv:
        assert srv.server is not None
        r = redis.Redis.from_url(srv.url)
        r.set("big", b"x" * 64 * 1024)
        s = socket.create_connection(("127.0.0.1", srv.port))
        s.sendall(b"*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n" * 64)  # 4 MiB, no limit: all delivered
        s.settimeout(10)
        got = 0
        while got < 64 * (64 * 1024 + 10):
            chunk = s.recv(1 << 20)
            assert chunk
            got += len(chunk)
        s.close()
        assert srv.server.stats.client_output_buffer_limit_disconnections == 0


def test_server_memory_stays_bounded(tmp_path: Path) -> None:
    """Peak RSS of a cachelab-server process (VmHWM) while a client floods 200 MiB of replies
    with a 4 MiB hard limit: it must stay far below the 200 MiB the replies would take.  The
    150 MiB bound leaves room for the interpreter (~40 MiB) and the 1 MiB value's copies."""
    conf = tmp_path / "limits.conf"
    conf.write_text("client-output-buffer-limit normal 4mb 0 0\n")
    with _cachelab_server(conf) as port:
        r = redis.Redis(host="127.0.0.1", port=port)
        r.set("big", b"x" * VALUE_BYTES)
        s = _flood(port)
        time.sleep(1.0)  # the flooding client reads nothing meanwhile
        assert _wait_closed(s)
        s.close()
        pid = r.info("server")["process_id"]
        hwm_kb = int(next(line.split()[1] for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                          if line.startswith("VmHWM:")))
        print("VmHWM_kB", hwm_kb)
        assert hwm_kb < 150 * 1024, hwm_kb


def test_soft_limit_needs_its_seconds() -> None:
    """Over the soft limit (1 MiB) for less than its 1 s: kept; still over after 1 s: closed."""
    with EmbeddedServer(**{"client-output-buffer-limit": "normal 0 1mb 1"}) as srv:
        assert srv.server is not None
        r = redis.Redis.from_url(srv.url)
        r.set("big", b"x" * 256 * 1024)
        s = socket.create_connection(("127.0.0.1", srv.port))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        get = b"*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n"
        s.sendall(get * 20)  # 5 MiB of replies, unread
        time.sleep(0.4)
        s.sendall(get * 4)
        time.sleep(0.2)
        assert srv.server.stats.client_output_buffer_limit_disconnections == 0
        time.sleep(0.8)  # now over the soft limit for more than 1 s
        s.sendall(get * 4)
        deadline = time.monotonic() + 5
        while srv.server.stats.client_output_buffer_limit_disconnections == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert srv.server.stats.client_output_buffer_limit_disconnections == 1
        s.close()
        assert r.ping()
