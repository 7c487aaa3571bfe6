"""RequestParser.parse_batch's fast path (hiredis's Reader on a checked window) parses exactly
what the networking.c port (next_request, proven against redis-server in
tests/engine/security/test_protocol_parser.py) parses, and lets no header make hiredis allocate.

Tolerance: equality, request for request and error for error, for every seeded stream; the
allocation bound (4 MB of traced peak) is far above what parsing a few KB costs (and the
~0.9 MB of nested 99-element headers hiredis may see) and far below the 80 MB list a
ten-million-element header, or the 8 MB of nested 999-element ones, would have made hiredis
build."""

from __future__ import annotations

import random
import tracemalloc

import pytest

from engine.errors import ProtocolError
from engine.request import RequestParser, _canonical

MAX_BULK = 512 * 1024 * 1024


def enc(*args: bytes) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


VALID = [
    enc(b"GET", b"key:000001"),
    enc(b"SET", b"key:000002", b"v" * 100),
    enc(b"ECHO", b"a\r\nb\r\n"),  # payload holding CRLF
    enc(b"ECHO", b""),
    enc(b"MSET", *[b"k%d" % i for i in range(1200)]),  # 1200 arguments: a big array header
    enc(b"SET", b"big", b"x" * 40000),  # over PROTO_MBULK_BIG_ARG
    enc(b"ECHO", b"*9999\r\n~12345"),  # payload that reads like big aggregate headers
    b"PING\r\n",  # inline
    b"\r\n",
    b"*0\r\n",
    b"*-1\r\n",
    b"*2\r\n$4\r\nECHO\r\n$1\r\nabc\r\n",  # the bulk's CRLF skipped unchecked
]
BAD = [
    b"*1\r\n+PING\r\n",
    b"*2\r\n$4\r\nECHO\r\n:5\r\n",
    b"*1\r\n*1\r\n$1\r\na\r\n",
    b"*01\r\n$4\r\nPING\r\n",
    b"*1\r\n$04\r\nPING\r\n",
    b"*2\r\n$4\r\nECHO\r\n$-1\r\n",
    b"*1\r\n%1\r\n$1\r\na\r\n:1\r\n",
    b"*x\rfoo",
    b"*1\r\n$600000000\r\nabc",
]


def drain_exact(p: RequestParser, got: list[object]) -> bool:
    """next_request alone; False once a protocol error was recorded."""
    while True:
        try:
            req = p.next_request(MAX_BULK, True)
        except ProtocolError as e:
            got.append(("error", str(e)))
            return False
        if req is None:
            return True
        got.append(req)


def drain_batch(p: RequestParser, got: list[object], rng: random.Random) -> bool:
    while True:
        try:
            batch = p.parse_batch(MAX_BULK, True, rng.randint(1, 600))
        except ProtocolError as e:
            got.append(("error", str(e)))
            return False
        if not batch:
            return True
        got.extend(batch)


@pytest.mark.parametrize("seed", range(60))
def test_fast_path_parses_what_networking_c_parses(seed: int) -> None:
    rng = random.Random(seed)
    items = [rng.choice(VALID) if rng.random() < 0.8 else VALID[0] for _ in range(rng.randint(1, 40))]
    if seed % 3:
        items.insert(rng.randint(0, len(items)), rng.choice(BAD))
    stream = b"".join(items)
    cuts = sorted(rng.sample(range(1, len(stream)), min(len(stream) - 1, rng.randint(0, 8))))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    exact, fast = RequestParser(), RequestParser()
    want: list[object] = []
    got: list[object] = []
    ok_exact = ok_fast = True
    for chunk in chunks:
        if ok_exact:
            exact.feed(chunk)
            ok_exact = drain_exact(exact, want)
        if ok_fast:
            fast.feed(chunk)
            ok_fast = drain_batch(fast, got, rng)
        assert got == want
        if ok_exact:
            assert fast.held == exact.held  # what client-query-buffer-limit measures
    assert ok_fast == ok_exact


HEADERS = [
    b"*10000000\r\n",
    b"~10000000\r\n",
    b">10000000\r\n",
    b"*1\r\n*10000000\r\n",
    b"*2\r\n$1\r\na\r\n*10000000\r\n",
    b"*999\r\n" * 10000,  # nested: one list per level, up to hiredis's nesting limit (8 MB)
    b"*99\r\n" * 10000,  # what may reach hiredis: ~0.9 MB
]


@pytest.mark.parametrize("header", HEADERS, ids=lambda h: repr(h[:24]))
def test_fast_path_window_stops_before_a_big_aggregate_header(header: bytes) -> None:
    """Well-formed requests, then a header announcing ten million elements, or deeply nested
    headers: the requests are returned and nothing of the headers' size is allocated (hiredis
    would build the lists)."""
    p = RequestParser()
    p.feed(enc(b"GET", b"k") * 50 + header + b"$1\r\na\r\n")
    tracemalloc.start()
    try:
        reqs: list[list[bytes]] = []
        try:
            while batch := p.parse_batch(MAX_BULK, True, 512):
                reqs.extend(batch)
        except ProtocolError:
            pass  # nested or non-bulk elements are refused, as Redis does
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert reqs[:50] == [[b"GET", b"k"]] * 50
    assert peak < 4 * 1024 * 1024, f"peak {peak} bytes"


