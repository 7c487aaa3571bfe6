"""The query buffer: from the bytes a client sent to complete requests, as networking.c parses them.

Redis's ``processMultibulkBuffer`` and ``processInlineBuffer`` are ported here, limits and error
texts included, because a parser that trusts what a header announces can be made to allocate
for it: hiredis's reader builds a Python list of the announced size on ``*2147483647`` (16 GB of
address space for 13 bytes, and seconds of pause when it is freed).  Here nothing a header says
decides an allocation: arguments are appended as they arrive, and a bulk is only sliced out
once all of its bytes are held.

Limits, all checked on the header before its data is waited for, whatever the read boundaries:

* a multibulk count over INT_MAX, or not a canonical integer: "invalid multibulk length";
  counts ``<= 0`` (``*0``, ``*-1``, ``*-5``) are skipped and the next request runs;
* a bulk length that is negative (``$-1`` included), not a canonical integer, or over
  ``proto-max-bulk-len``: "invalid bulk length";
* before authentication, a count over 10 or a bulk over 16384 bytes: "unauthenticated
  multibulk length" / "unauthenticated bulk length";
* a header line (or inline request) over 64 KiB without its newline: "too big mbulk count
  string" / "too big bulk count string" / "too big inline request".

As in Redis, a header is complete once its ``\\r`` has one more byte after it (the byte after
``\\r`` is skipped unchecked), so ``*x\\r`` followed by anything is refused at once.

For speed, an authenticated client's requests are first handed to hiredis's Reader, but only
a window in which no aggregate header can announce 100 elements or more, and only the requests
whose canonical encoding is byte for byte what was received are kept (see
:meth:`RequestParser._reader_requests`); whatever else comes goes through the port above.  A
read under 256 bytes that is exactly one canonical request (``-P 1``) is split at its CRLFs
instead (:func:`_one_canonical_request`, the same proof by re-encoding).

Bulks of 32 KiB or more (``PROTO_MBULK_BIG_ARG``) are gathered as a list of chunks and joined
once, so a 500 MB argument arriving in 64 KiB reads costs linear, not quadratic, copying.
"""

from __future__ import annotations

import re

import hiredis

from engine.errors import ProtocolError
from engine.util import LLONG_MAX, LLONG_MIN

__all__ = ["RequestParser", "split_inline", "INLINE_MAX_SIZE", "MBULK_BIG_ARG", "UNAUTH_MAX_MULTIBULK", "UNAUTH_MAX_BULK"]

INLINE_MAX_SIZE = 64 * 1024  # PROTO_INLINE_MAX_SIZE
MBULK_BIG_ARG = 32 * 1024  # PROTO_MBULK_BIG_ARG
UNAUTH_MAX_MULTIBULK = 10  # processMultibulkBuffer's authRequired() limits
UNAUTH_MAX_BULK = 16384
_INT_MAX = 2**31 - 1
_SMALL_READ = 256  # below this the Reader's setup costs more than it saves (bench_parser.py)
_WINDOW = 64 * 1024  # bytes handed at once to hiredis by parse_batch's fast path
# An aggregate header announcing 100 or more elements (hiredis would preallocate for it), or
# anything that could read as one: the fast path's window ends before it.  ``*`` is searched
# alone (a regex with a literal first byte is ten times faster than one with a class).
_BIG_ARRAY = re.compile(rb"\*[0-9]{3}")
_OTHER_AGGREGATES = (b"%", b"~", b">", b"|")
_BIG_AGGREGATE = re.compile(rb"[%~>|][0-9]{3}")
# Canonical headers, looked up instead of formatted when checking what hiredis returned.
class _Headers(dict[int, bytes]):
    """``$<n>`` by length, made on first use: lengths are below the 64 KiB window, so at most
    65536 entries (~3 MB), in practice the few sizes a workload sends."""

    def __missing__(self, n: int) -> bytes:
        h = self[n] = b"$%d" % n
        return h


_ARRAY_HEADERS = tuple(b"*%d" % i for i in range(100))  # counts of 100+ never get here
_BULK_HEADERS = _Headers()


