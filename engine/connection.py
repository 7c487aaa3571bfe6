"""One TCP (or TLS) connection: read bytes, split them into requests, write replies.

Requests are parsed by :class:`engine.request.RequestParser` (networking.c's multibulk and
inline parsers, limits included: no header decides an allocation).  All replies produced by
one read are written with a single ``transport.write`` so a pipeline of N commands costs one
syscall, as Redis batches its reply buffer.  Malformed input gets Redis's ``-ERR Protocol
error: ...`` after the requests before it ran, and the connection is closed, exactly as
networking.c does; nothing a client sends reaches beyond its own connection.

Fairness: one client is served at most ``TURN_BUDGET`` requests per event-loop turn; the rest
of its pipeline waits (its socket not read meanwhile) until the other clients had their turn.
Redis gets the same effect from reading at most 16 KiB (PROTO_IOBUF_LEN) per client per turn.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from engine.client import Client
from engine.dispatch import process_command
from engine.errors import ProtocolError
from engine.protocol import encode
from engine.request import RequestParser, split_inline

if TYPE_CHECKING:
    from engine.server import Server

__all__ = ["Connection", "split_inline", "TURN_BUDGET"]

log = logging.getLogger("engine")

# Requests served for one client before the others get a turn: ~16 KiB of GETs, what Redis
# reads (PROTO_IOBUF_LEN) and then serves per client per event-loop iteration.
TURN_BUDGET = 512


class Connection(asyncio.Protocol):
    """The asyncio protocol object for one client socket."""

    __slots__ = ("server", "client", "transport", "parser", "paused", "pending", "_soft_since", "_batch", "_scheduled")

    def __init__(self, server: Server) -> None:
        self.server = server
        self.transport: Any = None
        self.parser = RequestParser()
        self._batch: list[bytes] | None = None  # replies of the read being processed, not yet written
        self._scheduled = False  # the rest of a long pipeline waits for the next loop turn
        self.paused = False
        self.pending: deque[list[bytes]] = deque()  # parsed requests not yet run
        self._soft_since = 0.0
        self.client: Client = None  # type: ignore[assignment]

    # -- lifecycle ---------------------------------------------------------------------------
    def connection_made(self, transport: Any) -> None:  # type: ignore[override]
        self.transport = transport
        server = self.server
        peer = transport.get_extra_info("peername") or ("?", 0)
        sock = transport.get_extra_info("sockname") or ("?", 0)
        fdobj = transport.get_extra_info("socket")
        fd = fdobj.fileno() if fdobj is not None else -1
        addr = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        laddr = f"{sock[0]}:{sock[1]}" if isinstance(sock, tuple) else str(sock)
        self.client = Client(server, addr=addr, laddr=laddr, fd=fd, write=self.write_out_of_band)
        self.client.conn = self
        if len(server.connections) >= server.maxclients:
            transport.write(b"-ERR max number of clients reached\r\n")
            server.stats.rejected_connections += 1
            transport.close()
            return
        refusal = server.protected_mode_refusal(peer)
        if refusal is not None:
            transport.write(b"-" + refusal.encode() + b"\r\n")
            server.stats.rejected_connections += 1
            transport.close()
            return
        server.connections[self.client.id] = self
        server.stats.total_connections_received += 1

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.client_gone(self.client)
        self.server.connections.pop(self.client.id, None)

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    # -- input -------------------------------------------------------------------------------
    def data_received(self, data: bytes) -> None:  # type: ignore[override]
        client = self.client
        client.last_interaction_s = time.time()
        client.tot_net_in += len(data)
        server = self.server
        server.stats.total_net_input_bytes += len(data)
        if (not self.pending and not self.paused and not self._scheduled and client.authenticated
                and not client.closing and not server.pause_until):
            argv = self.parser.take_one(data, server.proto_max_bulk_len)
            if argv is not None:  # one small request with nothing before it (-P 1): no queue, no batch
                self._run_one(argv)
                return
        if self.parser.feed(data) > server.client_query_buffer_limit:
            # readQueryFromClient's check, on the unparsed bytes and the parsed arguments of
            # the request still incomplete: what this client holds in the server.
            log.warning("Closing client that reached max query buffer length: %s", client.addr)
            server.stats.client_query_buffer_limit_disconnections += 1
            if self.transport is not None:
                self.transport.abort()
            return
        if not self.paused and not self._scheduled:
            self.process_input()

    def process_input(self) -> None:
        """Run the complete requests now buffered (at most TURN_BUDGET of them: the rest is
        served on a later loop turn); write all replies at once."""
        client = self.client
        server = self.server
        out: list[bytes] = []
        self._batch = out
        out_bytes = 0
        budget = TURN_BUDGET
        pending = self.pending
        parser = self.parser
        try:
            while not client.closing:
                if not pending:
                    if budget <= 0:
                        if parser.has_pending():
                            self._schedule_rest()
                        break
                    batch = parser.parse_batch(server.proto_max_bulk_len, client.authenticated, budget)
                    if not batch:
                        break
                    budget -= len(batch)
                    pending.extend(batch)
                argv = pending.popleft()
                if server.pause_until and server.pause_blocks(client, argv):
                    pending.appendleft(argv)
                    self.paused = True
                    server.paused_connections.add(self)
                    break
                reply = process_command(client, argv)
                if client.blocked is not None:
                    self.paused = True
                    break
                # the wire format lives in protocol.encode alone (its first branches are the
                # common replies: bulk, +OK, integer, null)
                chunk = encode(reply, client.resp)
                out.append(chunk)
                out_bytes += len(chunk)
                if out_bytes > 65536:
                    # Big replies leave (through the output-limit check) as they are made, so a
                    # pipeline whose client reads nothing cannot pile them up here.
                    self.write(b"".join(out))
                    out.clear()
                    out_bytes = 0
                    if self.transport.is_closing():
                        return
        except ProtocolError as e:
            if out:
                self.write(b"".join(out))
                out.clear()
            self._batch = None
            self._protocol_error(e)
            return
        if out:
            self.write(b"".join(out))
            out.clear()
        self._batch = None
        if client.closing:
            self.close()

    def _run_one(self, argv: list[bytes]) -> None:
        """process_input for a read that is exactly one request (nothing pending, no pause): the
        same steps without the parser loop, the reply batch or the turn budget."""
        client = self.client
        reply = process_command(client, argv)
        if client.blocked is not None:
            self.paused = True
        else:
            self.write(encode(reply, client.resp))
        if client.closing:
            self.close()

    def _schedule_rest(self) -> None:
        """Serve the rest of this pipeline on the next loop turn, not reading more meanwhile."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        self._scheduled = True
        transport.pause_reading()
        asyncio.get_running_loop().call_soon(self._continue)

    def _continue(self) -> None:
        self._scheduled = False
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if not self.paused:
            self.process_input()
        if not self._scheduled and not transport.is_closing():
            transport.resume_reading()

    def resume(self) -> None:
        """Continue after a blocking command was served or a CLIENT PAUSE ended."""
        self.paused = False
        if self.transport is not None and not self.transport.is_closing() and not self._scheduled:
            self.process_input()

    # -- output ------------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        due = self.server.aof_fsync_due
        if due is not None:  # appendfsync always: acknowledged writes are on disk first
            self.server.aof_fsync_due = None
            due.fsync_if_due()
        transport.write(data)
        self.client.tot_net_out += len(data)
        self.server.stats.total_net_output_bytes += len(data)
        if transport.get_write_buffer_size() > 65536:
            self.check_output_limit()

    def write_out_of_band(self, data: bytes) -> None:
        """A push (pub/sub message) goes after the replies this client already has pending, as
        in Redis's single output buffer (a client that publishes to itself reads +OK first)."""
        batch = self._batch
        if batch:
            self.write(b"".join(batch))
            batch.clear()
        self.write(data)

    def check_output_limit(self) -> None:
        """client-output-buffer-limit: close a client whose unread replies pass the hard limit,
        or stay over the soft limit for its seconds (networking.c checkClientOutputBufferLimits)."""
        if self.transport is None:
            return
        size = self.transport.get_write_buffer_size()
        self.client.obuf_bytes = size
        cls = "pubsub" if self.client.subscriptions else "normal"
        hard, soft, soft_s = self.server.config["client-output-buffer-limit"].get(cls, (0, 0, 0))
        over_soft = bool(soft) and size > soft
        now = time.monotonic()
        if over_soft and not self._soft_since:
            self._soft_since = now
        elif not over_soft:
            self._soft_since = 0.0
        if (hard and size > hard) or (over_soft and now - self._soft_since >= soft_s):
            log.warning("Client %s scheduled to be closed ASAP for overcoming of output buffer limits.", self.client.addr)
            self.server.stats.client_output_buffer_limit_disconnections += 1
            self.transport.abort()

    def _protocol_error(self, e: ProtocolError) -> None:
        self.server.stats.errors(e)
        # Latin-1 keeps "expected '$', got '<byte>'" the raw byte Redis prints; CR/LF become
        # spaces as addReplyErrorFormat makes them.
        text = e.reply_text().replace("\r", " ").replace("\n", " ")
        self.write(b"-" + text.encode("latin-1", "replace") + b"\r\n")
        self.close()

