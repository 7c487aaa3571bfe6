"""Unit tests for the active expire cycle (expire.c) and processCommand/call (dispatch.py),
run on a real Server object in-process: no socket, so each check sees exactly one mechanism.

Tolerances come from activeExpireCycle's contract: it never deletes a key whose TTL has not
passed, and with every sampled key stale it keeps looping until the database holds no stale
key or the tick's time budget (25 % of 1/hz) runs out."""

from __future__ import annotations

import engine.commands  # noqa: F401 - fills the command table
from engine.client import Client
from engine.dispatch import process_command, resolve
from engine.errors import RedisError
from engine.expire import active_expire_cycle
from engine.protocol import QUEUED
from engine.server import Server
from engine.table import COMMANDS


def _server() -> tuple[Server, Client]:
    server = Server()
    return server, Client(server)


def _ok(client: Client, *argv: bytes) -> object:
    reply = process_command(client, list(argv))
    assert not isinstance(reply, RedisError), reply
    return reply


def test_active_expiry_removes_only_stale_keys() -> None:
    server, c = _server()
    db = server.dbs[0]
    now = server.now_ms()
    for i in range(500):
        _ok(c, b"set", b"stale%d" % i, b"v")
        db.set_expire(b"stale%d" % i, now - 1000)
    for i in range(500):
        _ok(c, b"set", b"live%d" % i, b"v")
        db.set_expire(b"live%d" % i, now + 3_600_000)
    _ok(c, b"set", b"forever", b"v")
    server.hz = 1  # a generous budget (250 ms) per cycle
    first = active_expire_cycle(server)
    # one cycle loops while more than 10 % of a sample was stale (and its time budget lasts),
    # so it removes many at once; how many depends on the machine's speed, not asserted
    assert first > 0
    removed = first
    for _ in range(5000):  # bounded: later cycles find few stale keys per 20-key sample
        if not any(k.startswith(b"stale") for k in db.expires):
            break
        removed += active_expire_cycle(server)
    assert removed == 500
    assert len(db) == 501
    assert all(k.startswith(b"live") for k in db.expires)


def test_active_expiry_with_nothing_volatile_is_a_no_op() -> None:
    server, c = _server()
    _ok(c, b"set", b"a", b"1")
    assert active_expire_cycle(server) == 0
    assert len(server.dbs[0]) == 1


def test_resolve_reports_unknown_commands_and_arity_in_redis_words() -> None:
    for argv, text in (
        ([b"nosuch", b"x"], "ERR unknown command 'nosuch', with args beginning with: 'x' "),
        ([b"get"], "ERR wrong number of arguments for 'get' command"),
        ([b"config", b"nosuch"], "ERR unknown subcommand 'nosuch'. Try CONFIG HELP."),
    ):
        try:
            resolve(argv)
        except RedisError as e:
            assert str(e) == text
        else:
            raise AssertionError(f"{argv} resolved")
    assert resolve([b"CONFIG", b"GET", b"maxmemory"]).fullname == "config|get"
    assert resolve([b"GeT", b"k"]) is COMMANDS[b"get"]


def test_process_command_counts_calls_and_failures() -> None:
    server, c = _server()
    row = COMMANDS[b"incr"]
    calls, failed = row.calls, row.failed_calls
    assert _ok(c, b"incr", b"n") == 1
    _ok(c, b"set", b"s", b"text")
    reply = process_command(c, [b"incr", b"s"])
    assert isinstance(reply, RedisError)
    assert row.calls == calls + 2 and row.failed_calls == failed + 1
    assert server.stats.total_commands_processed >= 3


def test_noauth_before_authentication() -> None:
    server, c = _server()
    _ok(c, b"config", b"set", b"requirepass", b"secret")
    stranger = Client(server)
    stranger.authenticated = False
    reply = process_command(stranger, [b"get", b"k"])
    assert isinstance(reply, RedisError) and str(reply).startswith("NOAUTH")
    assert _ok(stranger, b"auth", b"secret") is not None
    assert process_command(stranger, [b"get", b"k"]) is None


def test_multi_queues_and_flags_errors() -> None:
    _, c = _server()
    _ok(c, b"multi")
    assert process_command(c, [b"set", b"a", b"1"]) is QUEUED
    bad = process_command(c, [b"get"])  # arity error while queueing flags the transaction
    assert isinstance(bad, RedisError)
    reply = process_command(c, [b"exec"])
    assert isinstance(reply, RedisError) and str(reply).startswith("EXECABORT")
    assert process_command(c, [b"get", b"a"]) is None
