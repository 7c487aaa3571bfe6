"""Fixtures of the security suite: each test runs against the engine and, where Redis 7.0
behaves the same way, against a real redis-server started with the same options."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from engine.server import EmbeddedServer
from tests.differential.harness import RawClient
from tests.support.redis_real import free_port, real_redis


@dataclass
class Process:
    """A server running as its own process (so its RSS and its signals are its own)."""

    port: int
    proc: subprocess.Popen[bytes]

    def rss_bytes(self) -> int:
        """Resident set size from /proc (Linux)."""
        with open(f"/proc/{self.proc.pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@contextmanager
def process(kind: str, **options: str | int) -> Iterator[Process]:
    """Start ``python -m engine`` or redis-server as a child process on a free loopback port;
    stop it by PID (SIGTERM, then SIGKILL after 10 s)."""
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="security-")
    args = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", workdir]
    for name, value in options.items():
        args += [f"--{name.replace('_', '-')}", str(value)]
    if kind == "engine":
        cmd = [sys.executable, "-m", "engine", *args]
    else:
        from tests.support.redis_real import redis_server_binary

        cmd = [redis_server_binary(), *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(64):  # +PONG or -NOAUTH: the server is answering
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{kind} did not start on port {port}")
            time.sleep(0.05)
        yield Process(port, proc)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()


@contextmanager
def start(kind: str, **options: str | int) -> Iterator[int]:
    """Start the engine or redis-server with redis.conf ``options`` (``_`` for ``-``); yield its port."""
    if kind == "engine":
        with EmbeddedServer(**options) as srv:
            yield srv.port
        return
    args: list[str] = []
    for name, value in options.items():
        args += [f"--{name.replace('_', '-')}", str(value)]
    with real_redis(*args) as r:
        yield r.port


@pytest.fixture(params=["engine", pytest.param("redis", marks=pytest.mark.redis_server)])
def kind(request: pytest.FixtureRequest) -> str:
    """Which server a test runs against: the engine, then real redis-server 7.0."""
    return str(request.param)


@pytest.fixture(scope="module", params=["engine", pytest.param("redis", marks=pytest.mark.redis_server)])
def lua_client(request: pytest.FixtureRequest) -> Iterator[RawClient]:
    """A raw RESP client of the engine and, as a second parameter, of redis-server 7.0 (the
    script tests expect identical replies from both)."""
    with start(str(request.param)) as port:
        client = RawClient(port)
        yield client
        client.close()


def ev(c: RawClient, script: str, *args: str) -> object:
    """EVAL ``script`` with ``args`` as keys: the reply's value, or ("error", its text)."""
    r = c.call("EVAL", script, len(args), *args)
    return r.value if r.kind != "-" else ("error", r.value.decode())
