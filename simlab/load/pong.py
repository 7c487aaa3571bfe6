"""A server that answers at once: the yardstick for the load generator's own cost.

Every command it receives is answered with one fixed reply (``$-1``, a nil bulk string, so a
GET reads as a miss, or ``+PONG``) without looking at it beyond counting it: what a
generator measures against it is the generator plus the loopback, nothing of a cache.
Runs in its own process (:class:`PongServer`), started and stopped by PID.

Two ways to wait for requests.  By default it is an event loop that sleeps in ``epoll_wait``
like any server, so what a generator measures includes the kernel waking the server's CPU
(tens of µs from an idle core on a virtual machine).  With ``poll=True`` it never sleeps: it
spins on non-blocking sockets, so a request is read the moment it lands and the figure is the
generator's own cost and the loopback alone -- "a server that answers at once" taken
literally.  The polling server burns its whole CPU; it is meant for a pinned measurement
(one CPU for it, the others for the generator).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

import hiredis

__all__ = ["PongServer", "serve", "serve_polling"]


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


def serve_polling(port: int, reply: bytes = b"$-1\r\n", max_seconds: float = 3600.0) -> None:
    """Serve on 127.0.0.1:``port`` by spinning on non-blocking sockets until SIGTERM (or
    ``max_seconds``, so a forgotten server cannot spin for ever)."""
    import select
    import socket

    stop = False

    def on_term(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    listener = socket.create_server(("127.0.0.1", port), backlog=1024)
    listener.setblocking(False)
    ep = select.epoll()
    ep.register(listener.fileno(), select.EPOLLIN)
    conns: dict[int, tuple[socket.socket, hiredis.Reader]] = {}
    deadline = time.monotonic() + max_seconds
    spins = 0
    while not stop:
        events = ep.poll(0)
        for fd, _ in events:
            if fd == listener.fileno():
                try:
                    sock, _addr = listener.accept()
                except BlockingIOError:
                    continue
                sock.setblocking(False)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                conns[sock.fileno()] = (sock, hiredis.Reader())
                ep.register(sock.fileno(), select.EPOLLIN)
                continue
            sock, reader = conns[fd]
            try:
                data = sock.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                ep.unregister(fd)
                del conns[fd]
                sock.close()
                continue
            reader.feed(data)
            n = 0
            while reader.gets() is not False:
                n += 1
            if n:
                try:
                    sock.sendall(reply * n)
                except OSError:
                    pass
        spins += 1
        if spins & 0xFFFF == 0 and time.monotonic() > deadline:
            break
    for sock, _reader in conns.values():
        sock.close()
    listener.close()


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

    def __init__(self, reply: bytes = b"$-1\r\n", poll: bool = False) -> None:
        from simlab.load.target import free_port

        self.port = free_port()
        self.reply = reply
        self.poll = poll
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> PongServer:
        fn = "serve_polling" if self.poll else "serve"
        code = f"from simlab.load.pong import {fn}; {fn}({self.port}, {self.reply!r})"
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
