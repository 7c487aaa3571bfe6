"""A server that answers at once: the yardstick for the load generator's own cost.

Every command it receives is answered with one fixed reply (``$-1``, a nil bulk string, so a
GET reads as a miss, or ``+PONG``) without looking at it beyond counting it: what a
generator measures against it is the generator plus the loopback, nothing of a cache.
Runs in its own process (:class:`PongServer`), started and stopped by PID.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

import hiredis

__all__ = ["PongServer", "serve"]


class _Pong(asyncio.Protocol):
    def __init__(self, reply: bytes) -> None:
        self.reader = hiredis.Reader()
        self.reply = reply
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        r = self.reader
        r.feed(data)
        n = 0
        while r.gets() is not False:
            n += 1
        if n and self.transport is not None:
            self.transport.write(self.reply * n)


def serve(port: int, reply: bytes = b"$-1\r\n") -> None:
    """Serve on 127.0.0.1:``port`` until SIGTERM."""
    loop: asyncio.AbstractEventLoop
    try:
        import uvloop

        loop = uvloop.new_event_loop()
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    server = loop.run_until_complete(loop.create_server(lambda: _Pong(reply), "127.0.0.1", port, backlog=1024))
    stop = loop.create_future()
    loop.add_signal_handler(signal.SIGTERM, stop.set_result, None)
    loop.run_until_complete(stop)
    server.close()
    loop.close()


class PongServer:
    """:func:`serve` in a child process on a free loopback port."""

    def __init__(self, reply: bytes = b"$-1\r\n") -> None:
        from simlab.load.target import free_port

        self.port = free_port()
        self.reply = reply
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> PongServer:
        code = f"from simlab.load.pong import serve; serve({self.port}, {self.reply!r})"
        self.proc = subprocess.Popen([sys.executable, "-c", code])
        import socket

        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("the pong server did not start") from None
                time.sleep(0.02)

    def stop(self) -> None:
        p = self.proc
        if p is not None and p.poll() is None:
            os.kill(p.pid, signal.SIGTERM)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(p.pid, signal.SIGKILL)
                p.wait()

    def __enter__(self) -> PongServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
