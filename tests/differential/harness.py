"""The differential harness: send the same commands to the engine and to a real redis-server
and compare the raw replies.

Both servers are spoken to through :class:`RawClient`, a plain RESP socket client whose
replies keep their wire type (``+OK`` is not ``$2 OK``, ``:1`` is not ``#t``), so a formatting
difference shows as a mismatch.  :func:`compare` runs a list of commands on both and raises
an ``AssertionError`` naming the first command whose replies differ.

Replies are compared exactly, except where Redis itself leaves freedom:

* unordered replies (KEYS, SMEMBERS, HKEYS, HVALS, HGETALL in RESP2, ...) are compared as
  multisets (:data:`UNORDERED`, :data:`UNORDERED_PAIRS`);
* SCAN-family commands are iterated to the end on each server and the collected elements
  compared as sets (cursors are implementation details; :data:`SCANS`);
* random commands (RANDOMKEY, HRANDFIELD, SRANDMEMBER, SPOP, ...) are compared by shape and
  membership only (:data:`RANDOM`);
* time-dependent integers (TTL, PTTL, EXPIRETIME, ...) are compared with a tolerance equal
  to the wall-clock time the sequence has taken so far, since the two servers run each
  command at slightly different instants (:data:`TIMED`).

Other families extend these tables (or :data:`NORMALIZERS`) from their own test modules::

    from tests.differential.harness import UNORDERED, compare, pair
    UNORDERED.add("sinter")
    def test_sets(raw_pair):
        compare(*raw_pair, [("sadd", "s", "a", "b"), ("smembers", "s")])
"""

from __future__ import annotations

import socket
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Reply",
    "RawClient",
    "RedisErrorReply",
    "compare",
    "run",
    "pair",
    "UNORDERED",
    "UNORDERED_PAIRS",
    "SCANS",
    "RANDOM",
    "TIMED",
    "NORMALIZERS",
    "Mismatch",
    "compare_decoded",
    "acompare_decoded",
]

Arg = bytes | str | int | float
Command = Sequence[Arg]


@dataclass(frozen=True)
class Reply:
    """One RESP reply with its wire type: ``kind`` is the type byte (``+ - : $ * % ~ , # _ = > (``
    or ``$-1``/``*-1`` nulls as ``"nil"``/``"nilarray"``) and ``value`` the payload (a tuple
    of Replies for aggregates, a tuple of (key, value) pairs for maps)."""

    kind: str
    value: Any

    def __repr__(self) -> str:
        return f"{self.kind}{self.value!r}"


class RedisErrorReply(Reply):
    pass


class RawClient:
    """A blocking RESP2/RESP3 client over one TCP socket that returns :class:`Reply` trees."""

    def __init__(self, port: int, host: str = "127.0.0.1", resp: int = 2, timeout_s: float = 10.0) -> None:
        self.port = port
        self.sock = socket.create_connection((host, port), timeout=timeout_s)
        self.buf = bytearray()
        self.resp = 2
        if resp == 3:
            reply = self.call("HELLO", "3")
            assert reply.kind == "%", reply
            self.resp = 3

    def close(self) -> None:
        self.sock.close()

    # -- wire --------------------------------------------------------------------------------
    @staticmethod
    def encode(args: Command) -> bytes:
        parts = [b"*%d\r\n" % len(args)]
        for a in args:
            b = a if isinstance(a, bytes) else str(a).encode()
            parts.append(b"$%d\r\n%s\r\n" % (len(b), b))
        return b"".join(parts)

    def send(self, *args: Arg) -> None:
        self.sock.sendall(self.encode(args))

    def call(self, *args: Arg) -> Reply:
        self.send(*args)
        return self.read()

    def _line(self) -> bytes:
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line = bytes(self.buf[:i])
                del self.buf[: i + 2]
                return line
            self._fill()

    def _exact(self, n: int) -> bytes:
        while len(self.buf) < n + 2:
            self._fill()
        data = bytes(self.buf[:n])
        del self.buf[: n + 2]
        return data

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"server on port {self.port} closed the connection")
        self.buf += chunk

    def read(self) -> Reply:
        line = self._line()
        kind, rest = chr(line[0]), line[1:]
        if kind in "+":
            return Reply("+", rest)
        if kind == "-":
            return RedisErrorReply("-", rest)
        if kind in ":(":
            return Reply(kind, int(rest))
        if kind == ",":
            return Reply(",", rest)
        if kind == "#":
            return Reply("#", rest == b"t")
        if kind == "_":
            return Reply("_", None)
        if kind in "$=!":
            n = int(rest)
            if n < 0:
                return Reply("nil", None)
            return Reply(kind, self._exact(n))
        if kind in "*~>":
            n = int(rest)
            if n < 0:
                return Reply("nilarray", None)
            return Reply(kind, tuple(self.read() for _ in range(n)))
        if kind in "%|":
            n = int(rest)
            return Reply(kind, tuple((self.read(), self.read()) for _ in range(n)))
        raise ValueError(f"unknown RESP type {line!r}")