def _canonical(reqs: list[list[bytes]]) -> bytes:
    """The requests in canonical RESP (``*N``, then ``$len`` and the bulk for each argument, all
    CRLF-terminated); a TypeError if an element is not bytes.  Requests of one arity (a
    pipeline of GETs) are laid out column by column with C-level slice assignments, two and a
    half times faster than formatting them one by one."""
    ah, bh = _ARRAY_HEADERS, _BULK_HEADERS
    k = len(reqs[0])
    if all(len(r) == k for r in reqs):
        step = 1 + 2 * k
        flat: list[bytes] = [ah[k]] * (len(reqs) * step)
        for j, col in enumerate(zip(*reqs, strict=True)):
            flat[2 + 2 * j::step] = col
            flat[1 + 2 * j::step] = list(map(bh.__getitem__, map(len, col)))
    else:
        flat = [x for r in reqs for x in (ah[len(r)], *[y for a in r for y in (bh[len(a)], a)])]
    return b"\r\n".join(flat) + b"\r\n"
_EXACT_RUN = 16  # requests parsed exactly after the fast path stopped, before trying it again
_MEMO_ARGS = 4  # take_one remembers reads of this many arguments or more


def _one_canonical_request(buf: bytes) -> list[bytes] | None:
    """The arguments if ``buf`` is exactly one canonical multibulk request, else None.

    A read of one small request (``-P 1``) is split at every CRLF in one C call; when the
    pieces are ``*N``, then N pairs of ``$len`` and an argument of that length, with nothing
    after, joining them back with CRLF gives ``buf`` and that is the canonical encoding of
    the arguments, which parses in exactly one way: what :meth:`RequestParser.next_request`
    returns.  An argument holding CRLF, a non-canonical header, an inline request, a cut or a
    second request all fail the check and go the exact way.  3.5 times cheaper than the
    exact parser for a 9-argument XREADGROUP (1.5 against 5.0 us)."""
    parts = buf.split(b"\r\n")
    n = len(parts)
    k = (n - 2) >> 1
    if 0 < k < 100 and not n & 1 and parts[0] == _ARRAY_HEADERS[k] and not parts[-1]:
        bh = _BULK_HEADERS
        # each header against the canonical one of its argument's length: GET's and SET's
        # two and three unrolled (0.78 -> 0.40 us for a GET), a loop beyond (not a map: 0.25
        # us less for 5 arguments)
        if k == 2:
            a, b = parts[2], parts[4]
            return [a, b] if parts[1] == bh[len(a)] and parts[3] == bh[len(b)] else None
        if k == 3:
            a, b, c = parts[2], parts[4], parts[6]
            return [a, b, c] if parts[1] == bh[len(a)] and parts[3] == bh[len(b)] and parts[5] == bh[len(c)] else None
        argv = parts[2::2]
        i = 1
        for a in argv:
            if parts[i] != bh[len(a)]:
                return None
            i += 2
        return argv
    return None


def _string2ll(s: bytes) -> int | None:
    """util.c string2ll: canonical decimal within a signed 64-bit integer, else None."""
    if s.isdigit():
        if s[0] == 48 and len(s) > 1:
            return None
        v = int(s)
        return v if v <= LLONG_MAX else None
    if s[:1] == b"-" and s[1:].isdigit() and s[1] != 48:
        v = -int(s[1:])
        return v if v >= LLONG_MIN else None
    return None


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


