"""CONFIG SET port and CONFIG SET bind at run time, as Redis 7.0 (changeListenPort /
changeBindAddr): the listener moves, connected clients stay, a port already taken is refused
with Redis's message and the server keeps listening where it was.  Loopback addresses only."""

from __future__ import annotations

import socket

import pytest
import redis

from engine.server import EmbeddedServer
from tests.support.redis_real import free_port, real_redis


def _connects(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16) == b"+PONG\r\n"
    except OSError:
        return False


def _config_set(r: redis.Redis, name: str, value: str) -> str:
    try:
        return str(r.config_set(name, value))
    except redis.ResponseError as e:
        return str(e)


def _scenario(port: int) -> list[object]:
    r = redis.Redis(port=port, socket_timeout=5)
    new = free_port()
    out: list[object] = [_config_set(r, "port", str(new)), _connects(new), _connects(port), r.ping()]
    r2 = redis.Redis(port=new, socket_timeout=5)
    out.append(r2.config_get("port")["port"] == str(new))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        taken = busy.getsockname()[1]
        out += [_config_set(r2, "port", str(taken)), _connects(new)]
    out += [_config_set(r2, "bind", "127.0.0.1"), _connects(new), r2.config_get("bind")["bind"]]
    out += [_config_set(r2, "bind", "127.0.0.2 127.0.0.1"), _connects(new)]
    return out


def test_rebind_matches_redis() -> None:
    with EmbeddedServer() as srv:
        ours = _scenario(srv.port)
    redis_port = free_port()
    try:
        with real_redis(port=redis_port) as rr:
            theirs = _scenario(rr.port)
    except FileNotFoundError:
        pytest.skip("redis-server not installed")
    assert ours == theirs
    assert ours[:3] == ["True", True, False]
