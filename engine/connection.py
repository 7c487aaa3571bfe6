"""One TCP (or TLS) connection: read bytes, split them into requests, write replies.

Requests are parsed by hiredis's C reader (multibulk, the form every client library sends)
or, when a request does not start with ``*``, by the inline parser (telnet, ``redis-cli``
piping).  All replies produced by one read are written with a single ``transport.write`` so a
pipeline of N commands costs one syscall, as Redis batches its reply buffer.  Malformed input
gets Redis's ``-ERR Protocol error: ...`` and the connection is closed, exactly as
networking.c does; nothing a client sends reaches beyond its own connection.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from typing import TYPE_CHECKING, Any

import hiredis

from engine.client import Client
from engine.dispatch import process_command
from engine.errors import ProtocolError
from engine.protocol import Status, encode

if TYPE_CHECKING:
    from engine.server import Server

__all__ = ["Connection", "split_inline"]

log = logging.getLogger("engine")

_MAX_MULTIBULK = 2**31 - 1  # INT_MAX (networking.c processMultibulkBuffer, Redis 7.0)
_MAX_INLINE = 64 * 1024
_GOT = re.compile(r'got "(.)"')
_BULK_HEADER_AT_END = re.compile(rb"\$(\d{7,})\r\n\Z")


def split_inline(line: bytes) -> list[bytes] | None:
    """Split an inline request as sdssplitargs does: spaces separate, double quotes allow
    ``\\n``-style and ``\\xHH`` escapes, single quotes allow ``\\'``.  None on unbalanced
    quotes (Redis: "unbalanced quotes in request")."""
    args: list[bytes] = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i] in b" \t\r\n\x0b\x0c":
            i += 1
        if i >= n:
            return args
        cur = bytearray()
        inq = insq = False
        while True:
            if inq:
                if i >= n:
                    return None
                c = line[i]
                if c == 0x5C and i + 3 < n and line[i + 1] == 0x78 and _ishex(line[i + 2]) and _ishex(line[i + 3]):
                    cur.append(int(line[i + 2:i + 4], 16))
                    i += 3
                elif c == 0x5C and i + 1 < n:
                    i += 1
                    cur.append({0x6E: 10, 0x72: 13, 0x74: 9, 0x62: 8, 0x61: 7}.get(line[i], line[i]))
                elif c == 0x22:
                    if i + 1 < n and line[i + 1] not in b" \t\r\n\x0b\x0c":
                        return None
                    inq = False
                    i += 1
                    break
                else:
                    cur.append(c)
            elif insq:
                if i >= n:
                    return None
                c = line[i]
                if c == 0x5C and i + 1 < n and line[i + 1] == 0x27:
                    i += 1
                    cur.append(0x27)
                elif c == 0x27:
                    if i + 1 < n and line[i + 1] not in b" \t\r\n\x0b\x0c":
                        return None
                    insq = False
                    i += 1
                    break
                else:
                    cur.append(c)
            else:
                if i >= n:
                    break
                c = line[i]
                if c in b" \t\r\n\x0b\x0c":
                    break
                if c == 0x22:
                    inq = True
                elif c == 0x27:
                    insq = True
                else:
                    cur.append(c)
            i += 1
        args.append(bytes(cur))


def _ishex(c: int) -> bool:
    return c in b"0123456789abcdefABCDEF"


class Connection(asyncio.Protocol):
    """The asyncio protocol object for one client socket."""

    __slots__ = ("server", "client", "transport", "reader", "inline", "paused", "pending", "_soft_since", "at_boundary",
                 "_batch")

    def __init__(self, server: Server) -> None:
        self.server = server
        self.transport: Any = None
        self.reader = hiredis.Reader()
        # True between requests: only then may a chunk not starting with '*' be inline
        # (hiredis's has_data() is also False in the middle of a multibulk request).
        self.at_boundary = True
        self._batch: list[bytes] | None = None  # replies of the read being processed, not yet written
        self.inline = b""
        self.paused = False
        self.pending: list[list[bytes]] = []
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
        self.client.conn = self  # type: ignore[attr-defined]
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
        self.server.stats.total_net_input_bytes += len(data)
        try:
            if self.inline or (data[:1] != b"*" and self.at_boundary):
                self._feed_inline(data)
            else:
                if data[:1] == b"*" and self.at_boundary:
                    self._check_multibulk_header(data)
                self.reader.feed(data)
                self.at_boundary = False
            if self.reader.len() > self.server.client_query_buffer_limit:
                log.warning("closing client that reached max query buffer length: %s", client.addr)
                self.close()
                return
        except ProtocolError as e:
            self._protocol_error(e)
            return
        if not self.paused:
            self.process_input()
        if not self.at_boundary and data[-2:] == b"\r\n":
            # A request waiting for a bulk longer than proto-max-bulk-len is refused as soon
            # as its header arrives (hiredis itself has no such limit).
            m = _BULK_HEADER_AT_END.search(data, max(0, len(data) - 24))
            if m is not None and int(m.group(1)) > self.server.proto_max_bulk_len:
                self._protocol_error(ProtocolError("invalid bulk length"))

    def _check_multibulk_header(self, data: bytes) -> None:
        nl = data.find(b"\r\n", 0, _MAX_INLINE)
        if nl < 0:
            if len(data) > _MAX_INLINE:
                raise ProtocolError("too big mbulk count string")
            return
        try:
            count = int(data[1:nl])
        except ValueError:
            raise ProtocolError("invalid multibulk length") from None
        if count > _MAX_MULTIBULK:
            raise ProtocolError("invalid multibulk length")
        if count > 10 and not self.client.authenticated:  # Redis 7.0's authRequired check
            raise ProtocolError("unauthenticated multibulk length")

    def _feed_inline(self, data: bytes) -> None:
        buf = self.inline + data
        self.inline = b""
        while buf:
            if buf[:1] == b"*":
                self._check_multibulk_header(buf)
                self.reader.feed(buf)
                self.at_boundary = False
                return
            nl = buf.find(b"\n")
            if nl < 0:
                if len(buf) > _MAX_INLINE:
                    raise ProtocolError("too big inline request")
                self.inline = buf
                return
            line, buf = buf[:nl], buf[nl + 1 :]
            argv = split_inline(line)
            if argv is None:  # the requests before it still run, as Redis does
                self.pending.append(ProtocolError("unbalanced quotes in request"))  # type: ignore[arg-type]
                return
            if argv:
                self.pending.append(argv)

    def _next_request(self) -> list[bytes] | None:
        if self.pending:
            req = self.pending.pop(0)
            if type(req) is ProtocolError:
                raise req
            return req
        while True:
            try:
                req = self.reader.gets()
            except hiredis.ProtocolError as e:
                m = _GOT.search(str(e))
                if m:
                    raise ProtocolError(f"expected '$', got '{m.group(1)}'") from None
                text = str(e).lower()
                raise ProtocolError("invalid bulk length" if "bulk string" in text else "invalid multibulk length") from None
            if req is False:
                return None
            self.at_boundary = not self.reader.has_data()
            if req is None or req == []:
                continue  # *-1 and *0 are ignored, as Redis does
            if type(req) is not list:
                raise ProtocolError("expected '*'")
            for arg in req:
                if type(arg) is not bytes:
                    raise ProtocolError(f"expected '$', got '{_type_byte(arg)}'")
            return req

    def process_input(self) -> None:
        """Run every complete request now buffered; write all replies at once."""
        client = self.client
        server = self.server
        out: list[bytes] = []
        self._batch = out
        out_bytes = 0
        resp = client.resp
        try:
            while not client.closing:
                argv = self._next_request()
                if argv is None:
                    break
                if server.pause_until and server.pause_blocks(client, argv):
                    self.pending.insert(0, argv)
                    self.paused = True
                    server.paused_connections.add(self)
                    break
                reply = process_command(client, argv)
                if client.blocked is not None:
                    self.paused = True
                    break
                t = type(reply)
                if t is bytes:
                    out.append(b"$%d\r\n%s\r\n" % (len(reply), reply))
                    out_bytes += len(reply)
                elif t is Status:
                    out.append(b"+" + reply.encode() + b"\r\n")
                elif t is int:
                    out.append(b":%d\r\n" % reply)
                else:
                    if client.resp != resp:
                        resp = client.resp
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
            self._protocol_error(e)
            return
        if out:
            self.write(b"".join(out))
            out.clear()
        self._batch = None
        if client.closing:
            self.close()

    def resume(self) -> None:
        """Continue after a blocking command was served or a CLIENT PAUSE ended."""
        self.paused = False
        if self.transport is not None and not self.transport.is_closing():
            self.process_input()

    # -- output ------------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
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
        self.write(b"-" + e.reply_text().encode() + b"\r\n")
        self.close()


def _type_byte(value: Any) -> str:
    if isinstance(value, int):
        return ":"
    if isinstance(value, list):
        return "*"
    if isinstance(value, str):
        return "+"
    return "-"
