"""Lua scripting on the engine through redis-py: Redis 7.0's Lua <-> RESP conversions, error
texts, the script cache, EVAL_RO, cjson and bit, the sandbox (escape attempts refused), BUSY
and SCRIPT KILL after busy-reply-threshold, and redis-py's own Lock and Script helpers.
The expected values were taken from redis-server 7.0.15 (tests/differential re-checks them)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis

from engine.server import EmbeddedServer


@pytest.fixture(scope="module")
def srv() -> Iterator[EmbeddedServer]:
    with EmbeddedServer() as s:
        yield s


@pytest.fixture
def r(srv: EmbeddedServer) -> Iterator[redis.Redis]:
    c = redis.Redis.from_url(srv.url, protocol=2)
    c.flushall()
    c.script_flush()
    yield c
    c.close()


LUA_TO_RESP = [
    ("return 1", 1),
    ("return 3.99", 3),
    ("return -3.5", -3),
    ("return 1e20", -9223372036854775808),
    ("return 2^53", 9007199254740992),
    ("return 'x'", b"x"),
    ("return true", 1),
    ("return false", None),
    ("return nil", None),
    ("return {1, 2.7, 'x', false, nil, 3}", [1, 2, b"x", None]),
    ("return {1, {2, {3}}}", [1, [2, [3]]]),
    ("local t = {}; t.x = 1; return t", []),
    ("return {'a', {}, 'b'}", [b"a", [], b"b"]),
    ("return {ok='fine'}", b"fine"),
    ("return redis.status_reply('FINE')", b"FINE"),
    ("return {double=3.5}", b"3.5"),
    ("return {map={a=1}}", [b"a", 1]),
    ("return {set={a=true}}", [b"a"]),
    ("return {big_number='123'}", b"123"),
    ("return redis.call('echo', 3.7)", b"3.7000000000000002"),
    ("return redis.call('echo', 10)", b"10"),
    ("return redis.call('get', 'nokey')", None),
    ("return type(redis.call('get', 'nokey'))", b"boolean"),
    ("return redis.call('ping')['ok']", b"PONG"),
    ("return redis.pcall('incr', 's')['err']", b"ERR value is not an integer or out of range"),
    ("return redis.call('mget', 'nokey', 's')", [None, b"v"]),
    ("redis.setresp(3); return type(redis.call('get', 'nokey'))", b"nil"),
    ("redis.setresp(3); redis.call('hset', 'h', 'f', 'v'); return redis.call('hgetall', 'h')['map']['f']", b"v"),
    ("redis.setresp(3); redis.call('sadd', 'st', 'm'); return tostring(redis.call('smembers', 'st')['set']['m'])", b"true"),
    ("return cjson.encode({1, 2, {a=1}})", b'[1,2,{"a":1}]'),
    ("return cjson.encode('a/b')", b'"a\\/b"'),
    ("return cjson.encode({a=1.5})", b'{"a":1.5}'),
    ("return cjson.decode('[1,2.5,null,\"x\"]')", [1, 2, None, b"x"]),
    ("return cjson.decode('{\"a\":[1,{}]}').a[1]", 1),
    ("return bit.tobit(4294967295)", -1),
    ("return bit.lshift(1, 31)", -2147483648),
    ("return bit.rshift(-1, 28)", 15),
    ("return bit.arshift(-256, 4)", -16),
    ("return bit.band(7, 3) + bit.bor(8, 1) + bit.bxor(5, 3)", 3 + 9 + 6),
    ("return bit.tohex(-1)", b"ffffffff"),
    ("return bit.tohex(255, -4)", b"00FF"),
    ("return redis.sha1hex('')", b"da39a3ee5e6b4b0d3255bfef95601890afd80709"),
    ("return redis.REDIS_VERSION", b"7.0.15"),
    ("return redis.LOG_NOTICE", 2),
    ("return _VERSION", b"Lua 5.1"),
    ("return loadstring('return 1')()", 1),
    ("return tostring(-0.0)", b"-0"),
]


@pytest.mark.parametrize(("script", "expected"), LUA_TO_RESP, ids=[s for s, _ in LUA_TO_RESP])
def test_conversions(r: redis.Redis, script: str, expected: Any) -> None:
    r.set("s", "v")
    assert r.eval(script, 0) == expected


def test_resp3_caller_gets_resp3_types(srv: EmbeddedServer) -> None:
    c = redis.Redis.from_url(srv.url, protocol=3)
    # Booleans follow the script's protocol (redis.setresp), the rest the caller's.
    assert c.eval("return true", 0) == 1 and c.eval("return false", 0) is None
    assert c.eval("redis.setresp(3); return true", 0) is True
    assert c.eval("redis.setresp(3); return false", 0) is False
    assert c.eval("return {double=2.5}", 0) == 2.5
    assert c.eval("return {map={a=1}}", 0) == {b"a": 1}
    assert set(c.eval("return {set={a=true}}", 0)) == {b"a"}
    c.close()


ERRORS = [
    ("a=1", "user_script:1: Attempt to modify a readonly table script: {sha}, on @user_script:1."),
    ("return x", "user_script:1: Script attempted to access nonexistent global variable 'x' script: {sha}, on @user_script:1."),
    ("return redis.call('nosuch')", "Unknown Redis command called from script script: {sha}, on @user_script:1."),
    ("return redis.call('get')", "Wrong number of args calling Redis command from script script: {sha}, on @user_script:1."),
    ("error('boom')", "user_script:1: boom script: {sha}, on @user_script:1."),
    ("\n\nreturn redis.call('incr', 's')", "value is not an integer or out of range script: {sha}, on @user_script:3."),
    ("return redis.call('subscribe', 'x')", "This Redis command is not allowed from script script: {sha}, on @user_script:1."),
    ("return redis.call()", "Please specify at least one argument for this redis lib call script: {sha}, on @user_script:1."),
    ("return redis.call('get', {})", "Lua redis lib command arguments must be strings or integers script: {sha}, on @user_script:1."),
    ("return redis.setresp(4)", "RESP version must be 2 or 3. script: {sha}, on @user_script:1."),
    ("return error({err='X custom'})", "X custom script: {sha}, on @user_script:1."),
    ("return redis.error_reply('My Err')", "My Err"),
    ("return {err='bad thing'}", "bad thing"),
    ("return redis.pcall('nosuch')", "Unknown Redis command called from script"),
    ("rawset(_G, 'x', 1) return 1", "Attempt to modify a readonly table script: {sha}, on @user_script:1."),
]


@pytest.mark.parametrize(("script", "message"), ERRORS, ids=[s for s, _ in ERRORS])
def test_error_texts(r: redis.Redis, script: str, message: str) -> None:
    import hashlib

    r.set("s", "v")
    sha = hashlib.sha1(script.encode()).hexdigest()
    with pytest.raises(redis.ResponseError) as info:
        r.eval(script, 0)
    assert str(info.value) == message.format(sha=sha)


def test_keys_argv_and_numkeys_errors(r: redis.Redis) -> None:
    assert r.eval("return {KEYS[1], ARGV[1], #KEYS, #ARGV}", 1, "k", "a") == [b"k", b"a", 1, 1]
    with pytest.raises(redis.ResponseError, match="^Number of keys can't be negative$"):
        r.eval("return 1", -1)
    with pytest.raises(redis.ResponseError, match="^Number of keys can't be greater than number of args$"):
        r.eval("return 1", 2, "a")
    with pytest.raises(redis.ResponseError, match="^value is not an integer or out of range$"):
        r.execute_command("EVAL", "return 1", "x")


def test_script_cache(r: redis.Redis) -> None:
    import hashlib

    sha = r.script_load("return ARGV[1]")
    assert sha == hashlib.sha1(b"return ARGV[1]").hexdigest()
    assert r.evalsha(sha, 0, "hi") == b"hi"
    assert r.evalsha(sha.upper(), 0, "up") == b"up"
    assert r.script_exists(sha, "f" * 40) == [True, False]
    with pytest.raises(redis.exceptions.NoScriptError, match="No matching script. Please use EVAL."):
        r.evalsha("f" * 40, 0)
    r.script_flush()
    assert r.script_exists(sha) == [False]
    with pytest.raises(redis.ResponseError, match="^SCRIPT FLUSH only support SYNC\\|ASYNC option$"):
        r.execute_command("SCRIPT", "FLUSH", "bad")
    with pytest.raises(redis.ResponseError, match="^NOTBUSY No scripts in execution right now.$"):
        r.script_kill()


def test_eval_caches_for_evalsha_and_register_script(r: redis.Redis) -> None:
    import hashlib

    body = "return redis.call('incrby', KEYS[1], ARGV[1])"
    assert r.eval(body, 1, "n", 5) == 5
    assert r.evalsha(hashlib.sha1(body.encode()).hexdigest(), 1, "n", 2) == 7
    script = r.register_script("return redis.call('get', KEYS[1])")
    assert script(keys=["n"]) == b"7"
    r.script_flush()
    assert script(keys=["n"]) == b"7"  # redis-py reloads after NOSCRIPT


def test_eval_ro_refuses_writes(r: redis.Redis) -> None:
    r.set("k", "v")
    assert r.eval_ro("return redis.call('get', KEYS[1])", 1, "k") == b"v"
    with pytest.raises(redis.ResponseError, match="^Write commands are not allowed from read-only scripts. script:"):
        r.eval_ro("return redis.call('set', 'k', 'x')", 0)
    assert r.get("k") == b"v"


def test_writes_reach_the_keyspace_and_watchers(r: redis.Redis, srv: EmbeddedServer) -> None:
    assert r.eval("redis.call('set', KEYS[1], ARGV[1]); return redis.call('get', KEYS[1])", 1, "a", "b") == b"b"
    assert r.get("a") == b"b"


SANDBOX = [
    "return os.execute('true')",
    "return io.open('/etc/passwd')",
    "return debug.getinfo(1)",
    "return python.eval('1')",
    "return require('os')",
    "return loadfile('/etc/passwd')",
    "return dofile('/etc/passwd')",
    "return newproxy(true)",
    "return print('x')",
    "return package.loaded",
    "_G.x = 1",
    "setmetatable(_G, nil); x = 1",
    "getmetatable('').__index.upper = nil",
    "getmetatable('').__index = nil",
    "setmetatable('', {})",
    "string.upper = nil",
    "redis.call = function() return 1 end",
    "rawset(string, 'upper', nil)",
    "getfenv(0).x = 1",
    "setfenv(0, {})",
    "getmetatable(_G).__index = nil",
    "setmetatable(getmetatable(_G), nil)",
    "local f = loadstring(string.dump(function() return 1 end)); return f()",
    ("local done = false; local f = load(function() if done then return nil end; done = true; "
     "return string.dump(function() return 1 end) end); return f()"),
    "cjson.encode = nil",
    "getmetatable(redis.call).__index = nil",
    "getmetatable(cjson.null).__call = nil",
    "return redis.call.__self__",
    "return redis.call['__self__']",
    "return bit.band.func",
]


@pytest.mark.parametrize("script", SANDBOX)
def test_sandbox_escape_attempts_fail(r: redis.Redis, script: str) -> None:
    with pytest.raises(redis.ResponseError):
        r.eval(script, 0)
    # The VM is unharmed: globals and libraries are intact for the next script.
    assert r.eval("return string.upper('ok') .. tostring(rawget(_G, 'x'))", 0) == b"OKnil"
    assert r.eval("return redis.call('ping')['ok'] .. cjson.encode({1})", 0) == b"PONG[1]"
    assert r.eval("return ('abc'):upper()", 0) == b"ABC"


def test_no_python_object_is_reachable(r: redis.Redis) -> None:
    for script in ("return type(python)", "return tostring(rawget(_G, 'python'))", "return type(cjson.null)"):
        try:
            out = r.eval(script, 0)
        except redis.ResponseError:
            continue
        assert out in (b"nil", b"userdata", b"nil")
    with pytest.raises(redis.ResponseError):
        r.eval("return cjson.null.__class__", 0)


def test_long_script_gets_busy_then_script_kill(srv: EmbeddedServer) -> None:
    a = redis.Redis.from_url(srv.url)
    b = redis.Redis.from_url(srv.url)
    b.config_set("busy-reply-threshold", 200)
    result: dict[str, str] = {}

    def run() -> None:
        try:
            a.eval("local i = 0 while true do i = i + 1 end", 0)
        except redis.ResponseError as e:
            result["a"] = str(e)

    t = threading.Thread(target=run)
    t.start()
    time.sleep(0.5)
    busy = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
    for cmd in (("PING",), ("GET", "x"), ("FUNCTION", "KILL")):
        with pytest.raises(redis.ResponseError) as info:
            b.execute_command(*cmd)
        assert str(info.value) == busy
    assert b.script_kill() is True
    t.join(5)
    assert result["a"].startswith("Script killed by user with SCRIPT KILL... script: ")
    assert b.ping() is True
    b.config_set("busy-reply-threshold", 5000)
    a.close()
    b.close()


def test_script_that_wrote_is_unkillable(srv: EmbeddedServer) -> None:
    a = redis.Redis.from_url(srv.url)
    b = redis.Redis.from_url(srv.url)
    b.config_set("busy-reply-threshold", 100)
    body = ("redis.call('set', 'w', '1') local t0 = tonumber(redis.call('time')[1]) * 1e6 + tonumber(redis.call('time')[2]) "
            "while true do local t = redis.call('time') if tonumber(t[1]) * 1e6 + tonumber(t[2]) - t0 > 600000 then break end end "
            "return 'done'")
    result: dict[str, Any] = {}
    t = threading.Thread(target=lambda: result.setdefault("a", a.eval(body, 0)))
    t.start()
    time.sleep(0.3)
    with pytest.raises(redis.ResponseError, match="^UNKILLABLE Sorry the script already executed write commands"):
        b.script_kill()
    t.join(5)
    assert result["a"] == b"done"
    b.config_set("busy-reply-threshold", 5000)
    a.close()
    b.close()


def test_redis_py_lock(r: redis.Redis) -> None:
    lock = r.lock("resource", timeout=5)
    assert lock.acquire(blocking=False)
    assert not r.lock("resource", timeout=5).acquire(blocking=False)
    assert lock.extend(5)
    assert 5000 < r.pttl("resource") <= 10000
    assert lock.reacquire()
    lock.release()
    assert r.get("resource") is None
    stolen = r.lock("resource", timeout=5)
    assert stolen.acquire(blocking=False)
    r.set("resource", "someone-else")
    with pytest.raises(redis.exceptions.LockNotOwnedError):
        stolen.release()  # the release script compares tokens
    assert r.get("resource") == b"someone-else"


def test_asyncio_eval(srv: EmbeddedServer) -> None:
    async def main() -> Any:
        c = aioredis.Redis.from_url(srv.url)
        out = await c.eval("return {KEYS[1], ARGV[1]}", 1, "k", "v")
        await c.aclose()
        return out

    assert asyncio.run(main()) == [b"k", b"v"]


def test_coroutines_work_and_cannot_hide_from_script_kill(srv: EmbeddedServer) -> None:
    a = redis.Redis.from_url(srv.url, protocol=2)
    b = redis.Redis.from_url(srv.url, protocol=2)
    assert a.eval("local f = coroutine.wrap(function(x) local y = coroutine.yield(x + 1) return y * 2 end) "
                  "return {f(1), f(5)}", 0) == [2, 10]
    b.config_set("busy-reply-threshold", 100)
    result: dict[str, str] = {}

    def run() -> None:
        try:
            a.eval("local co = coroutine.create(function() while true do end end) coroutine.resume(co) return 1", 0)
        except redis.ResponseError as e:
            result["a"] = str(e)

    t = threading.Thread(target=run)
    t.start()
    time.sleep(0.4)
    try:
        with pytest.raises(redis.ResponseError, match="^BUSY "):
            b.ping()
        assert b.script_kill() is True
    finally:
        t.join(5)
        b.config_set("busy-reply-threshold", 5000)
    assert result["a"].startswith("Script killed by user with SCRIPT KILL...")
    a.close()
    b.close()
