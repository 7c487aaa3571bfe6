"""The cheap common case of dispatch (processCommand/call) keeps what the slow path did: a
command row found by the name as sent (table.BY_NAME), the latency histogram recorded inline,
alsoPropagate dropped when there is no AOF.  A real Server in-process, no socket.
Tolerance: none (exact counts and identities)."""

from __future__ import annotations

import engine.commands  # noqa: F401 - fills the command table
from engine import dispatch
from engine.client import Client
from engine.errors import RedisError
from engine.server import Server
from engine.table import BY_NAME, COMMANDS, command


def _client() -> tuple[Server, Client]:
    server = Server()
    return server, Client(server)


def test_every_spelling_finds_the_same_row_and_the_cache_is_bounded() -> None:
    server, c = _client()
    for name in (b"SET", b"set", b"SeT"):
        assert dispatch.process_command(c, [name, b"k", b"v"]) == "OK"
        assert BY_NAME[name] is COMMANDS[b"set"]
    reply = dispatch.process_command(c, [b"NoSuchCommand", b"x"])
    assert isinstance(reply, RedisError) and b"NoSuchCommand" not in BY_NAME
    # Each case variant of a long name is a spelling of its own (13 letters: 8192 of them):
    # they all run, and the cache stops growing at its bound.
    name = b"zrangebyscore"
    calls = COMMANDS[name].calls
    count = dispatch._BY_NAME_MAX + 100
    for i in range(count):
        spelled = bytes(ch - 32 if (i >> j) & 1 else ch for j, ch in enumerate(name))
        assert dispatch.process_command(c, [spelled, b"z", b"0", b"1"]) == []
    assert len(BY_NAME) == dispatch._BY_NAME_MAX
    assert COMMANDS[name].calls - calls == count
    BY_NAME.clear()  # (a full cache would only slow the tests that follow)


def test_registering_a_row_empties_the_cache() -> None:
    _, c = _client()
    name = b"cachelab-test-echo"

    @command(name.decode(), arity=2)
    def first(ctx: Client, arg: bytes) -> bytes:
        return b"first:" + arg

    try:
        assert dispatch.process_command(c, [name, b"x"]) == b"first:x"
        assert name in BY_NAME

        @command(name.decode(), arity=2)
        def second(ctx: Client, arg: bytes) -> bytes:
            return b"second:" + arg

        assert name not in BY_NAME  # the registration dropped the old row's spellings
        assert dispatch.process_command(c, [name, b"x"]) == b"second:x"
    finally:
        del COMMANDS[name]
        BY_NAME.clear()


def test_latency_histogram_counts_every_call() -> None:
    server, c = _client()
    server.latency.configure(True, 0)
    n = 300
    for i in range(n):
        dispatch.process_command(c, [b"INCR", b"n%d" % (i % 7)])
    hist = server.latency.hists[COMMANDS[b"incr"]]
    assert sum(hist.values()) == n


def test_also_propagate_is_dropped_without_an_aof() -> None:
    server, c = _client()
    assert server.persistence.aof_file is None
    dispatch.process_command(c, [b"SADD", b"s", b"a", b"b", b"c"])
    dispatch.process_command(c, [b"SPOP", b"s"])  # hands SREM to alsoPropagate
    assert c.also_propagate is None
    dispatch.process_command(c, [b"SET", b"k", b"v"])
    assert c.also_propagate is None