def test_canonical_encoding_of_what_hiredis_returned() -> None:
    """The check the fast path rests on: requests of one arity and of mixed arities encode as a
    client sends them (a wrong encoding would only send everything the slow way, unseen)."""
    same = [[b"GET", b"k%d" % i] for i in range(5)]
    mixed = [[b"PING"], [b"SET", b"k", b"v" * 2000], [b"ECHO", b""], [b"GET", b"a\r\nb"]]
    for reqs in (same, mixed):
        assert _canonical(reqs) == b"".join(enc(*r) for r in reqs)
    with pytest.raises(TypeError):
        _canonical([[b"ECHO", 5]])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        _canonical([[b"ECHO", [b"a"]], [b"GET", b"k"]])  # type: ignore[list-item]


@pytest.mark.parametrize("seed", range(20))
def test_one_small_read_parses_what_networking_c_parses(seed: int) -> None:
    """A read under 256 bytes holding one request takes _one_canonical_request's split check:
    the same requests and errors as the exact parser, for canonical requests (arguments with
    CR, LF, CRLF, '$' and '*' in them), the shipped good and bad inputs, cuts, two requests in
    one read, and single-byte corruptions of canonical ones."""
    rng = random.Random(seed)
    alphabet = [b"a", b"\r", b"\n", b"\r\n", b"$", b"*", b"1", b"0", b" ", b"-"]
    reads: list[bytes] = [v for v in VALID + BAD if len(v) < 256]
    for _ in range(300):
        args = [b"".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6))) for _ in range(rng.randint(1, 9))]
        req = enc(*args)
        r = rng.random()
        if r < 0.2:
            req = req[: rng.randint(1, len(req) - 1)]  # cut by the read
        elif r < 0.4:
            i = rng.randrange(len(req))
            req = req[:i] + rng.choice(b"*$\r\n0123456789ax").to_bytes(1, "big") + req[i + 1:]
        elif r < 0.5:
            req += enc(b"GET", b"k")
        reads.append(req)
    for data in reads:
        exact, fast = RequestParser(), RequestParser()
        want: list[object] = []
        got: list[object] = []
        exact.feed(data)
        fast.feed(data)
        ok_exact = drain_exact(exact, want)
        ok_fast = drain_batch(fast, got, rng)
        assert (got, ok_fast) == (want, ok_exact), data
        if ok_exact:
            assert fast.held == exact.held


def test_a_repeated_read_gets_its_arguments_again_unshared() -> None:
    """take_one remembers a read of four arguments or more: the same read again gets equal
    arguments in a list of its own (the dispatcher rewrites argv[0] of a renamed command), a
    different read is parsed, and a short request is not remembered."""
    p = RequestParser()
    xrg = enc(b"XREADGROUP", b"GROUP", b"g", b"c", b"COUNT", b"1", b"STREAMS", b"s", b">")
    for _ in range(2):  # (kept from the second time on)
        first = p.take_one(xrg, MAX_BULK)
        assert first == [b"XREADGROUP", b"GROUP", b"g", b"c", b"COUNT", b"1", b"STREAMS", b"s", b">"]
        first[0] = b"renamed"
    again = p.take_one(xrg, MAX_BULK)
    assert again == [b"XREADGROUP", b"GROUP", b"g", b"c", b"COUNT", b"1", b"STREAMS", b"s", b">"]
    assert again is not first
    other = enc(b"XREADGROUP", b"GROUP", b"g", b"d", b"COUNT", b"1", b"STREAMS", b"s", b">")
    assert p.take_one(other, MAX_BULK) == [b"XREADGROUP", b"GROUP", b"g", b"d", b"COUNT", b"1", b"STREAMS", b"s", b">"]
    assert p.take_one(xrg[:-1], MAX_BULK) is None  # cut: not this request, nothing taken
    get = enc(b"GET", b"k")
    assert p.take_one(get, MAX_BULK) == [b"GET", b"k"]
    assert p._last_read == other


def test_a_renamed_command_sent_twice_runs_twice() -> None:
    """The dispatcher rewrites argv[0] of a renamed command in place: a repeated read of it is
    still found under its new name the second time."""
    import redis

    from engine.server import EmbeddedServer

    eng = EmbeddedServer()
    eng.config.load('rename-command bitfield "bf-7f3a"\n', "renames.conf")
    with eng:
        c = redis.Redis.from_url(eng.url, single_connection_client=True)
        for want in (1, 2, 3):
            assert c.execute_command("bf-7f3a", "b", "INCRBY", "u8", "0", "1", "GET", "u8", "0") == [want, want]
        with pytest.raises(redis.ResponseError, match="unknown command"):
            c.execute_command("BITFIELD", "b", "INCRBY", "u8", "0", "1", "GET", "u8", "0")
