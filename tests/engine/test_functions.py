"""Redis 7 functions on the engine through redis-py: FUNCTION LOAD [REPLACE], LIST, DELETE,
FLUSH, STATS, FCALL / FCALL_RO with the no-writes flag, and the error texts of
redis-server 7.0.15 (re-checked by tests/differential/test_differential_scripts.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import redis
import redis.asyncio as aioredis

from engine.server import EmbeddedServer

LIB = """#!lua name=mylib
local function incr_by(keys, args)
  return redis.call('incrby', keys[1], args[1])
end
local function peek(keys, args)
  return redis.call('get', keys[1])
end
redis.register_function('incr_by', incr_by)
redis.register_function{function_name='peek', callback=peek, flags={'no-writes'}, description='read a key'}
"""


@pytest.fixture(scope="module")
def srv() -> Iterator[EmbeddedServer]:
    with EmbeddedServer() as s:
        yield s


@pytest.fixture
def r(srv: EmbeddedServer) -> Iterator[redis.Redis]:
    c = redis.Redis.from_url(srv.url, protocol=2)
    c.flushall()
    c.function_flush()
    yield c
    c.close()


def test_load_call_list_delete(r: redis.Redis) -> None:
    assert r.function_load(LIB) == b"mylib"
    assert r.fcall("incr_by", 1, "n", 5) == 5
    assert r.fcall_ro("peek", 1, "n") == b"5"
    assert r.fcall("peek", 1, "n") == b"5"
    listing = r.function_list()
    assert listing[0][:4] == [b"library_name", b"mylib", b"engine", b"LUA"]
    funcs = {f[1]: f for f in listing[0][5]}
    assert funcs[b"peek"] == [b"name", b"peek", b"description", b"read a key", b"flags", [b"no-writes"]]
    assert funcs[b"incr_by"] == [b"name", b"incr_by", b"description", None, b"flags", []]
    assert r.function_list(withcode=True)[0][-2:] == [b"library_code", LIB.encode()]
    assert r.function_list(library="my*") and r.function_list(library="other*") == []
    stats = r.function_stats()
    assert stats[0] == b"running_script" and stats[1] is None
    assert stats[3] == [b"LUA", [b"libraries_count", 1, b"functions_count", 2]]
    assert r.function_delete("mylib") is True
    with pytest.raises(redis.ResponseError, match="^Function not found$"):
        r.fcall("incr_by", 1, "n", 1)


def test_load_errors(r: redis.Redis) -> None:
    r.function_load(LIB)
    cases = [
        ("return 1", "Missing library metadata"),
        ("#!lua\nreturn 1", "Library name was not given"),
        ("#!lua name=x foo=bar\nreturn 1", "Invalid metadata value given: foo=bar"),
        ("#!lua name=l3\nreturn 1", "No functions registered"),
        (LIB, "Library 'mylib' already exists"),
        ("#!lua name=l7\nredis.register_function('peek', function() return 1 end)", "Function peek already exists"),
        ("#!lua name=l5\nredis.call('ping')",
         "Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'call'"),
    ]
    for code, message in cases:
        with pytest.raises(redis.ResponseError) as info:
            r.function_load(code)
        assert str(info.value) == message, code
    assert r.function_load(LIB, replace=True) == b"mylib"
    with pytest.raises(redis.ResponseError, match="^Library not found$"):
        r.function_delete("nolib")


def test_fcall_rules(r: redis.Redis) -> None:
    r.function_load(LIB)
    r.function_load("#!lua name=w\nredis.register_function{function_name='ro_writer', "
                    "callback=function() return redis.call('set', 'x', 'y') end, flags={'no-writes'}}\n"
                    "redis.register_function('boom', function() return error('oops') end)")
    with pytest.raises(redis.ResponseError, match="^Can not execute a script with write flag using \\*_ro command.$"):
        r.fcall_ro("incr_by", 1, "n", 1)
    with pytest.raises(redis.ResponseError,
                       match="^Write commands are not allowed from read-only scripts. script: ro_writer, on @user_function:2.$"):
        r.fcall("ro_writer", 0)
    with pytest.raises(redis.ResponseError, match="^user_function:3: oops script: boom, on @user_function:3.$"):
        r.fcall("boom", 0)
    with pytest.raises(redis.ResponseError, match="^Bad number of keys provided$"):
        r.execute_command("FCALL", "boom", "x")
    with pytest.raises(redis.ResponseError, match="^Number of keys can't be greater than number of args$"):
        r.execute_command("FCALL", "boom", "2", "a")


def test_functions_survive_script_flush(r: redis.Redis) -> None:
    r.function_load(LIB)
    r.script_flush()
    assert r.fcall("incr_by", 1, "n", 2) == 2


def test_asyncio_fcall(srv: EmbeddedServer) -> None:
    async def main() -> object:
        c = aioredis.Redis.from_url(srv.url)
        await c.function_load(LIB, replace=True)
        out = await c.fcall("incr_by", 1, "an", 3)
        await c.aclose()
        return out

    assert asyncio.run(main()) == 3


def test_busy_function_and_function_kill(srv: EmbeddedServer) -> None:
    import threading
    import time

    a = redis.Redis.from_url(srv.url, protocol=2)
    b = redis.Redis.from_url(srv.url, protocol=2)
    a.function_load("#!lua name=spin\nredis.register_function{function_name='spin', "
                    "callback=function() while true do end end, flags={'no-writes'}}", replace=True)
    b.config_set("busy-reply-threshold", 100)
    result: dict[str, str] = {}

    def run() -> None:
        try:
            a.fcall("spin", 0)
        except redis.ResponseError as e:
            result["a"] = str(e)

    t = threading.Thread(target=run)
    t.start()
    time.sleep(0.4)
    try:
        with pytest.raises(redis.ResponseError) as info:
            b.ping()
        assert str(info.value) == "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
        with pytest.raises(redis.ResponseError) as info:
            b.script_kill()
        assert str(info.value) == "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
        stats = b.function_stats()
        assert stats[1][:4] == [b"name", b"spin", b"command", [b"FCALL", b"spin", b"0"]]
        assert 300 <= stats[1][5] < 5000
        assert b.execute_command("FUNCTION", "KILL") == b"OK"
    finally:
        t.join(5)
        b.config_set("busy-reply-threshold", 5000)
    assert result["a"] == "Script killed by user with SCRIPT KILL... script: spin, on @user_function:2."
    a.close()
    b.close()
