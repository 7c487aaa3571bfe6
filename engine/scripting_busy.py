"""Serving clients while a script is busy (Redis's processEventsWhileBlocked from the script
hook): the connections that already exist, connections accepted meanwhile, and signals.

A script runs on the event-loop thread, so while it runs asyncio serves nobody.  Past
``busy-reply-threshold`` the count hook calls :meth:`BusyServer.serve`, which

* reads the sockets of existing connections and runs what they sent through dispatch (BUSY
  for everything but SCRIPT KILL, FUNCTION KILL, SHUTDOWN NOSAVE and the other ``allow_busy``
  commands);
* accepts new connections on the listening sockets itself, so ``redis-cli SCRIPT KILL`` from
  a fresh connection is answered at once as Redis answers it; such a connection is served
  through a small socket transport until the script ends, then handed to the event loop
  (``connect_accepted_socket``) with its client state;
* notices SIGTERM/SIGINT: the loop's own handlers cannot run during the script, so a
  Python-level handler installed for the busy period records the signal and the hook ends
  the script; the loop then sees the signal too and shuts down as usual.

One :class:`BusyServer` lives for one busy period: the script engine's count hook creates it
when the script passes the threshold (:meth:`BusyServer.begin` sets the BUSY reply dispatch
sends), calls :meth:`BusyServer.serve` on every check after that, and :meth:`BusyServer.end`
when the script returns.  It sits next to engine/connection.py because it does that layer's
job (reading sockets, accepting, handing sockets to the loop) underneath asyncio.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import socket
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from engine.connection import Connection

if TYPE_CHECKING:
    from engine.server import Server

__all__ = ["BusyServer"]

log = logging.getLogger("engine")

_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_WRITE_TIMEOUT_S = 1.0


class _SocketTransport:
    """Just enough of an asyncio transport for a connection accepted during a busy script."""

    def __init__(self, sock: socket.socket, conn: Connection) -> None:
        self.sock = sock
        self.conn = conn
        self.closed = False

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view and not self.closed:
            try:
                n = self.sock.send(view)
            except (BlockingIOError, InterruptedError):
                select.select([], [self.sock], [], _WRITE_TIMEOUT_S)
                continue
            except OSError:
                self.abort()
                return
            view = view[n:]

    def writelines(self, chunks: list[bytes]) -> None:
        self.write(b"".join(chunks))

    def get_write_buffer_size(self) -> int:
        return 0

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(OSError):
            self.sock.close()
        self.conn.connection_lost(None)

    abort = close

    def pause_reading(self) -> None:
        return None

    def resume_reading(self) -> None:
        return None

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "peername":
            with contextlib.suppress(OSError):
                return self.sock.getpeername()
        if name == "sockname":
            with contextlib.suppress(OSError):
                return self.sock.getsockname()
        if name == "socket":
            return self.sock
        return default


class _AdoptedConnection(Connection):
    """A connection accepted by the hook; when the event loop takes the socket over, the
    connection keeps its client (authentication, selected db, name, parsed input)."""

    def connection_made(self, transport: Any) -> None:  # type: ignore[override]
        if self.client is None:
            super().connection_made(transport)
            return
        self.transport = transport
        fdobj = transport.get_extra_info("socket")
        self.client.fd = fdobj.fileno() if fdobj is not None else -1
        if self.pending or self.parser.has_pending():
            self.process_input()


class BusyServer:
    """What the script hook serves while the script is busy, for one busy period."""

    def __init__(self, server: Server, busy_message: str) -> None:
        self.server = server
        self.busy_message = busy_message
        self.listening: list[socket.socket] = []
        self.adopted: list[tuple[_AdoptedConnection, _SocketTransport]] = []
        self.signalled = False
        self._old_handlers: dict[int, Any] = {}

    def begin(self, threshold_ms: int) -> None:
        """The script just passed busy-reply-threshold: from now on dispatch answers BUSY."""
        self.server.script_busy = self.busy_message
        log.warning("Slow script detected: still in execution after %d milliseconds.", threshold_ms)
        for srv in getattr(self.server, "listeners", ()):
            for s in getattr(srv, "sockets", ()) or ():
                try:
                    dup = socket.socket(fileno=os.dup(s.fileno()))
                except OSError:
                    continue
                dup.setblocking(False)
                self.listening.append(dup)
        if threading.current_thread() is threading.main_thread():
            for sig in _SIGNALS:
                try:
                    self._old_handlers[sig] = signal.signal(sig, self._on_signal)
                except (ValueError, OSError):
                    pass

    def _on_signal(self, signum: int, frame: Any) -> None:
        self.signalled = True
        old = self._old_handlers.get(signum)
        if callable(old):
            old(signum, frame)

    def serve(self, running: Any) -> None:
        """One round: accept, then read and answer every other client."""
        server = self.server
        for lsock in self.listening:
            for _ in range(64):  # bounded per round, like Redis's MAX_ACCEPTS_PER_CALL (1000)
                try:
                    sock, _peer = lsock.accept()
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    break
                self._adopt(sock)
        for conn in list(server.connections.values()):
            client = conn.client
            if client is running or client.fd < 0 or conn.transport is None or conn.transport.is_closing():
                continue
            if conn.transport.get_extra_info("sslcontext") is not None:
                continue
            try:
                data = os.read(client.fd, 65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                continue
            if data:
                conn.data_received(data)
            elif isinstance(conn.transport, _SocketTransport):
                conn.transport.close()  # the peer closed a connection accepted while busy

    def must_stop(self) -> bool:
        """SIGTERM/SIGINT, or SHUTDOWN NOSAVE served meanwhile: the script must end so the loop
        can handle the signal or stop."""
        if self.signalled:
            return True
        stopped = self.server._stopped
        return stopped is not None and stopped.is_set()

    def _adopt(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = _AdoptedConnection(self.server)
        transport = _SocketTransport(sock, conn)
        conn.connection_made(transport)
        if transport.closed:  # maxclients, protected mode
            return
        if self.server.connections.get(conn.client.id) is not conn:
            transport.close()
            return
        self.adopted.append((conn, transport))

    def end(self) -> None:
        """The script ended: restore the signal handlers, hand the accepted sockets to the loop."""
        self.server.script_busy = ""
        for sig, old in self._old_handlers.items():
            with contextlib.suppress(ValueError, OSError, TypeError):
                signal.signal(sig, old)
        self._old_handlers.clear()
        for lsock in self.listening:
            lsock.close()
        self.listening.clear()
        loop = getattr(self.server, "loop", None)
        for conn, transport in self.adopted:
            if transport.closed:
                continue
            if loop is None or loop.is_closed():
                transport.close()
                continue
            loop.create_task(_hand_over(loop, conn, transport))
        self.adopted.clear()


async def _hand_over(loop: Any, conn: Connection, transport: _SocketTransport) -> None:
    """Give the socket to the event loop; if it went away meanwhile (shutdown, peer reset),
    the connection is simply closed."""
    factory: Callable[[], Connection] = lambda: conn  # noqa: E731 - the loop calls it once
    try:
        await loop.connect_accepted_socket(factory, transport.sock)
    except OSError:
        transport.close()