# -- normalisation tables --------------------------------------------------------------------
#: Commands whose array reply has no defined order: compared as multisets.
UNORDERED: set[str] = {"keys", "hkeys", "hvals", "smembers", "sunion", "sinter", "sdiff", "object|help"}
#: Commands whose flat RESP2 array is field/value pairs in no defined order.
UNORDERED_PAIRS: set[str] = {"hgetall", "config|get"}
#: Cursor commands: iterated to cursor 0 and compared by collected elements (index of the
#: cursor argument, and whether elements come in pairs).
SCANS: dict[str, tuple[int, bool]] = {"scan": (1, False), "hscan": (2, True), "sscan": (2, False), "zscan": (2, True)}
#: Random commands: only the reply's shape (kind and length) and error text are compared.
RANDOM: set[str] = {"randomkey", "hrandfield", "srandmember", "spop", "zrandmember"}
#: Time-dependent integer replies and the unit of each (ms per unit).
TIMED: dict[str, int] = {"ttl": 1000, "pttl": 1, "expiretime": 1000, "pexpiretime": 1, "object|idletime": 1000}
#: Extra normalisers, by command name: ``fn(command, reply) -> comparable``.
NORMALIZERS: dict[str, Callable[[Command, Reply], Any]] = {}


class Mismatch(AssertionError):
    pass


def _name(cmd: Command) -> str:
    head = _text(cmd[0]).lower()
    if head in ("object", "config", "client", "memory", "script", "function", "command") and len(cmd) > 1:
        return f"{head}|{_text(cmd[1]).lower()}"
    return head


def _text(a: Arg) -> str:
    return a.decode("utf-8", "replace") if isinstance(a, bytes) else str(a)


def _multiset(items: Any) -> Counter[Any]:
    return Counter(items)


def _shape(reply: Reply) -> Any:
    if reply.kind in ("*", "~", ">"):
        return (reply.kind, len(reply.value), tuple(sorted({_shape(r) for r in reply.value}, key=repr)))
    if reply.kind in ("%",):
        return (reply.kind, len(reply.value))
    if reply.kind == "-":
        return reply
    return reply.kind


def normalize(cmd: Command, reply: Reply,
              extra: Mapping[str, Callable[[Command, Reply], Any]] | None = None) -> Any:
    """The comparable form of ``reply`` to ``cmd`` (errors always compare exactly); ``extra``
    normalisers (by command name) take precedence over :data:`NORMALIZERS`."""
    if reply.kind == "-":
        return reply
    name = _name(cmd)
    fn = (extra or {}).get(name) or NORMALIZERS.get(name)
    if fn is not None:
        return fn(cmd, reply)
    if name in RANDOM:
        return _shape(reply)
    if reply.kind == "%":
        return ("%", _multiset(reply.value))
    if name in UNORDERED and reply.kind in ("*", "~"):
        return (reply.kind, _multiset(reply.value))
    if name in UNORDERED_PAIRS and reply.kind == "*":
        v = reply.value
        return ("*pairs", _multiset(zip(v[::2], v[1::2], strict=True)))
    if reply.kind == "~":
        return ("~", _multiset(reply.value))
    return reply


