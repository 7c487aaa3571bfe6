"""Item 8 (script speed): the engine runs scripts on LuaJIT 2.1 with its compiler off
(engine/scripting_vm.py), whose string interning rehashes densely when a hash chain grows, so
strings that differ only in a few bytes no longer make interning quadratic.  Speed itself is
measured by benchmarks/bench_scripts.py beside redis-server; these tests pin what the switch
must not change: the VM looks like Redis's Lua 5.1 to a script, on the engine and on
redis-server 7.0 with identical expectations.

* LuaJIT's additions (``jit``, ``table.move``, ``coroutine.isyieldable``) are not there;
  Redis's 5.1 compatibility functions (``math.mod``, ``string.gfind``, ``table.setn``) are;
* a library function called in a tail position still reports the script's line and its own
  name ("user_script:1: bad argument #1 to 'rep'"), as PUC Lua does (LuaJIT drops the
  caller's frame in a tail call; engine/scripting_tailcall.py keeps it);
* a script's own tail recursion is still a proper tail call (a million levels deep);
* the interning of colliding strings is dense on collision (``jit.security('strhash')``).
"""

from __future__ import annotations

import hashlib

import pytest

from engine.scripting_tailcall import SELECT_LOCAL, keep_caller_frames
from engine.scripting_vm import lua_vm
from tests.differential.harness import RawClient
from tests.engine.security.conftest import ev


def script_error(script: str, text: str, line: int = 1) -> tuple[str, str]:
    """The reply Redis 7.0 gives a script that raised ``text`` at ``line``."""
    sha = hashlib.sha1(script.encode()).hexdigest()
    return ("error", f"{text} script: {sha}, on @user_script:{line}.")


@pytest.mark.parametrize("name", ["jit", "getfenv", "setfenv", "newproxy"])
def test_luajit_globals_are_absent(lua_client: RawClient, name: str) -> None:
    script = f"return {name}"
    assert ev(lua_client, script) == script_error(
        script, f"ERR user_script:1: Script attempted to access nonexistent global variable '{name}'")


@pytest.mark.parametrize("field", ["table.move", "coroutine.isyieldable"])
def test_luajit_library_fields_are_absent(lua_client: RawClient, field: str) -> None:
    assert ev(lua_client, f"return type({field})") == b"nil"


def test_lua51_compatibility_functions(lua_client: RawClient) -> None:
    assert ev(lua_client, "return math.mod(7, 3) + math.mod(-7, 3) * 10") == -9
    assert ev(lua_client, "local out = {} for w in string.gfind('a b c', '%a') do out[#out + 1] = w end "
                 "return table.concat(out, ',')") == b"a,b,c"
    assert ev(lua_client, "return select(2, pcall(table.setn, {}, 1))") == b"'setn' is obsolete"
    assert ev(lua_client, "return _VERSION") == b"Lua 5.1"


@pytest.mark.parametrize(("script", "error"), [
    ("return error('x')", "ERR user_script:1: x"),
    ("return string.rep()", "ERR user_script:1: bad argument #1 to 'rep' (string expected, got no value)"),
    ("local s = 'x' return s:rep()", "ERR user_script:1: bad argument #1 to 'rep' (number expected, got no value)"),
    ("return string.format('%d', 'x')",
     "ERR user_script:1: bad argument #2 to 'format' (number expected, got string)"),
    ("return assert(false, 'boom')", "ERR user_script:1: boom"),
    ("return unpack({}, 1, 1e8)", "ERR user_script:1: too many results to unpack"),
    ("return tostring()", "ERR user_script:1: bad argument #1 to 'tostring' (value expected)"),
])
def test_library_tail_calls_keep_the_callers_line(lua_client: RawClient, script: str, error: str) -> None:
    assert ev(lua_client, script) == script_error(script, error)


def test_redis_call_in_a_tail_position_keeps_its_line(lua_client: RawClient) -> None:
    script = "\n\nif true then return redis.call('nosuch') end"
    assert ev(lua_client, script) == script_error(script, "ERR Unknown Redis command called from script", line=3)


def test_every_result_of_a_rewritten_return_is_kept(lua_client: RawClient) -> None:
    assert ev(lua_client, "local function f() return unpack({1, 2, 3}) end local a, b, c = f() "
                 "return table.concat({a, b, c}, ',')") == b"1,2,3"
    assert ev(lua_client, "local function f() return string.byte('abc', 1, 3) end "
                 "return table.concat({f()}, ',')") == b"97,98,99"


def test_own_tail_recursion_is_a_proper_tail_call(lua_client: RawClient) -> None:
    script = "local function f(n) if n == 0 then return 'done' end return f(n - 1) end return f(1000000)"
    assert ev(lua_client, script) == b"done"


def test_the_vm_interns_colliding_strings_densely() -> None:
    vm = lua_vm.LuaRuntime(encoding=None)
    assert vm.eval("jit.security('strhash')") == 1


@pytest.mark.parametrize(("body", "rewritten"), [
    ("return f(1)", False),                               # the script's own function: a tail call
    ("return redis.call('a') .. 'x'", False),             # not a call in tail position
    ("return", False),
    ("x = 'return redis.call(1)' -- return redis.call(2)", False),  # inside a string and a comment
    ("return redis.call('get', KEYS[1])", True),
    ("return cjson.decode[[{}]]", True),
    ("if a then return redis.pcall('x') else return 1 end", True),
    ("local s = 'a' return s:upper()", True),
])
def test_which_returns_are_rewritten(body: str, rewritten: bool) -> None:
    out = keep_caller_frames(body.encode())
    assert (SELECT_LOCAL.encode() in out) is rewritten
    assert out.count(b"\n") == body.count("\n")
