"""Item 4 and the Lua-reply items: the script sandbox and Lua -> RESP conversion, on the engine
and on redis-server 7.0 with identical expectations (raw RESP, so error codes are compared).

* ``getfenv``/``setfenv`` do not exist; ``collectgarbage``/``gcinfo`` do;
* no script can leave state for the next one (globals, library tables, metatables, the string
  metatable, the globals' metatable, loaded chunks);
* an error raised by a library function inside a coroutine reaches the script as a string
  (redis.call's as its error table), never as a host object;
* a metatable on a returned table is not run while the reply is built; a self-referencing
  table gives "reached lua stack limit" and the connection stays usable; ``unpack`` of 8000
  values; ``struct``, ``cjson.encode_keep_buffer``, ``cmsgpack.unpack_one/unpack_limit``,
  ``redis.acl_check_cmd``; ``redis.error_reply`` wording; SORT from a script sorts sets.
"""

from __future__ import annotations

import sys

import pytest

from tests.differential.harness import RawClient
from tests.engine.security.conftest import ev


@pytest.fixture(scope="module")
def c(lua_client: RawClient) -> RawClient:
    return lua_client


def nonexistent(name: str) -> str:
    return f"ERR user_script:1: Script attempted to access nonexistent global variable '{name}'"


@pytest.mark.parametrize("name", ["getfenv", "setfenv", "newproxy", "loadfile", "dofile", "print"])
def test_removed_globals(c: RawClient, name: str) -> None:
    kind, text = ev(c, f"return type({name})")  # type: ignore[misc]
    assert kind == "error" and text.startswith(nonexistent(name))


@pytest.mark.parametrize("name", ["collectgarbage", "gcinfo", "loadstring", "load", "unpack", "xpcall"])
def test_kept_globals(c: RawClient, name: str) -> None:
    assert ev(c, f"return type({name})") == b"function"


def test_collectgarbage_works(c: RawClient) -> None:
    assert ev(c, "collectgarbage('collect') return collectgarbage('count') > 0") == 1


ATTEMPTS = [
    "setfenv(0, {redis = {call = function() return 'pwned' end}})",
    "getfenv(0).string = {}",
    "_G.leak = 1",
    "leak = 1",
    "rawset(_G, 'leak', 1)",
    "setmetatable(_G, nil)",
    "getmetatable(_G).__index = function() return 'pwned' end",
    "string.leak = 1",
    "rawset(string, 'leak', 1)",
    "getmetatable('').__index = {leak = function() return 'pwned' end}",
    "getmetatable('').__index.leak = 1",
    "table.insert = nil",
    "loadstring('leak = 1')()",
    "redis.call = function() return 'pwned' end",
    "cjson.encode = nil",
    "struct.pack = nil",
    "coroutine.create = nil",
]


def test_no_script_leaves_state_for_the_next(c: RawClient) -> None:
    for attempt in ATTEMPTS:
        result = ev(c, attempt)
        assert isinstance(result, tuple) and result[0] == "error", attempt
    probe = ("return {type(rawget(_G, 'leak')), type(string.leak), type(('').leak), type(table.insert), "
             "redis.call('ping')['ok'], type(cjson.encode), type(struct.pack), type(coroutine.create)}")
    got = ev(c, probe)
    assert [x.value if hasattr(x, "value") else x for x in got] == [  # type: ignore[union-attr]
        b"nil", b"nil", b"nil", b"function", b"PONG", b"function", b"function", b"function"]


def test_getmetatable_of_globals_is_protected(c: RawClient) -> None:
    assert ev(c, "return type(getmetatable(_G))") == b"table"
    kind, text = ev(c, "getmetatable(_G).x = 1")  # type: ignore[misc]
    assert kind == "error" and "Attempt to modify a readonly table" in text


def test_library_error_in_coroutine_is_a_string(c: RawClient) -> None:
    script = ("local co = coroutine.create(function()\n\n bit.band({}) end) "
              "local ok, e = coroutine.resume(co) return {tostring(ok), type(e), e}")
    got = [x.value for x in ev(c, script)]  # type: ignore[attr-defined]
    assert got == [b"false", b"string", b"user_script:3: bad argument #1 to 'band' (number expected, got table)"]
    script = ("local co = coroutine.create(function() redis.call('nosuch') end) "
              "local ok, e = coroutine.resume(co) return {type(e), e}")
    got = ev(c, script)
    assert got[0].value == b"table"  # type: ignore[index]
    assert (got[1].kind, got[1].value) == ("-", b"ERR Unknown Redis command called from script")  # type: ignore[index]


def test_reply_does_not_run_metatables(c: RawClient) -> None:
    r = ev(c, "return setmetatable({1, 2}, {__index = function() error('ran') end})")
    assert [x.value for x in r] == [1, 2]  # type: ignore[attr-defined]
    assert ev(c, "return setmetatable({}, {__index = function(t, k) if k == 1 then return 'x' end end})") == ()
    assert ev(c, "return setmetatable({}, {__index = {err = 'not an error'}})") == ()


def test_self_referencing_table_keeps_the_connection(c: RawClient) -> None:
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 20000))
    r = c.call("EVAL", "local t = {} t[1] = t return t", 0)
    depth = 0
    while r.kind == "*":
        r = r.value[0]
        depth += 1
    assert (r.kind, r.value) == ("-", b"ERR reached lua stack limit")
    assert depth > 900  # Redis nests 7995 levels, the engine 1001: the limit differs, not the error
    assert c.call("PING").value == b"PONG"


def test_unpack_of_about_8000_values(c: RawClient) -> None:
    script = "return #{unpack((function() local t = {} for i = 1, 7990 do t[i] = i end return t end)())}"
    assert ev(c, script) == 7990  # LUAI_MAXCSTACK (8000) less the slots the call itself uses


@pytest.mark.parametrize("script,expected", [
    ("return redis.error_reply('')", ("error", "ERR ")),
    ("return redis.error_reply('x')", ("error", "ERR x")),
    ("return redis.error_reply('My Err')", ("error", "My Err")),
    ("return redis.error_reply('-WRONG kind')", ("error", "WRONG kind")),
])
def test_error_reply_wording(c: RawClient, script: str, expected: tuple[str, str]) -> None:
    assert ev(c, script) == expected


@pytest.mark.parametrize("script,expected", [
    ("return struct.pack('>I2', 258)", b"\x01\x02"),
    ("return struct.size('!4 b i')", 8),
    ("return {struct.unpack('<i', struct.pack('<i', -5))}", [-5, 5]),
    ("return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 1)}", [2, 2]),
    ("return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2, 1)}", [-1, 2, 3]),
    ("return redis.acl_check_cmd('get', 'k')", 1),
    ("return type(cjson.encode_keep_buffer)", b"function"),
])
def test_libraries_present(c: RawClient, script: str, expected: object) -> None:
    got = ev(c, script)
    if isinstance(got, tuple):
        got = [x.value for x in got]
    assert got == expected


def test_sort_from_a_script_sorts_sets(c: RawClient) -> None:
    c.call("DEL", "s")
    c.call("SADD", "s", "c", "a", "b", "10", "9")
    got = ev(c, "return redis.call('sort', 's', 'by', 'nosort')")
    assert [x.value for x in got] == [b"10", b"9", b"a", b"b", b"c"]  # type: ignore[attr-defined]
    got = ev(c, "return redis.call('sort', 's', 'by', 'nosort', 'desc')")
    assert [x.value for x in got] == [b"c", b"b", b"a", b"9", b"10"]  # type: ignore[attr-defined]


