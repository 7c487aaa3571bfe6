"""The core server path: embedded start/stop, RESP2/RESP3, pipelining, inline commands, errors."""

from __future__ import annotations

import socket
import time

import redis

from engine.server import EmbeddedServer


def _recv_until(s: socket.socket, n: int, timeout_s: float = 2.0) -> bytes:
    s.settimeout(timeout_s)
    data = b""
    end = time.monotonic() + timeout_s
    while len(data) < n and time.monotonic() < end:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def test_embedded_server_answers_redis_py_in_both_protocols() -> None:
    with EmbeddedServer() as srv:
        for proto in (2, 3):
            r = redis.Redis.from_url(srv.url, protocol=proto)
            assert r.ping() is True
            assert r.set("k", "v") is True
            assert r.get("k") == b"v"
            r.close()


def test_pipeline_of_1000_commands_gets_1000_replies_in_order() -> None:
    with EmbeddedServer() as srv:
        r = redis.Redis.from_url(srv.url)
        p = r.pipeline(transaction=False)
        for i in range(1000):
            p.set(f"k{i}", i)
            p.get(f"k{i}")
        replies = p.execute()
        assert replies[1::2] == [str(i).encode() for i in range(1000)]


def test_inline_commands_and_protocol_errors_close_only_that_connection() -> None:
    with EmbeddedServer() as srv:
        good = redis.Redis.from_url(srv.url)
        good.set("keep", "me")
        s = socket.create_connection(("127.0.0.1", srv.port))
        s.sendall(b'PING\r\nECHO "hi there"\r\n')
        assert _recv_until(s, 21) == b"+PONG\r\n$8\r\nhi there\r\n"
        s.sendall(b"*1\r\n:5\r\n")
        assert _recv_until(s, 100) == b"-ERR Protocol error: expected '$', got ':'\r\n"
        s.close()
        assert good.get("keep") == b"me"


def test_unknown_command_and_arity_errors_are_worded_as_redis() -> None:
    with EmbeddedServer() as srv:
        r = redis.Redis.from_url(srv.url)
        try:
            r.execute_command("FOO", "bar")
        except redis.ResponseError as e:
            assert str(e) == "unknown command 'FOO', with args beginning with: 'bar' "
        else:
            raise AssertionError("no error")
        try:
            r.execute_command("GET")
        except redis.ResponseError as e:
            assert str(e) == "wrong number of arguments for 'get' command"
        else:
            raise AssertionError("no error")