def _scan_all(client: RawClient, cmd: Command) -> Reply | tuple[str, Counter[Any]]:
    """Iterate a SCAN-family command from its cursor to 0 (bounded); the elements as a set."""
    at, pairs = SCANS[_name(cmd)]
    args = list(cmd)
    seen: set[Any] = set()
    for _ in range(100_000):
        reply = client.call(*args)
        if reply.kind != "*":
            return reply
        cursor, items = reply.value
        values = items.value
        if pairs:
            seen.update(zip(values[::2], values[1::2], strict=True))
        else:
            seen.update(values)
        if cursor.value == b"0":
            return ("scan", Counter(seen))
        args[at] = cursor.value
    raise AssertionError(f"{_text(cmd[0])} did not finish within 100000 calls")


def _timed_equal(name: str, a: Reply, b: Reply, elapsed_ms: float) -> bool:
    """TTL-like integers agree within the sequence's elapsed time (+1 unit for rounding)."""
    if a.kind != b.kind or a.kind not in (":",):
        return a == b
    if a.value < 0 or b.value < 0:
        return a.value == b.value
    unit = TIMED[name]
    return abs(a.value - b.value) <= elapsed_ms / unit + 1


def run(client: RawClient, cmd: Command) -> Any:
    """One command on one server, normalised for comparison."""
    if _name(cmd) in SCANS:
        return _scan_all(client, cmd)
    return normalize(cmd, client.call(*cmd))


def _normalize_exec(queued: list[Command], reply: Reply,
                    extra: Mapping[str, Callable[[Command, Reply], Any]] | None = None) -> Any:
    """EXEC's array holds one reply per queued command: normalise each by its command."""
    if reply.kind != "*" or len(reply.value) != len(queued):
        return reply
    return ("exec", tuple(normalize(c, r, extra) for c, r in zip(queued, reply.value, strict=True)))


def compare(engine: RawClient, redis: RawClient, commands: Sequence[Command], *, context: str = "",
            normalizers: Mapping[str, Callable[[Command, Reply], Any]] | None = None,
            after: Callable[[Command, RawClient, RawClient], None] | None = None) -> None:
    """Run ``commands`` on both servers in order; raise :class:`Mismatch` at the first
    command whose replies differ (after normalisation), showing the sequence up to it.

    Inside MULTI ... EXEC the queued commands are remembered, so the EXEC reply is compared
    element by element with each command's own rule (a SCAN inside MULTI is compared as one
    call, cursor included).  ``normalizers`` add rules for this call only (the fuzz's), on top
    of :data:`NORMALIZERS`; ``after(command, engine, redis)`` runs once both servers have
    executed a command (for EXEC, once per queued command), for example to bring a value a
    random command changed back to the same state on both."""
    start = time.monotonic()
    queued: list[Command] | None = None
    for i, cmd in enumerate(commands):
        name = _name(cmd)
        a: Any
        b: Any
        if queued is not None and name not in ("exec", "discard", "multi"):
            queued.append(cmd)
            a, b = engine.call(*cmd), redis.call(*cmd)
            same = a == b
        elif name == "exec" and queued is not None:
            a = _normalize_exec(queued, engine.call(*cmd), normalizers)
            b = _normalize_exec(queued, redis.call(*cmd), normalizers)
            same = a == b
            for done in queued if after is not None else ():
                after(done, engine, redis)
            queued = None
        elif name in SCANS:
            a, b = _scan_all(engine, cmd), _scan_all(redis, cmd)
            same = a == b
        else:
            ra, rb = engine.call(*cmd), redis.call(*cmd)
            if name in TIMED and not (normalizers and name in normalizers):
                same = _timed_equal(name, ra, rb, (time.monotonic() - start) * 1000)
                a, b = ra, rb
            else:
                a, b = normalize(cmd, ra, normalizers), normalize(cmd, rb, normalizers)
                same = a == b
            if name == "multi" and queued is None and ra.kind == "+":
                queued = []
            elif name == "discard":
                queued = None
            elif after is not None and queued is None:
                after(cmd, engine, redis)
        if not same:
            shown = "\n".join(f"  {j}: {' '.join(_text(x) for x in c)}" for j, c in enumerate(commands[: i + 1]))
            raise Mismatch(
                f"{context}reply to command {i} differs (resp{engine.resp})\n{shown}\n"
                f"  engine: {a!r}\n  redis:  {b!r}"
            )


