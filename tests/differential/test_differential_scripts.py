"""Engine versus real redis-server 7.0: transactions, Lua scripts, functions, Pub/Sub.

Replies are compared as raw RESP (tests/differential/harness.py) in RESP2 and RESP3, so
error texts, the Lua <-> RESP conversions and EXEC's reply arrays must agree byte for byte.
WATCH, Pub/Sub and BUSY need a second connection per server; those tests drive two raw
clients on each side in lockstep and compare what each side's clients read."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator

import pytest

from engine.server import EmbeddedServer
from tests.differential.harness import RawClient, Reply, compare
from tests.support.redis_real import RealRedis

TRANSACTIONS = [
    ("multi",), ("set", "a", "1"), ("incr", "a"), ("lpush", "a", "x"), ("get", "a"), ("exec",),
    ("multi",), ("set", "b", "1"), ("nosuchcmd", "x"), ("get",), ("exec",), ("exists", "b"),
    ("exec",), ("discard",), ("multi",), ("multi",), ("watch", "a"), ("discard",),
    ("watch", "a"), ("multi",), ("get", "a"), ("exec",), ("unwatch",),
    ("multi",), ("blpop", "nolist", "1"), ("exec",),
    ("multi",), ("exec",),
]

SCRIPTS = [
    "a=1", "return x", "return redis.call('nosuch')", "return redis.call('get')", "error('boom')",
    "return redis.call('set','k','v')", "return {1,2.7,'x',false,nil,3}", "return redis.error_reply('My Err')",
    "return redis.pcall('incr','k')", "return {err='bad thing'}", "return os", "return loadstring",
    "return cjson.encode({1,2,{a=1}})", "return bit.tohex(255)", "return redis.call('incr','k')", "return string.dump",
    "return getmetatable('').__index", "return 3.99", "return tostring(print)", "local t = {} ; t[1]=1; t[3]=3 return t",
    "return redis.call('subscribe','x')", "return redis.call('eval','return 1','0')", "return debug",
    "return cjson.decode('[1,2.5,null,\"x\"]')", "return redis.status_reply('FINE')", "return {ok='x'}", "return require",
    "return dofile", "return _G.x", "rawset(_G, 'x', 1) return 1", "return bit.band(7,3)", "return {1, {2, {3}}}",
    "return redis.call('mget', 'nokey', 'k')", "return cjson.encode({})", "return cjson.encode({a=1.5})",
    "return redis.sha1hex('')", "return type(newproxy)", "return _VERSION", "return type(coroutine)",
    "return loadstring('return 1')()", "return redis.REDIS_VERSION", "redis.call('nosuch')", "return redis.pcall('nosuch')",
    "return redis.call('set', 'k')", "return redis.call()", "return redis.call({})", "return redis.call('get',{})",
    "return redis.call('hgetall','nk')", "return redis.call('ping')", "return redis.call('type','k')",
    "redis.setresp(3); return redis.call('hgetall','nk')", "redis.setresp(3); return redis.call('ping')",
    "return true", "return false", "return nil", "return 1e20", "return -3.5", "return {1e20, -0.5}",
    "redis.setresp(3); redis.call('hset','hh','f','v'); return redis.call('hgetall','hh')",
    "redis.setresp(3); return redis.call('smembers','nokeyset')", "return redis.setresp(4)",
    "return {double=3.5}", "return {map={a=1}}", "return {big_number='123'}",
    "redis.setresp(3); return redis.call('zscore','nz','a')",
    "redis.setresp(3); redis.call('zadd','zz',1.5,'a'); return redis.call('zscore','zz','a')",
    "return cjson.encode({1,nil,3})", "return cjson.encode('a/b')", "return cjson.encode(cjson.decode('{\"a\":1}'))",
    "return bit.tobit(4294967295)", "return bit.lshift(1, 31)", "return bit.rshift(-1, 28)", "return bit.arshift(-256, 4)",
    "return bit.bnot(0)", "return bit.tohex(-1)", "return bit.tohex(255, -4)", "print = nil", "string.x = 1 return 1",
    "redis.foo = 1", "return pcall(error, 'x')", "return redis.LOG_NOTICE", "return error({err='X custom'})",
    "return error('ERR custom')", "return {1, redis.error_reply('E1'), 2}", "return tostring(-0.0)", "return 2^53",
    "local t = {}; t.x = 1; return t", "return {'a', {}, 'b'}", "return redis.call('echo', 3.7)",
    "return redis.call('echo', true)", "\n\nreturn redis.call('incr', 'k')", "return {KEYS[1], ARGV[1], #KEYS}",
]

OTHER_SCRIPT_COMMANDS = [
    ("eval_ro", "return redis.call('set','k','v')", "0"), ("evalsha", "f" * 40, "0"), ("script", "load", "return 1"),
    ("evalsha", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "0"), ("evalsha", "E0E1F9FABFC9D4800C877A703B823AC0578FF8DB", "0"),
    ("eval", "return 1", "-1"), ("eval", "return 1", "2", "a"), ("eval", "return 1", "x"), ("evalsha", "abc", "0"),
    ("script", "exists", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "f" * 40), ("script", "flush", "async"),
    ("script", "flush", "bad"), ("script", "kill"), ("script", "exists", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db"),
    ("eval", "return redis.call('get', KEYS[1])", "1", "k"), ("eval", "return {KEYS[1], ARGV[1]}", "1", "k", "a"),
    ("eval", "return 1"), ("eval",),
    ("eval", "#!lua flags=no-writes\nreturn redis.call('set','a','b')", "0"),
    ("eval", "#!lua flags=no-writes\nreturn redis.call('get','a')", "0"), ("eval_ro", "#!lua\nreturn 1", "0"),
    ("eval", "#!lua\nreturn 1", "0"), ("eval", "#!lua flags=bogus\nreturn 1", "0"), ("eval", "#!python\nreturn 1", "0"),
    ("eval", "#!lua name=x\nreturn 1", "0"), ("eval", "#!lua flags=no-writes,allow-oom\nreturn 2", "0"),
    ("eval", "#!lua\nerror('x')", "0"), ("eval", "#!lua flags=\nreturn 3", "0"), ("eval", "return {", "0"),
    ("eval", "local ok, e = pcall(redis.call, 'nosuch'); return e", "0"),
    ("eval", "local ok, e = pcall(redis.call, 'incr', 'k'); return {ok and 1 or 0, e}", "0"),
]

FUNCTIONS = [
    ("function", "flush"), ("fcall", "nofn", "0"), ("function", "list"), ("function", "load", "return 1"),
    ("function", "load", "#!lua name=l1\nredis.register_function('f1', function(k, a) return #k end)"),
    ("fcall", "f1", "1", "x"),
    ("function", "load", "#!lua name=l1\nredis.register_function('f1', function(k, a) return 1 end)"),
    ("function", "list"), ("function", "list", "withcode"), ("function", "list", "libraryname", "l*"),
    ("function", "delete", "nolib"), ("function", "delete", "l1"),
    ("function", "load", "#!lua name=l2\nredis.register_function{function_name='f2', callback=function(k, a) "
                         "return redis.call('set','x','y') end, flags={'no-writes'}}"),
    ("fcall_ro", "f2", "0"), ("fcall", "f2", "0"), ("function", "load", "#!lua\nreturn 1"),
    ("function", "load", "#!lua name=l3\nreturn 1"),
    ("function", "load", "#!lua name=l4\nredis.register_function('f4', function() return redis.call('get', 'x') end)"),
    ("fcall_ro", "f4", "0"), ("function", "load", "#!lua name=l5\nredis.call('ping')"),
    ("function", "load", "#!lua name=l6 foo=bar\nreturn 1"),
    ("function", "load", "#!lua name=l7\nredis.register_function('f2', function() return 1 end)"),
    ("function", "stats"),
    ("function", "load", "#!lua name=l9\nredis.register_function('fe', function() return error('oops') end)"),
    ("fcall", "fe", "0"),
    ("function", "load", "#!lua name=l10\nredis.register_function('fw', function() x = 1 end)"), ("fcall", "fw", "0"),
    ("fcall", "fe", "x"), ("fcall", "fe", "2", "a"), ("function", "flush"), ("function", "stats"),
]


def test_transactions(raw_pair: tuple[RawClient, RawClient]) -> None:
    compare(*raw_pair, TRANSACTIONS)


def test_scripts(raw_pair: tuple[RawClient, RawClient]) -> None:
    compare(*raw_pair, [("script", "flush")] + [("eval", s, "0") for s in SCRIPTS])
    compare(*raw_pair, [("eval", "return {KEYS[1], ARGV[1], #KEYS}", "1", "key", "arg")] + OTHER_SCRIPT_COMMANDS)


def test_functions(raw_pair: tuple[RawClient, RawClient]) -> None:
    compare(*raw_pair, FUNCTIONS)


@pytest.fixture
def quad(engine_shared: EmbeddedServer, redis_real_shared: RealRedis) -> Iterator[list[tuple[RawClient, RawClient]]]:
    """Two raw clients on each server: [(engine1, redis1), (engine2, redis2)]."""
    e1, e2 = RawClient(engine_shared.port), RawClient(engine_shared.port)
    r1, r2 = RawClient(redis_real_shared.port), RawClient(redis_real_shared.port)
    e1.call("flushall")
    r1.call("flushall")
    yield [(e1, r1), (e2, r2)]
    for c in (e1, e2, r1, r2):
        c.close()


def _both(pair: tuple[RawClient, RawClient], *cmd: str) -> tuple[Reply, Reply]:
    return pair[0].call(*cmd), pair[1].call(*cmd)


def test_watch_across_clients(quad: list[tuple[RawClient, RawClient]]) -> None:
    one, two = quad
    steps = [
        (one, ("set", "w", "0")), (one, ("watch", "w")), (two, ("set", "w", "1")), (one, ("multi",)),
        (one, ("incr", "w")), (one, ("exec",)),
        (one, ("watch", "w")), (two, ("get", "w")), (one, ("multi",)), (one, ("incr", "w")), (one, ("exec",)),
        (one, ("watch", "w")), (two, ("flushall",)), (one, ("multi",)), (one, ("ping",)), (one, ("exec",)),
        (one, ("set", "w", "0")), (one, ("watch", "w")), (two, ("eval", "redis.call('incr', 'w')", "0")),
        (one, ("multi",)), (one, ("ping",)), (one, ("exec",)),
        (one, ("set", "z", "0", "px", "50")), (one, ("watch", "z")), (one, ("multi",)), (one, ("ping",)),
    ]
    for who, cmd in steps:
        a, b = _both(who, *cmd)
        assert a == b, (cmd, a, b)
    time.sleep(0.1)
    a, b = _both(one, "exec")
    assert a == b == Reply("nilarray", None)


@pytest.mark.parametrize("resp", [2, 3])
def test_pubsub_replies(engine_shared: EmbeddedServer, redis_real_shared: RealRedis, resp: int) -> None:
    def session(port: int) -> list[Reply]:
        sub, pub = RawClient(port, resp=resp), RawClient(port)
        out = [sub.call("subscribe", "ch1")]
        sub.send("subscribe", "ch2", "ch3")
        out += [sub.read(), sub.read()]
        out.append(sub.call("psubscribe", "ch*"))
        out.append(pub.call("pubsub", "numsub", "ch1", "none"))
        out.append(pub.call("pubsub", "numpat"))
        out.append(pub.call("publish", "ch1", "hello"))
        out += [sub.read(), sub.read()]
        out.append(sub.call("ping"))
        out.append(sub.call("get", "x"))
        sub.send("unsubscribe")
        out += [sub.read(), sub.read(), sub.read()]
        out.append(sub.call("punsubscribe", "nope"))
        out.append(sub.call("punsubscribe"))
        out.append(sub.call("unsubscribe"))
        out.append(sub.call("ssubscribe", "s1"))
        out.append(pub.call("spublish", "s1", "m"))
        out.append(sub.read())
        out.append(sub.call("sunsubscribe"))
        sub.close()
        pub.close()
        return out

    engine_side, redis_side = session(engine_shared.port), session(redis_real_shared.port)
    # Unsubscribe-all order follows each server's hash table: compare that triple's channel
    # names and counts as sets (the counts are 3, 2, 1 whatever the order).
    for side in (engine_side, redis_side):
        triple = side[11:14]
        side[11:14] = [Reply("set", (tuple(sorted(repr(r.value[1]) for r in triple)),
                                     tuple(sorted(repr(r.value[2]) for r in triple)), triple[0].kind))]
    assert engine_side == redis_side


def test_busy_and_script_kill(engine_shared: EmbeddedServer, redis_real_shared: RealRedis) -> None:
    def session(port: int) -> list[Reply]:
        a, b = RawClient(port), RawClient(port)
        b.call("config", "set", "busy-reply-threshold", "100")
        out: list[Reply] = []
        t = threading.Thread(target=lambda: out.append(a.call("eval", "while true do end", "0")))
        t.start()
        time.sleep(0.4)
        replies = [b.call("ping"), b.call("function", "kill"), b.call("script", "kill")]
        t.join(10)
        replies += out + [b.call("ping"), b.call("script", "kill")]
        b.call("config", "set", "busy-reply-threshold", "5000")
        a.close()
        b.close()
        return replies

    assert session(engine_shared.port) == session(redis_real_shared.port)


CMSGPACK = [
    "return cmsgpack.pack({1,2,3})", "return cmsgpack.pack({a=1})", "return cmsgpack.pack(1.5, 'x', true)",
    "return cmsgpack.pack(0.1)", "return cmsgpack.pack(-1, 300, 70000, 2^40)",
    "return {cmsgpack.unpack(cmsgpack.pack({1,{2}}, 's'))}", "return cmsgpack.pack({})", "return cmsgpack.pack(nil)",
    "return cmsgpack.unpack('\\192')", "return cmsgpack.pack({1,nil,3})",
]


def test_cmsgpack(raw_pair: tuple[RawClient, RawClient]) -> None:
    pytest.importorskip("msgpack", reason="the engine offers cmsgpack only when msgpack is installed")
    compare(*raw_pair, [("eval", s, "0") for s in CMSGPACK])


def test_scripts_are_cached_even_when_refused(raw_pair: tuple[RawClient, RawClient]) -> None:
    """Found by the differential fuzz: EVAL compiles and caches a script before it checks the
    script's flags, so a ``#!lua`` script refused by EVAL_RO, or one failing at run time, is in
    the cache afterwards; one that does not compile is not."""
    write = "#!lua\nreturn redis.call('DEL', KEYS[1])"
    boom = "error('boom')"
    bad = "return ("
    shas = [hashlib.sha1(s.encode()).hexdigest() for s in (write, boom, bad)]
    compare(*raw_pair, [
        ("script", "flush"), ("eval_ro", write, "1", "k"), ("script", "exists", *shas),
        ("eval", boom, "0"), ("eval", bad, "0"), ("script", "exists", *shas),
        ("evalsha_ro", shas[0], "1", "k"), ("evalsha", shas[1], "0"), ("script", "flush"),
    ])
