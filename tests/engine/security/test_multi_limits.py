"""The MULTI items: over maxmemory, a command inside MULTI is refused at queue time and flags
the transaction; EXEC then aborts; a queued denyoom command that finds the server over the
limit at EXEC gives "EXECABORT Transaction discarded because of: OOM ..." and ends MULTI; a
BUSY refusal while queuing flags the transaction and EXEC during a busy script aborts with
BUSY; ``#!lua`` scripts that may write are refused over the limit; FLUSHALL/FLUSHDB
invalidate WATCHes of keys that existed only (Redis 7.0.15's touchAllWatchedKeysInDb: a WATCH
on a missing key survives a flush, whatever its documentation suggests).

Every sequence runs on the engine and on redis-server and must give identical raw replies.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.differential.harness import RawClient
from tests.engine.security.conftest import Process, process, start

OOM = b"OOM command not allowed when used memory > 'maxmemory'."
EXECABORT = b"EXECABORT Transaction discarded because of previous errors."


@pytest.fixture(scope="module", params=["engine", pytest.param("redis", marks=pytest.mark.redis_server)])
def port(request: pytest.FixtureRequest) -> Iterator[int]:
    with start(str(request.param)) as p:
        yield p


@pytest.fixture
def c(port: int) -> Iterator[RawClient]:
    client = RawClient(port)
    client.call("CONFIG", "SET", "maxmemory", "0")
    client.call("FLUSHALL")
    yield client
    client.call("RESET")
    client.call("CONFIG", "SET", "maxmemory", "0")
    client.close()


def wire(r: object) -> tuple[str, object]:
    return (r.kind, r.value)  # type: ignore[attr-defined]


def test_commands_in_multi_refused_over_maxmemory(c: RawClient) -> None:
    c.call("SET", "a", "1")
    c.call("CONFIG", "SET", "maxmemory", "1")
    assert wire(c.call("MULTI")) == ("+", b"OK")
    assert wire(c.call("SET", "k", "v")) == ("-", OOM)
    assert wire(c.call("GET", "a")) == ("-", OOM)  # not only denyoom commands
    assert wire(c.call("EXEC")) == ("-", EXECABORT)
    assert wire(c.call("PING")) == ("+", b"PONG")  # MULTI state is gone


def test_exec_over_maxmemory_aborts_with_the_reason(c: RawClient, port: int) -> None:
    other = RawClient(port)
    assert wire(c.call("MULTI")) == ("+", b"OK")
    assert wire(c.call("SET", "k", "v")) == ("+", b"QUEUED")
    other.call("CONFIG", "SET", "maxmemory", "1")
    assert wire(c.call("EXEC")) == ("-", b"EXECABORT Transaction discarded because of: " + OOM)
    assert wire(c.call("PING")) == ("+", b"PONG")
    assert wire(c.call("EXISTS", "k")) == (":", 0)
    other.close()


@pytest.mark.parametrize("script,refused", [
    ("#!lua\nreturn 1", True),
    ("#!lua\nreturn redis.call('get', 'a')", True),
    ("#!lua flags=no-writes\nreturn 1", False),
    ("#!lua flags=allow-oom\nreturn 1", False),
    ("return 1", False),  # no shebang: checked command by command
])
def test_shebang_scripts_that_may_write_get_oom(c: RawClient, script: str, refused: bool) -> None:
    c.call("SET", "a", "1")
    c.call("CONFIG", "SET", "maxmemory", "1")
    got = wire(c.call("EVAL", script, 0))
    assert got == (("-", OOM) if refused else (":", 1))


@pytest.mark.parametrize("flush", [("FLUSHALL",), ("FLUSHDB",)])
def test_flush_invalidates_watches_of_existing_keys_only(c: RawClient, flush: tuple[str, ...]) -> None:
    c.call("SET", "present", "1")
    c.call("WATCH", "present")
    c.call(*flush)
    c.call("MULTI")
    c.call("PING")
    assert c.call("EXEC").value is None  # aborted: the watched key existed
    c.call("WATCH", "missing")
    c.call(*flush)
    c.call("MULTI")
    c.call("PING")
    got = c.call("EXEC")
    assert got.kind == "*" and [wire(x) for x in got.value] == [("+", b"PONG")]


@pytest.fixture(scope="module", params=["engine", pytest.param("redis", marks=pytest.mark.redis_server)])
def busy_srv(request: pytest.FixtureRequest) -> Iterator[Process]:
    with process(str(request.param), busy_reply_threshold=100) as p:
        yield p


def test_busy_refusal_flags_the_transaction_and_exec_aborts(busy_srv: Process) -> None:
    queued = RawClient(busy_srv.port)
    runner = RawClient(busy_srv.port)
    killer = RawClient(busy_srv.port)
    assert wire(queued.call("MULTI")) == ("+", b"OK")
    assert wire(queued.call("SET", "k", "v")) == ("+", b"QUEUED")
    runner.send("EVAL", "while true do end", "0")
    time.sleep(0.4)
    busy = b"BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
    assert wire(queued.call("GET", "k")) == ("-", busy)
    assert wire(queued.call("EXEC")) == ("-", b"EXECABORT Transaction discarded because of: " + busy)
    assert wire(killer.call("SCRIPT", "KILL")) == ("+", b"OK")
    assert runner.read().kind == "-"
    assert wire(queued.call("EXISTS", "k")) == (":", 0)  # not in MULTI any more, nothing ran
    for cl in (queued, runner, killer):
        cl.close()