@contextmanager
def pair(engine_port: int, redis_port: int, resp: int = 2) -> Iterator[tuple[RawClient, RawClient]]:
    """Two raw clients (engine, redis) on freshly flushed servers; both closed afterwards."""
    e = RawClient(engine_port, resp=resp)
    r = RawClient(redis_port, resp=resp)
    try:
        for c in (e, r):
            c.call("FLUSHALL")
        yield e, r
    finally:
        e.close()
        r.close()


# -- through redis-py ------------------------------------------------------------------------
# The same comparison one level up: replies as redis-py decodes them (response callbacks
# applied), for the sync and the asyncio client, so a reply that is byte-different but
# decodes the same passes, and a reply redis-py cannot decode from the engine shows.

def _decoded(name: str, outcome: Any) -> Any:
    if isinstance(outcome, Exception):
        return ("error", type(outcome).__name__, str(outcome))
    if name in RANDOM or name in SCANS:
        size = len(outcome) if isinstance(outcome, (list, tuple, dict, set)) else None
        return ("shape", type(outcome).__name__, size)
    if name in UNORDERED and isinstance(outcome, list):
        return ("multiset", Counter(repr(x) for x in outcome))
    return outcome


def _decoded_equal(name: str, a: Any, b: Any, elapsed_ms: float) -> bool:
    if name in TIMED and type(a) is int and type(b) is int and a >= 0 and b >= 0:
        return abs(a - b) <= elapsed_ms / TIMED[name] + 1
    return _decoded(name, a) == _decoded(name, b)


def _mismatch_decoded(commands: Sequence[Command], i: int, a: Any, b: Any, how: str) -> Mismatch:
    shown = "\n".join(f"  {j}: {' '.join(_text(x) for x in c)}" for j, c in enumerate(commands[: i + 1]))
    return Mismatch(f"{how}: decoded reply to command {i} differs\n{shown}\n  engine: {a!r}\n  redis:  {b!r}")


def compare_decoded(engine: Any, redis: Any, commands: Sequence[Command]) -> None:
    """Like :func:`compare`, for two redis-py ``Redis`` clients (``execute_command``)."""
    start = time.monotonic()
    for i, cmd in enumerate(commands):
        outcomes = []
        for client in (engine, redis):
            try:
                outcomes.append(client.execute_command(*cmd))
            except Exception as e:  # noqa: BLE001 - an error reply is an outcome to compare
                outcomes.append(e)
        if not _decoded_equal(_name(cmd), outcomes[0], outcomes[1], (time.monotonic() - start) * 1000):
            raise _mismatch_decoded(commands, i, outcomes[0], outcomes[1], "redis-py")


async def acompare_decoded(engine: Any, redis: Any, commands: Sequence[Command]) -> None:
    """Like :func:`compare_decoded`, for two ``redis.asyncio.Redis`` clients."""
    start = time.monotonic()
    for i, cmd in enumerate(commands):
        outcomes = []
        for client in (engine, redis):
            try:
                outcomes.append(await client.execute_command(*cmd))
            except Exception as e:  # noqa: BLE001 - an error reply is an outcome to compare
                outcomes.append(e)
        if not _decoded_equal(_name(cmd), outcomes[0], outcomes[1], (time.monotonic() - start) * 1000):
            raise _mismatch_decoded(commands, i, outcomes[0], outcomes[1], "redis.asyncio")
