"""Item 8 (memory): a script cannot grow the server without bound.

``load()`` with a reader that never ends grew the engine by 1 GB in 8 s.  The Lua VM now
counts its allocations against ``lua-max-memory`` (a cachelab extension, 512 MB by default;
redis-server has no such bound, so this runs on the engine only): the script fails with
"not enough memory", the memory is given back, and the next script runs.

Tolerance: with ``lua-max-memory 64mb`` the process may grow by at most 160 MB (the VM's
64 MB, the strings lupa hands to Python while they are built, and allocator slack); without the
bound it grows by gigabytes.  The script speed (item 8) is measured by
benchmarks/bench_scripts.py, side by side with redis-server; no timing is asserted here.
"""

from __future__ import annotations

import redis

from tests.engine.security.conftest import process

ENDLESS_LOAD = ("local s = string.rep('x', 1048576) "
                "local f = load(function() return s end) return 1")
GROWING_TABLE = "local t = {} local s = string.rep('y', 65536) for i = 1, 1e9 do t[i] = s .. i end return #t"


def test_endless_load_reader_is_bounded() -> None:
    with process("engine", lua_max_memory="64mb") as srv:
        c = redis.Redis(port=srv.port, socket_timeout=60)
        before = srv.rss_bytes()
        for script in (ENDLESS_LOAD, GROWING_TABLE):
            try:
                c.eval(script, 0)
                raise AssertionError("the script should have run out of Lua memory")
            except redis.ResponseError as e:
                assert "not enough memory" in str(e)
                assert "lua-max-memory" in str(e)
            grown = srv.rss_bytes() - before
            assert grown < 160 * 1024 * 1024, f"RSS grew by {grown >> 20} MB"
        assert c.eval("return #string.rep('z', 1000)", 0) == 1000  # the VM still works
        assert c.ping()


def test_limit_is_a_config_parameter() -> None:
    with process("engine") as srv:
        c = redis.Redis(port=srv.port)
        assert c.config_get("lua-max-memory") == {"lua-max-memory": str(512 * 1024 * 1024)}
        assert c.config_set("lua-max-memory", "8mb")
        try:
            c.eval("local t = {} for i = 1, 1e7 do t[i] = i .. 'x' end return 1", 0)
            raise AssertionError("8 MB should not hold ten million strings")
        except redis.ResponseError as e:
            assert "not enough memory" in str(e)
        assert c.config_set("lua-max-memory", "0")
        assert c.eval("local t = {} for i = 1, 1e5 do t[i] = i .. 'x' end return #t", 0) == 100000