class RequestParser:
    """One client's query buffer and the request being assembled from it.

    :meth:`feed` appends what was read; :meth:`next_request` returns the next complete
    request, None when more bytes are needed, or raises :class:`ProtocolError`.
    """

    __slots__ = ("_buf", "_pos", "_big", "_big_len", "_mbulk", "_bulklen", "_argv", "argv_len_sum", "_error",
                 "_last_read", "_last_argv")

    def __init__(self) -> None:
        self._buf = b""
        self._pos = 0
        self._big: list[bytes] | None = None  # chunks of a big bulk still incomplete
        self._big_len = 0
        self._mbulk = 0  # arguments still expected by the current multibulk request
        self._bulklen = -1  # length of the bulk being read, -1 before its header
        self._argv: list[bytes] = []
        self.argv_len_sum = 0  # bytes of the arguments already parsed (CLIENT LIST argv-mem)
        self._error: ProtocolError | None = None  # met after requests that must run first
        self._last_read = b""  # take_one's last read of _MEMO_ARGS arguments or more
        self._last_argv: tuple[bytes, ...] | None = None  # its arguments, once it came twice in a row

    def feed(self, data: bytes) -> int:
        """Append what was read; return :attr:`held` (what client-query-buffer-limit bounds)."""
        big = self._big
        if big is not None:
            big.append(data)
            self._big_len += len(data)
            if self._big_len >= self._bulklen + 2:
                self._buf = b"".join(big)
                self._pos = 0
                self._big = None
                self._big_len = 0
            return len(self._buf) - self._pos + self._big_len + self.argv_len_sum
        if self._pos:
            self._buf = self._buf[self._pos:] + data
            self._pos = 0
        elif self._buf:
            self._buf += data
        else:
            self._buf = data
        return len(self._buf) + self.argv_len_sum

    @property
    def qbuf(self) -> int:
        """Unparsed bytes held (CLIENT LIST qbuf)."""
        return len(self._buf) - self._pos + self._big_len

    @property
    def held(self) -> int:
        """Everything the client holds in the server: unparsed bytes and the parsed arguments of
        the incomplete request (what client-query-buffer-limit bounds)."""
        return len(self._buf) - self._pos + self._big_len + self.argv_len_sum

    @property
    def at_boundary(self) -> bool:
        """True between requests with nothing buffered."""
        return self._mbulk == 0 and len(self._buf) == self._pos and self._big is None

    def take_one(self, data: bytes, max_bulk: int) -> list[bytes] | None:
        """A read's arguments without buffering it, when nothing is held and ``data`` is exactly
        one small canonical request (``-P 1``'s every read); else None and nothing changes
        (the caller then feeds it).  For an authenticated client only: the unauthenticated
        limits are checked by :meth:`next_request`.

        A read byte for byte equal to the last one of ``_MEMO_ARGS`` arguments or more gets its
        arguments again without a parse (a consumer polling with one XREADGROUP, a counter
        bumped with one BITFIELD: 1.3 us of checks for 9 arguments, 0.1 us to copy), the same
        bytes objects, so their hashes are computed once too.  The arguments are only copied
        once the read came twice in a row, so requests that differ each time (XADD of new
        entries) pay one comparison and one reference.  Requests of fewer arguments (GET, SET)
        parse in less than it costs to remember them and are not kept."""
        if self._buf or self._big is not None or self._error is not None or len(data) >= _SMALL_READ or max_bulk < _WINDOW:
            return None
        if data == self._last_read:
            kept = self._last_argv
            if kept is not None:
                return list(kept)
            argv = _one_canonical_request(data)
            if argv is not None:  # the second time in a row: worth a copy (the dispatcher may rewrite argv[0])
                self._last_argv = tuple(argv)
            return argv
        argv = _one_canonical_request(data)
        if argv is not None and len(argv) >= _MEMO_ARGS:
            self._last_read = data
            self._last_argv = None
        return argv

    def has_pending(self) -> bool:
        """Bytes (or an error to report) are buffered, possibly complete requests not yet returned."""
        return len(self._buf) > self._pos or self._big is not None or self._error is not None

    def parse_batch(self, max_bulk: int, authenticated: bool, limit: int) -> list[list[bytes]]:
        """Up to ``limit`` complete requests (an empty list when more bytes are needed).

        The common case, an authenticated client's well-formed multibulk requests, is parsed by
        hiredis's Reader out of a 64 KiB window (:meth:`_reader_requests`: ten times cheaper
        than walking the headers in Python) and kept only where it is provably what Redis
        would parse; anything else (inline requests, a header that is not canonical, a big
        array, a request cut by the read, a big or unauthenticated argument, an error) goes
        through :meth:`next_request`, which is networking.c's parser and checks every limit on
        the header, for a few requests before the Reader is tried again.  A protocol error met
        after some requests is raised on the next call, once those requests have run.
        """
        if self._error is not None:
            e, self._error = self._error, None
            raise e
        buf = self._buf
        if self._pos >= len(buf) and not self._mbulk and self._big is None:
            return []  # nothing buffered: the common second call after a read's requests ran
        if authenticated and len(buf) < _SMALL_READ and not self._pos and not self._mbulk and max_bulk >= _WINDOW:
            argv = _one_canonical_request(buf)
            if argv is not None:
                self._buf = b""
                return [argv]
        out: list[list[bytes]] = []
        try:
            while len(out) < limit:
                if authenticated and self._big is None and max_bulk >= _WINDOW:
                    if self._mbulk:  # a request left incomplete by the last read: finish it alone
                        req = self.next_request(max_bulk, authenticated)
                        if req is None:
                            return out
                        out.append(req)
                        continue
                    if len(self._buf) - self._pos >= _SMALL_READ:  # (below: the exact parser is cheaper)
                        progressed = self._reader_requests(out, limit)
                        if len(out) >= limit:
                            break
                        if progressed and len(self._buf) - self._pos >= _WINDOW // 2:
                            continue  # the window ended: parse the next one
                for _ in range(_EXACT_RUN):
                    if not self._buf:
                        return out  # all consumed (next_request leaves b"" then): nothing to parse
                    req = self.next_request(max_bulk, authenticated)
                    if req is None:
                        return out
                    out.append(req)
                    if not authenticated or len(out) >= limit:
                        return out  # (AUTH may change the limits for the next request)
        except ProtocolError as e:
            if not out:
                raise
            self._error = e
        return out

    def _reader_requests(self, out: list[list[bytes]], limit: int) -> bool:
        """parse_batch's fast path: append the complete requests at the head of the window as
        hiredis's Reader parses them, return whether any was.

        hiredis preallocates a list of the announced size on an aggregate header, so the window
        handed to it ends before the first aggregate marker (``*%~>|``, wherever it is, payloads
        included) followed by three digits: no header it sees announces 100 elements or more.
        Nested headers (``*99\\r\\n`` repeated) could still make it hold one such list per
        level, up to its nesting limit: ~0.9 MB at most, freed with the Reader before this
        returns, so it never accumulates across clients (with a 1000-element cap it would be
        8 MB).  Bulk headers decide no allocation in hiredis (it slices a bulk once all of its
        bytes are there), and the window holds no more than 64 KiB.  What hiredis accepts is then only kept if the
        canonical encoding of the requests it returned is byte for byte the head of the window:
        that proves every header was a canonical ``*N`` / ``$N`` line and every element a bulk,
        so the requests are exactly what :meth:`next_request` would have returned; the first
        one that is not (inline, ``*0``, ``+str``, a non-canonical count, an error...) and all
        after it are left to :meth:`next_request`."""
        buf = self._buf
        pos = self._pos
        if len(buf) - pos < _SMALL_READ:
            return False  # a read of one or two small requests: the exact parser is cheaper
        end = min(len(buf), pos + _WINDOW)
        m = _BIG_ARRAY.search(buf, pos, end)
        if m is not None:
            end = m.start()
        for c in _OTHER_AGGREGATES:  # rare in requests: a memchr each before any regex
            if buf.find(c, pos, end) >= 0:
                m = _BIG_AGGREGATE.search(buf, pos, end)
                if m is not None:
                    end = m.start()
                break
        if end - pos < 4:
            return False
        reader = hiredis.Reader()
        reader.feed(buf, pos, end - pos)
        reqs: list[list[bytes]] = []
        room = limit - len(out)
        try:
            while room:
                req = reader.gets()
                if type(req) is not list or not req:
                    break  # False (incomplete), None (*-1), [] (*0) or not an array
                reqs.append(req)
                room -= 1
        except hiredis.ProtocolError:
            pass  # what came before the error is kept (if canonical); the rest goes the exact way
        if not reqs:
            return False
        try:
            enc = _canonical(reqs)
        except (TypeError, IndexError):  # an element that is not a bulk (IndexError: never)
            enc = b""
        if enc and buf.startswith(enc, pos):
            out.extend(reqs)
            used = len(enc)
        else:
            used = 0
            for r in reqs:
                if not all(type(a) is bytes for a in r):
                    break
                one = b"*%d\r\n%s" % (len(r), b"".join([b"$%d\r\n%s\r\n" % (len(a), a) for a in r]))
                if not buf.startswith(one, pos + used):
                    break
                out.append(r)
                used += len(one)
            if not used:
                return False
        pos += used
        if pos >= len(buf):
            self._buf = b""
            self._pos = 0
        else:
            self._pos = pos
        return True

    def _suspend(self, mbulk: int, bulklen: int, argv: list[bytes]) -> None:
        """Keep the state of a request that needs more bytes."""
        self._mbulk = mbulk
        self._bulklen = bulklen
        self._argv = argv
        self.argv_len_sum = sum(map(len, argv))

    def next_request(self, max_bulk: int, authenticated: bool) -> list[bytes] | None:
        if self._big is not None:
            return None
        buf = self._buf
        pos = self._pos
        n = len(buf)
        try:
            while True:
                if self._mbulk == 0:
                    if pos >= n:
                        return None
                    if buf[pos] != 42:  # not '*': an inline request
                        nl = buf.find(b"\n", pos)
                        if nl < 0:
                            if n - pos > INLINE_MAX_SIZE:
                                raise ProtocolError("too big inline request")
                            return None
                        end = nl - 1 if nl > pos and buf[nl - 1] == 13 else nl
                        argv = split_inline(buf[pos:end])
                        if argv is None:
                            raise ProtocolError("unbalanced quotes in request")
                        pos = nl + 1
                        if argv:
                            return argv
                        continue
                    r = buf.find(b"\r", pos)
                    if r < 0:
                        if n - pos > INLINE_MAX_SIZE:
                            raise ProtocolError("too big mbulk count string")
                        return None
                    if r > n - 2:  # the byte after '\r' has not arrived yet
                        return None
                    ll = _string2ll(buf[pos + 1:r])
                    if ll is None or ll > _INT_MAX:
                        raise ProtocolError("invalid multibulk length")
                    if ll > UNAUTH_MAX_MULTIBULK and not authenticated:
                        raise ProtocolError("unauthenticated multibulk length")
                    pos = r + 2
                    if ll <= 0:
                        continue  # *0, *-1: no command, the next request runs
                    self._mbulk = ll
                mbulk = self._mbulk
                bulklen = self._bulklen
                argv = self._argv
                while mbulk:
                    if bulklen == -1:
                        r = buf.find(b"\r", pos)
                        if r < 0:
                            if n - pos > INLINE_MAX_SIZE:
                                raise ProtocolError("too big bulk count string")
                            self._suspend(mbulk, bulklen, argv)
                            return None
                        if r > n - 2:
                            self._suspend(mbulk, bulklen, argv)
                            return None
                        if buf[pos] != 36:  # '$'
                            raise ProtocolError(f"expected '$', got '{chr(buf[pos])}'")
                        digits = buf[pos + 1:r]
                        # string2ll, non-negative branch: canonical digits only ("$-1" is refused too)
                        if not digits.isdigit() or (digits[0] == 48 and r - pos > 2):
                            raise ProtocolError("invalid bulk length")
                        bulklen = int(digits)
                        if bulklen > max_bulk:
                            raise ProtocolError("invalid bulk length")
                        if bulklen > UNAUTH_MAX_BULK and not authenticated:
                            raise ProtocolError("unauthenticated bulk length")
                        pos = r + 2
                    if n - pos < bulklen + 2:
                        self._suspend(mbulk, bulklen, argv)
                        if bulklen >= MBULK_BIG_ARG:
                            # Gather the rest of this bulk as chunks (joined once, in feed()).
                            rest = buf[pos:]
                            self._big = [rest]
                            self._big_len = len(rest)
                            buf = b""
                            pos = n = 0
                        return None
                    argv.append(buf[pos:pos + bulklen])
                    pos += bulklen + 2
                    bulklen = -1
                    mbulk -= 1
                self._mbulk = 0
                self._bulklen = -1
                self._argv = []
                self.argv_len_sum = 0
                return argv
        finally:
            if pos >= n:
                self._buf = b""
                self._pos = 0
            else:
                self._buf = buf
                self._pos = pos
